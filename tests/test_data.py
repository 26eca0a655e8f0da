"""Data loading: layout discovery, corrupt files, the decoded cache, splits and twins."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from synthcheck.data import dataset as data_mod
from synthcheck.data.dataset import (
    DataError,
    load_split,
    resolve_data_dir,
    train_val_split,
    twins_mask,
)
from tests.conftest import make_dataset


def test_labels_from_folder_names_case_insensitive(tmp_path):
    root = make_dataset(tmp_path / "d", n_per_class=3, splits=("train",))
    (root / "train" / "REAL").rename(root / "train" / "real")
    (root / "train" / "FAKE").rename(root / "train" / "Fake")
    split = load_split(root, "train", 32)
    assert split.images.shape == (6, 32, 32, 3) and split.images.dtype == np.uint8
    assert sorted(split.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    for path, label in zip(split.paths, split.labels, strict=True):
        assert ("fake" in path.lower()) == (label == 1)


def test_corrupt_files_are_skipped_and_counted(tmp_path, caplog):
    root = make_dataset(tmp_path / "d", n_per_class=3, splits=("train",))
    (root / "train" / "FAKE" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "train" / "REAL" / "empty.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        split = load_split(root, "train", 32)
    assert len(split) == 6 and split.n_skipped == 2
    assert "could not be read" in caplog.text


def test_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    root = make_dataset(tmp_path / "d", n_per_class=2, splits=("train",))
    first = load_split(root, "train", 32)
    calls = []
    monkeypatch.setattr(data_mod, "_decode_one", lambda *a: calls.append(a) or (None, "", "x"))
    second = load_split(root, "train", 32)  # served from the cache: no decoding
    assert not calls and second.fingerprint == first.fingerprint
    assert np.array_equal(np.asarray(second.images), first.images)
    (root / "train" / "REAL" / "0.png").unlink()  # folder changed -> cache key changes
    monkeypatch.undo()
    third = load_split(root, "train", 32)
    assert len(third) == 3 and third.fingerprint != first.fingerprint


def test_resize_to_model_size(tmp_path):
    root = make_dataset(tmp_path / "d", n_per_class=1, splits=("train",))
    assert load_split(root, "train", 64).images.shape[1:] == (64, 64, 3)


def test_data_dir_from_env_and_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    with pytest.raises(DataError, match="SYNTHCHECK_DATA"):
        resolve_data_dir(None)
    monkeypatch.setenv("SYNTHCHECK_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        resolve_data_dir(tmp_path / "missing")
    with pytest.raises(DataError, match="no 'train' folder"):
        load_split(tmp_path, "train")


def test_train_val_split_is_deterministic_and_stratified():
    labels = np.array([0] * 100 + [1] * 60)
    a_tr, a_va = train_val_split(labels, 0.1, seed=3)
    b_tr, b_va = train_val_split(labels, 0.1, seed=3)
    assert np.array_equal(a_va, b_va) and np.array_equal(a_tr, b_tr)
    assert set(a_tr).isdisjoint(a_va) and len(a_tr) + len(a_va) == 160
    assert (labels[a_va] == 0).sum() == 10 and (labels[a_va] == 1).sum() == 6
    c_tr, c_va = train_val_split(labels, 0.1, seed=4)
    assert not np.array_equal(a_va, c_va)


def test_twins_between_splits(tmp_path):
    root = make_dataset(tmp_path / "d", n_per_class=3)
    dup = (root / "train" / "FAKE" / "1.png").read_bytes()
    (root / "test" / "FAKE" / "copy.png").write_bytes(dup)
    train, test = load_split(root, "train"), load_split(root, "test")
    mask = twins_mask(test, train)
    assert mask.sum() == 1 and test.paths[int(np.flatnonzero(mask)[0])].endswith("copy.png")
