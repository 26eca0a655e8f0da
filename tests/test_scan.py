"""``synthcheck scan``: folders, ZIPs and manifests; bad-file rows; resume after ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from synthcheck.analysis import records
from synthcheck.inference.onnx_backend import OnnxDetector
from synthcheck.scan import ResultsError, SourceError, read_rows, scan, summary_path
from synthcheck.scan.sources import count_items, iter_items
from synthcheck.scan.writer import ROW_FIELDS, to_row
from tests.conftest import DEFAULT_CHECKPOINT, image_bytes, synthetic_image

REPO = Path(__file__).resolve().parents[1]


def _images(folder: Path, n: int, seed: int = 0, fmt: str = "PNG") -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"img{i:04d}.{fmt.lower()}"
        p.write_bytes(image_bytes(synthetic_image(i % 2, rng), fmt))
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A folder (nested, with a bad file and a text file), a ZIP and two manifests."""
    root = tmp_path_factory.mktemp("scan")
    _images(root / "folder" / "a", 6, seed=1)
    _images(root / "folder" / "a" / "deep", 4, seed=2, fmt="JPEG")
    (root / "folder" / "a" / "broken.png").write_bytes(b"not an image at all")
    (root / "folder" / "notes.txt").write_text("hello")
    (root / "folder" / ".hidden.png").write_bytes(b"skipped quietly")
    rng = np.random.default_rng(3)
    with zipfile.ZipFile(root / "pack.zip", "w") as zf:
        for i in range(3):
            zf.writestr(f"in/z{i}.png", image_bytes(synthetic_image(i % 2, rng)))
        zf.writestr("../evil.png", image_bytes(synthetic_image(0, rng)))
    listed = _images(root / "listed", 3, seed=4)
    (root / "list.txt").write_text("# a comment\n\n" + "\n".join(f"listed/{p.name}" for p in listed[:2])
                                   + "\n", encoding="utf-8")
    (root / "list.csv").write_text("id,path\n1,listed/img0002.png\n2,listed/missing.png\n",
                                   encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    det = OnnxDetector.for_checkpoint(DEFAULT_CHECKPOINT)
    assert det is not None
    return det


def test_sources_enumerate_folders_zips_and_manifests(tree: Path) -> None:
    sources = [tree / "folder", tree / "pack.zip", tree / "list.txt", tree / "list.csv"]
    items = list(iter_items(sources))
    names = [Path(i.name).name for i in items]
    assert names.count("broken.png") == 1 and "notes.txt" in names and ".hidden.png" not in names
    assert sum(n.startswith("img") and n.endswith(".jpeg") for n in names) == 4  # recursive
    zipped = [i for i in items if "pack.zip!" in i.name]
    assert sorted(Path(i.name).name for i in zipped if i.error is None) == ["z0.png", "z1.png", "z2.png"]
    assert any("unsafe path" in (i.error or "") for i in zipped)  # the intake check on ../evil.png
    assert {"img0000.png", "img0001.png", "img0002.png", "missing.png"} <= set(names)
    missing = next(i for i in items if i.name.endswith("missing.png"))
    assert "no such file" in missing.error
    assert len({i.key for i in items}) == len(items)
    assert count_items(sources) == len(items)
    with pytest.raises(SourceError, match="no such file"):
        list(iter_items([tree / "nowhere"]))
    (tree / "nopath.csv").write_text("name\nx.png\n")
    with pytest.raises(SourceError, match="no 'path' column"):
        list(iter_items([tree / "nopath.csv"]))


def test_scan_rows_are_the_predict_records(tree: Path, tmp_path: Path, detector) -> None:
    out = tmp_path / "res.parquet"
    summary = scan([tree / "folder", tree / "pack.zip", tree / "list.txt"], out, workers=2,
                   chunk_size=4)
    rows = read_rows(out)
    assert [tuple(r) for r in rows[:1]] == [ROW_FIELDS]
    by_name = {r["path"]: r for r in rows}
    assert len(by_name) == len(rows) == 10 + 1 + 1 + 4 + 2  # images, broken, notes, zip (3+1), list
    broken = by_name[str((tree / "folder" / "a" / "broken.png").resolve())]
    assert broken["error"] and "not a recognised image" in broken["error"] and broken["conclusion"] is None
    files = sorted((tree / "folder").rglob("img*"))
    expected = records([str(p.resolve()) for p in files], detector)
    for rec in expected:
        assert by_name[rec["path"]] == to_row(by_name[rec["path"]]["key"], rec)
    assert all(r["conclusion"] in ("likely_real", "uncertain", "likely_synthetic", "cannot_assess")
               for r in rows if r["error"] is None)
    saved = json.loads(summary_path(out).read_text())
    assert saved["counts"] == summary.counts and summary.counts["n_images"] == len(rows)
    assert summary.counts["n_errors"] == sum(r["error"] is not None for r in rows) == 3
    assert not Path(str(out) + ".parts").exists()
    again = scan([tree / "folder", tree / "pack.zip", tree / "list.txt"], out, workers=1)
    assert again.n_new == 0 and again.n_skipped == len(rows) and read_rows(out) == rows


def test_jsonl_rows_equal_parquet_rows_and_new_files_are_added(tree: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _images(src, 5, seed=9)
    first = scan([src], tmp_path / "r.jsonl", workers=1)
    assert first.n_new == 5
    _images(src / "more", 2, seed=10)
    second = scan([src], tmp_path / "r.jsonl", workers=1)
    assert (second.n_new, second.n_skipped) == (2, 5)
    scan([src], tmp_path / "r.parquet", workers=1)
    key = lambda r: r["key"]  # noqa: E731
    jsonl = sorted(read_rows(tmp_path / "r.jsonl"), key=key)
    assert len(jsonl) == 7 and jsonl == sorted(read_rows(tmp_path / "r.parquet"), key=key)
    with pytest.raises(ResultsError, match=r"\.parquet or \.jsonl"):
        scan([src], tmp_path / "r.csv", workers=1)


def _cli(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "synthcheck", "scan", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, **kw)


def test_resume_after_kill_9_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    src = tmp_path / "many"
    _images(src, 300, seed=5)
    full, resumed = tmp_path / "full.jsonl", tmp_path / "resumed.jsonl"
    assert _cli([str(src), "--out", str(full), "--workers", "2", "--chunk-size", "8"]).wait(120) == 0
    parts = Path(str(resumed) + ".parts")
    proc = _cli([str(src), "--out", str(resumed), "--workers", "2", "--chunk-size", "8"],
                start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(parts.glob("part-*"))) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the scan and its workers, mid-run
    proc.wait(10)
    written = len(list(parts.glob("part-*")))
    assert proc.returncode == -signal.SIGKILL and not resumed.exists() and 6 <= written < 300 // 8
    out = _cli([str(src), "--out", str(resumed), "--workers", "2", "--chunk-size", "8", "--json"])
    stdout, _ = out.communicate(timeout=120)
    assert out.returncode == 0
    summary = json.loads(stdout)
    assert summary["n_skipped"] >= 6 * 8 and summary["n_new"] + summary["n_skipped"] == 300
    a, b = read_rows(full), read_rows(resumed)
    assert len(b) == len({r["key"] for r in b}) == 300  # nothing duplicated
    assert sorted(r["sha256"] for r in a) == sorted(r["sha256"] for r in b)  # nothing lost
    key = lambda r: r["key"]  # noqa: E731
    assert sorted(a, key=key) == sorted(b, key=key)


def test_cli_bad_source_is_one_sentence(tmp_path: Path) -> None:
    proc = _cli([str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.parquet")])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "no such file or folder" in err and "Traceback" not in err
    proc = _cli([str(tmp_path), "--out", str(tmp_path / "x.parquet"), "--workers", "0"])
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "worker count" in err


@pytest.mark.parametrize("ext", [".parquet", ".jsonl"])
def test_merge_after_a_crash_between_rename_and_clean_up_duplicates_nothing(tmp_path: Path, ext: str) -> None:
    """The parts outlived a finished merge (a crash before they were removed): merging again
    keeps every row of the results once and adds only the parts' new rows, in both formats."""
    from synthcheck.scan.writer import ResultStore, write_rows

    def rows(keys: list[str]) -> list[dict]:
        return [to_row(k, {"path": k, "conclusion": "likely_real", "p_fake": 0.1,
                           "domain_reasons": [], "provenance": []}) for k in keys]

    out = tmp_path / f"r{ext}"
    store = ResultStore(out)
    store.open()
    write_rows(rows(["a", "b"]), store.next_part(), store.fmt)
    write_rows(rows(["c"]), store.next_part(), store.fmt)
    store.finish()
    first = read_rows(out)
    store = ResultStore(out)  # the "crash": the same parts are back beside the results
    assert len(store.open()) == 3
    write_rows(rows(["a", "b"]), store.next_part(), store.fmt)
    write_rows(rows(["c", "d"]), store.next_part(), store.fmt)
    store.finish()
    merged = read_rows(out)
    assert [r["key"] for r in merged] == ["a", "b", "c", "d"]
    assert merged[:3] == first and merged[3]["path"] == "d"
    assert not Path(str(out) + ".parts").exists()


@pytest.mark.parametrize("ext", [".parquet", ".jsonl"])
def test_a_fresh_run_streams_its_parts_in_order_whatever_order_they_finish(tmp_path: Path, ext: str) -> None:
    """Parts committed out of order (two workers) still give the results in part order, and
    finishing a fresh run is a rename of what was streamed (the same rows as a merge)."""
    from synthcheck.scan.writer import ResultStore

    def rows(keys: list[str]) -> list[dict]:
        return [to_row(k, {"path": k, "conclusion": "uncertain", "p_fake": 0.5}) for k in keys]

    out = tmp_path / f"r{ext}"
    store = ResultStore(out)
    store.open()
    first, second, third = store.next_part(), store.next_part(), store.next_part()
    store.commit(rows(["c"]), third)
    store.commit(rows(["a"]), first)
    assert (out.parent / (out.name + ".parts") / ".results.tmp").exists()
    store.commit(rows(["b1", "b2"]), second)
    assert store.finish() == out
    assert [r["key"] for r in read_rows(out)] == ["a", "b1", "b2", "c"]
    assert not Path(str(out) + ".parts").exists()
