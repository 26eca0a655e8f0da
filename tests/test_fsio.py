"""The one atomic write (synthcheck.fsio) and the callers that go through it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from synthcheck import fsio


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_bytes_and_text_replace_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.bin"
    assert fsio.atomic_write_bytes(target, b"one") == target
    assert target.read_bytes() == b"one"
    fsio.atomic_write_text(target, "twø")
    assert target.read_text(encoding="utf-8") == "twø"
    assert _leftovers(target.parent) == []


def test_new_files_get_ordinary_permissions_or_the_given_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    plain = fsio.atomic_write_bytes(tmp_path / "plain", b"x")
    assert plain.stat().st_mode & 0o777 == 0o666 & ~umask
    frozen = fsio.atomic_write_bytes(tmp_path / "frozen", b"x", mode=0o444)
    assert frozen.stat().st_mode & 0o777 == 0o444


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "keep.json"
    target.write_text("old")

    def boom(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        fsio.atomic_write(target, boom)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_path_renames_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    with fsio.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.onnx.")
        tmp.write_bytes(b"graph")
        assert not target.exists()
    assert target.read_bytes() == b"graph"
    with pytest.raises(KeyError), fsio.atomic_path(target) as tmp:
        tmp.write_bytes(b"broken")
        raise KeyError
    assert target.read_bytes() == b"graph" and _leftovers(tmp_path) == []


def test_atomic_directory_swaps_a_whole_folder(tmp_path: Path) -> None:
    entry = tmp_path / "cache"
    with fsio.atomic_directory(entry) as tmp:
        (tmp / "a").write_text("1")
    with fsio.atomic_directory(entry) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in entry.iterdir()) == ["b"]
    with pytest.raises(ValueError), fsio.atomic_directory(entry) as tmp:
        (tmp / "c").write_text("3")
        raise ValueError
    assert sorted(p.name for p in entry.iterdir()) == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]


def _failing_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src, dst) -> None:
        raise OSError("rename refused")

    monkeypatch.setattr(fsio.os, "replace", refuse)


def test_checkpoint_save_goes_through_fsio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from synthcheck.checkpoint import atomic_torch_save

    path = tmp_path / "m.pt"
    atomic_torch_save({"w": torch.ones(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(2))
    _failing_replace(monkeypatch)
    with pytest.raises(OSError, match="rename refused"):
        atomic_torch_save({"w": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(2))
    assert _leftovers(tmp_path) == []


def test_selfcheck_latest_goes_through_fsio(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from synthcheck.evaluation.selfcheck import save_selfcheck

    latest = save_selfcheck({"ok": True, "details": []}, home=tmp_path)
    assert json.loads(latest.read_text())["ok"] is True
    _failing_replace(monkeypatch)
    with pytest.raises(OSError, match="rename refused"):
        save_selfcheck({"ok": False, "details": []}, home=tmp_path)
    assert json.loads(latest.read_text())["ok"] is True
    assert _leftovers(latest.parent) == []


def test_decoded_cache_goes_through_fsio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthcheck.data import dataset

    d = dataset.DecodedSplit(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1]), ["a", "b"],
                             ["x", "y"], "fp", 0, str(tmp_path))
    entry = tmp_path / "entry"
    dataset._write_cache(entry, d)
    assert (entry / "images.npy").is_file()
    assert json.loads((entry / "meta.json").read_text())["fingerprint"] == "fp"
    calls = []
    real = fsio.atomic_directory

    def spy(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(dataset, "atomic_directory", spy)
    dataset._write_cache(entry, d)
    assert calls == [entry]


def test_no_hand_rolled_atomic_writes_left() -> None:
    """``os.replace`` (the rename step) appears only in fsio among the modules this change owns."""
    root = Path(fsio.__file__).parent
    owned = ["checkpoint.py", "evaluation/selfcheck.py", "inference/onnx_backend.py", "data/dataset.py", "data/bank.py"]
    for rel in owned:
        assert "os.replace(" not in (root / rel).read_text(encoding="utf-8"), rel
