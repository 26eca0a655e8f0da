"""CIFAKE (or any ``REAL``/``FAKE`` folder) decoded once into a cached uint8 array.

JPEG decoding is the bottleneck on a 2-core machine, so each split is decoded a single time
into ``images.npy`` (N x H x W x 3, uint8) under the cache directory, keyed by the folder's
file list, sizes and modification times; later runs memory-map it. Augmentation then runs on
whole batches of tensors (see :mod:`synthcheck.data.augment`), on the GPU when there is one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsio import atomic_directory
from ..imageio import IMAGE_EXTENSIONS, ImageError, load_image, to_model_array
from ..progress import Progress

log = logging.getLogger(__name__)

CLASS_NAMES: tuple[str, str] = ("REAL", "FAKE")  # label index = position; p_fake = p(label 1)
CACHE_VERSION = 1
# Data sets whose make-up is known, keyed by a word in the training folder or config that a
# checkpoint records (``data.root``, ``config.data``).
KNOWN_DATASETS = {
    "cifake": "CIFAKE: 32x32 CIFAR-10 photos (REAL) versus their Stable Diffusion 1.4 "
              "counterparts (FAKE)",
}


def known_dataset(meta: dict) -> str | None:
    """What the data set a checkpoint was trained on is, from its own metadata (None: unknown)."""
    data = meta.get("data") or {}
    source = f"{data.get('root') or ''} {(meta.get('config') or {}).get('data') or ''}".lower()
    return next((what for key, what in KNOWN_DATASETS.items() if key in source), None)


def default_cache_dir() -> Path:
    base = os.environ.get("SYNTHCHECK_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synthcheck"
    return Path(base) / "decoded"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data directory from the argument, else ``$SYNTHCHECK_DATA``; it must exist."""
    chosen = data_dir or os.environ.get("SYNTHCHECK_DATA")
    if not chosen:
        raise DataError("no data directory: pass --data DIR or set SYNTHCHECK_DATA")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {path} does not exist")
    return path


def find_split_dir(root: Path, split: str) -> Path:
    """``root/split`` matched case-insensitively; ``root`` itself if it holds REAL/FAKE."""
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_dir() and child.name.lower() == split.lower():
            return child
    if _class_dirs(root):
        return root
    raise DataError(f"{root} has no '{split}' folder (expected {root}/{split}/REAL and /FAKE)")


def _class_dirs(split_dir: Path) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for child in sorted(split_dir.iterdir()):
        if child.is_dir() and child.name.upper() in CLASS_NAMES:
            found[CLASS_NAMES.index(child.name.upper())] = child
    return found


def list_images(split_dir: Path) -> list[tuple[Path, int]]:
    """Every image file under ``REAL``/``FAKE`` (any case), sorted, with its label: the one
    folder walk (:func:`synthcheck.intake.walk_folder`: hidden entries skipped, links refused)."""
    from ..intake import walk_folder

    classes = _class_dirs(split_dir)
    if not classes:
        raise DataError(f"{split_dir} has neither a REAL nor a FAKE folder")
    items = []
    for label, folder in sorted(classes.items()):
        items += [(path, label) for path, _, why in walk_folder(folder)
                  if why is None and path.suffix.lower() in IMAGE_EXTENSIONS]
    items.sort(key=lambda t: (t[1], str(t[0])))
    return items


@dataclass
class DecodedSplit:
    """One split decoded to ``images`` (N x S x S x 3 uint8) with labels and provenance."""

    images: np.ndarray
    labels: np.ndarray  # int64, 0 = REAL, 1 = FAKE
    paths: list[str]  # relative to the split directory's parent (e.g. "test/FAKE/1.jpg")
    file_sha256: list[str]  # content hash of each source file (finds train/test twins)
    fingerprint: str  # sha256 of the decoded pixels and labels: the data a model saw
    n_skipped: int
    root: str

    def __len__(self) -> int:
        return len(self.labels)


