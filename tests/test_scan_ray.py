"""The Ray engine gives the local engine's rows (a local Ray with two CPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from synthcheck.scan import read_rows, scan
from tests.test_scan import _images


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_rows_equal_local_rows(local_ray, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _images(src, 40, seed=7)
    (src / "broken.png").write_bytes(b"junk")
    local = scan([src], tmp_path / "local.parquet", workers=2, chunk_size=16)
    on_ray = scan([src], tmp_path / "ray.parquet", engine="ray", workers=2, chunk_size=16)
    assert on_ray.engine == "ray" and on_ray.counts == local.counts and on_ray.n_new == 41
    assert read_rows(tmp_path / "ray.parquet") == read_rows(tmp_path / "local.parquet")
    again = scan([src], tmp_path / "ray.parquet", engine="ray", workers=2)
    assert again.n_new == 0 and again.n_skipped == 41
