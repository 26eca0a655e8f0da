"""Which images the bench explains: N inputs, stratified by class, in-domain by default.

Inputs come from :func:`synthcheck.scan.sources.iter_items` (a REAL/FAKE folder, a plain
folder, a manifest, a ZIP: the scan's readers and refusal rules). An input's class is the name
of its nearest REAL or FAKE parent folder; a plain folder has none and is sampled without
strata. Candidates are shuffled per class with the seed and analysed in chunks by
:func:`synthcheck.analysis.iter_analyze` (decoding, the verdict at the threshold, the domain
check); out-of-domain inputs are skipped unless ``include_ood``, until each class has its share
(N // classes, the first classes taking the remainder). The sample is returned with the classes
interleaved (REAL, FAKE, REAL, ...), so its first k images are as balanced as the whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

LABELS = ("REAL", "FAKE")


@dataclass
class Sample:
    """One sampled image with the analysis's call on it (the explanation target)."""

    name: str
    path: str | None
    label: str | None  # "REAL" | "FAKE" from its folder, None for a plain folder
    sha256: str
    verdict: str  # the analysis's raw call at the threshold: the explanation target
    p_fake: float
    in_domain: bool
    array: np.ndarray = field(repr=False)  # uint8 S x S x 3 at the model's input size

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "label": self.label, "sha256": self.sha256,
                "verdict": self.verdict, "p_fake": round(self.p_fake, 6), "in_domain": self.in_domain}


@dataclass
class Sampling:
    """The sample and how it was drawn (for the report)."""

    samples: list[Sample]
    n_candidates: int
    n_checked: int  # candidates analysed to fill the strata
    n_out_of_domain_skipped: int
    n_unreadable: int
    n_excluded: int
    per_class: dict[str, int]
    stratified: bool

    def to_dict(self) -> dict[str, Any]:
        return {"n_candidates": self.n_candidates, "n_checked": self.n_checked,
                "n_out_of_domain_skipped": self.n_out_of_domain_skipped, "n_unreadable": self.n_unreadable,
                "n_excluded": self.n_excluded, "per_class": dict(self.per_class), "stratified": self.stratified}


def label_of(name: str) -> str | None:
    """REAL or FAKE from the nearest parent folder with that name (case-insensitive), else None."""
    for part in reversed(PurePath(name.split("!", 1)[0]).parent.parts):
        if part.upper() in LABELS:
            return part.upper()
    return None


def read_exclusions(path: str | os.PathLike | None) -> list[str]:
    """Relative paths to leave out: the first tab-separated column of each line of a text or TSV
    file (a header line and ``#`` comments skipped), e.g. CIFAKE's list of test images with a
    byte twin in train."""
    if not path:
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            first = line.rstrip("\n").split("\t", 1)[0].strip()
            if not first or first.startswith("#") or (i == 0 and "\t" in line and not label_of(first)):
                continue
            out.append(first.replace(os.sep, "/"))
    return out


def _excluded(name: str, exclusions: set[str]) -> bool:
    """Whether ``name`` ends with one of the excluded relative paths."""
    parts = name.replace(os.sep, "/").split("/")
    return any("/".join(parts[-k:]) in exclusions for k in range(1, min(len(parts), 6) + 1))


def _quotas(n: int, labels: Sequence[str]) -> dict[str, int]:
    base, extra = divmod(n, len(labels))
    return {lab: base + (i < extra) for i, lab in enumerate(labels)}


def sample_images(detector: Any, sources: Iterable[str | os.PathLike], n: int, *, seed: int = 0,
                  include_ood: bool = False, threshold: float | None = None,
                  exclude: Iterable[str] = (), chunk: int = 64,
                  progress: Callable[[int, int], None] | None = None) -> Sampling:
    """Draw ``n`` images (see the module docstring); fewer when the data runs out."""
    from ...analysis import iter_analyze
    from ...options import AnalysisOptions
    from ...scan.sources import iter_items

    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    exclusions = set(exclude)
    items, n_excluded = [], 0
    for item in iter_items(sources):
        if item.error:
            continue
        if exclusions and _excluded(item.name, exclusions):
            n_excluded += 1
            continue
        items.append(item)
    by_label: dict[str | None, list[Any]] = {}
    for item in items:
        by_label.setdefault(label_of(item.name), []).append(item)
    stratified = set(by_label) <= set(LABELS) and len(by_label) > 0
    labels = [lab for lab in LABELS if lab in by_label] if stratified else [None]
    pools = {lab: by_label.get(lab, []) if stratified else items for lab in labels}
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 25]))
    for lab in labels:
        pools[lab] = [pools[lab][i] for i in rng.permutation(len(pools[lab]))]
    quotas = _quotas(n, labels)
    opts = AnalysisOptions(threshold=threshold, seed=seed)
    chosen: dict[str | None, list[Sample]] = {lab: [] for lab in labels}
    checked = skipped = unreadable = 0
    for lab in labels:
        pool, pos = pools[lab], 0
        while len(chosen[lab]) < quotas[lab] and pos < len(pool):
            want = quotas[lab] - len(chosen[lab])
            batch = pool[pos:pos + max(chunk, 2 * want)]
            pos += len(batch)
            for item, a in zip(batch, iter_analyze([it.source() for it in batch], detector, opts,
                                                   names=[it.name for it in batch]), strict=True):
                checked += 1
                if a.error or a.loaded is None:
                    unreadable += 1
                    continue
                if not a.domain.in_domain and not include_ood:
                    skipped += 1
                    continue
                if len(chosen[lab]) < quotas[lab]:
                    chosen[lab].append(Sample(a.name, item.path, label_of(item.name), a.sha256 or "", a.verdict,
                                              float(a.p_fake), bool(a.domain.in_domain),
                                              np.ascontiguousarray(detector.to_array(a.loaded))))
            if progress:
                progress(sum(map(len, chosen.values())), n)
    # round-robin over the classes, so any prefix (e.g. the images the sanity check runs on) is balanced
    longest = max(len(v) for v in chosen.values())
    samples = [chosen[lab][i] for i in range(longest) for lab in labels if i < len(chosen[lab])]
    return Sampling(samples, len(items), checked, skipped, unreadable, n_excluded,
                    {str(lab): len(chosen[lab]) for lab in labels}, stratified)
