"""The bench's on-disk cache: maps and per-image figures keyed by what made them.

Layout: ``ROOT/<checkpoint sha256[:16]>/<image sha256[:2]>/<image sha256>/<name>.npz|json``,
where ``name`` spells the method (with a hash of non-default options), the target, the seed and,
for figures, a hash of the metric settings. Every file is written atomically
(:func:`synthcheck.fsio.atomic_write_bytes`), so a run killed half-way leaves only finished
entries, and a re-run reads them instead of computing them again.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...fsio import atomic_write_bytes


def short_hash(obj: Any) -> str:
    """A stable 10-hex-digit hash of a JSON-able object (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class Cache:
    """Maps (``.npz``: the map plus a JSON ``meta``) and figures (``.json``) under ``root``."""

    root: Path
    checkpoint_sha256: str
    hits: int = 0
    writes: int = 0

    def _path(self, image_sha256: str, name: str, suffix: str) -> Path:
        if not image_sha256 or any(c in name for c in "/\\"):
            raise ValueError(f"bad cache key {image_sha256!r} / {name!r}")
        return (Path(self.root) / self.checkpoint_sha256[:16] / image_sha256[:2] / image_sha256
                / f"{name}{suffix}")

    def load_map(self, image_sha256: str, name: str) -> tuple[np.ndarray, dict[str, Any]] | None:
        """(map, meta) or None when not cached (or unreadable: it is recomputed)."""
        path = self._path(image_sha256, name, ".npz")
        try:
            with np.load(path, allow_pickle=False) as z:
                out = np.array(z["map"], np.float32), json.loads(str(z["meta"]))
        except (OSError, KeyError, ValueError):
            return None
        self.hits += 1
        return out

    def save_map(self, image_sha256: str, name: str, attribution: np.ndarray, meta: dict[str, Any]) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, map=np.asarray(attribution, np.float32), meta=np.array(json.dumps(meta, default=str)))
        atomic_write_bytes(self._path(image_sha256, name, ".npz"), buf.getvalue())
        self.writes += 1

    def load_json(self, image_sha256: str, name: str) -> Any | None:
        path = self._path(image_sha256, name, ".json")
        try:
            out = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self.hits += 1
        return out

    def save_json(self, image_sha256: str, name: str, obj: Any) -> None:
        atomic_write_bytes(self._path(image_sha256, name, ".json"), json.dumps(obj).encode())
        self.writes += 1