def _listing_key(items: list[tuple[Path, int]], base: Path, image_size: int) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|size={image_size}|".encode())
    for path, label in items:
        st = path.stat()
        h.update(f"{path.relative_to(base)}|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _decode_one(path: Path, image_size: int) -> tuple[np.ndarray | None, str, str | None]:
    try:
        data = path.read_bytes()
        loaded = load_image(data, name=str(path))
        return to_model_array(loaded.image, image_size), loaded.sha256 or "", None
    except (ImageError, OSError) as exc:
        return None, "", str(exc)


def load_split(
    data_dir: str | os.PathLike | None,
    split: str,
    image_size: int = 32,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> DecodedSplit:
    """Decode ``data_dir/split/{REAL,FAKE}`` to a uint8 array, using the cache when valid.

    Unreadable files are skipped with one warning each and counted in ``n_skipped``.
    """
    root = resolve_data_dir(data_dir)
    split_dir = find_split_dir(root, split)
    items = list_images(split_dir)
    if not items:
        raise DataError(f"{split_dir} holds no image files")
    base = split_dir.parent
    key = _listing_key(items, base, image_size)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    entry = cache / key
    if (entry / "meta.json").exists():
        try:
            return _read_cache(entry, root)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("decoded cache %s is unreadable (%s); decoding again", entry, exc)

    images = np.zeros((len(items), image_size, image_size, 3), dtype=np.uint8)
    keep = np.zeros(len(items), dtype=bool)
    hashes = [""] * len(items)
    n_workers = workers or min(32, (os.cpu_count() or 1) * 2)
    iterator = ThreadPoolExecutor(n_workers).map(
        lambda p: _decode_one(p, image_size), [p for p, _ in items], chunksize=256)
    bar = Progress(f"decoding {split}", len(items)) if progress else None
    for i, (arr, digest, err) in enumerate(iterator):
        if bar is not None and i % 256 == 0:
            bar(i)
        if arr is None:
            log.warning("skipping unreadable image: %s", err)
            continue
        images[i], keep[i], hashes[i] = arr, True, digest
    if bar is not None:
        bar(len(items))
        bar.close()
    n_skipped = int((~keep).sum())
    if n_skipped:
        log.warning("%d of %d images in %s could not be read and were skipped",
                    n_skipped, len(items), split_dir)
    images = images[keep]
    labels = np.array([lab for (_, lab), k in zip(items, keep, strict=True) if k], dtype=np.int64)
    paths = [str(p.relative_to(base)) for (p, _), k in zip(items, keep, strict=True) if k]
    hashes = [h for h, k in zip(hashes, keep, strict=True) if k]
    fp = hashlib.sha256(images.tobytes())
    fp.update(labels.tobytes())
    decoded = DecodedSplit(images, labels, paths, hashes, fp.hexdigest(), n_skipped, str(root))
    try:
        _write_cache(entry, decoded)
    except OSError as exc:  # a read-only cache must not stop training
        log.warning("could not write decoded cache to %s (%s)", entry, exc)
    return decoded


def _write_cache(entry: Path, d: DecodedSplit) -> None:
    with atomic_directory(entry) as tmp:
        np.save(tmp / "images.npy", d.images)
        np.save(tmp / "labels.npy", d.labels)
        meta = {"paths": d.paths, "file_sha256": d.file_sha256, "fingerprint": d.fingerprint,
                "n_skipped": d.n_skipped, "version": CACHE_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta))


def _read_cache(entry: Path, root: Path) -> DecodedSplit:
    meta = json.loads((entry / "meta.json").read_text())
    images = np.load(entry / "images.npy", mmap_mode="r")
    labels = np.load(entry / "labels.npy")
    if len(images) != len(labels) or len(labels) != len(meta["paths"]):
        raise ValueError("cache arrays disagree in length")
    return DecodedSplit(images, labels, meta["paths"], meta["file_sha256"], meta["fingerprint"],
                        meta["n_skipped"], str(root))


def train_val_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, class-stratified split of indices into (train, val)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be in [0, 1)")
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * val_fraction))
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))


def twins_mask(test: DecodedSplit, train: DecodedSplit) -> np.ndarray:
    """True for each test image whose file is byte-identical to some training file."""
    seen = set(train.file_sha256)
    return np.array([h in seen for h in test.file_sha256], dtype=bool)
