"""Which folders on the server a dashboard page may read: one rule, for every page.

The rule: a page reads a server folder (or a file in one) only when it lies inside one of the
folders named in ``SYNTHCHECK_SCAN_ROOTS`` (separated by ``os.pathsep``) or inside the data
folder ``SYNTHCHECK_DATA``, after symbolic links and ``..`` are resolved. With neither set, no
page reads any server folder. Metrics, Robustness, Batch, Cases and Explain all ask
:func:`allowed_folder`; a refusal is one sentence that names the variables that would allow it.

Free of Streamlit: unit-tested on its own (``tests/test_folders.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

SCAN_ROOTS_VAR = "SYNTHCHECK_SCAN_ROOTS"
DATA_VAR = "SYNTHCHECK_DATA"
HOW_TO_ALLOW = (f"set {SCAN_ROOTS_VAR} to the folders the dashboard may read (separated by "
                f"'{os.pathsep}'), or {DATA_VAR} to one data folder, and restart the dashboard")
READING_OFF = f"Reading folders on the server is off: to turn it on, {HOW_TO_ALLOW}."


class FolderRefused(ValueError):
    """A server folder the policy does not allow (or that is not there); one sentence."""


def allowed_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    """The folders pages may read: ``$SYNTHCHECK_SCAN_ROOTS`` then ``$SYNTHCHECK_DATA``,
    resolved, without repeats. Empty: no server folder may be read."""
    env = os.environ if env is None else env
    raw = [r for r in env.get(SCAN_ROOTS_VAR, "").split(os.pathsep) if r.strip()]
    if env.get(DATA_VAR, "").strip():
        raw.append(env[DATA_VAR])
    roots: list[Path] = []
    for r in raw:
        resolved = Path(r.strip()).expanduser().resolve()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def roots_sentence(roots: Sequence[Path] | None = None) -> str:
    """What pages may read, in one sentence (shown beside every folder input)."""
    roots = allowed_roots() if roots is None else roots
    if not roots:
        return READING_OFF
    return ("This server may read folders under " + ", ".join(f"`{r}`" for r in roots)
            + f" (set by {SCAN_ROOTS_VAR} and {DATA_VAR}).")


def allowed_folder(path: str | os.PathLike, roots: Sequence[str | os.PathLike] | None = None, *,
                   must_be_dir: bool = True) -> Path:
    """``path`` resolved, if the policy allows it; :class:`FolderRefused` otherwise.

    ``roots`` None: :func:`allowed_roots` from the environment. ``must_be_dir``: also refuse a
    path that is not an existing folder.
    """
    text = str(path).strip()
    if not text:
        raise FolderRefused("No folder given.")
    roots = allowed_roots() if roots is None else [Path(r).expanduser().resolve() for r in roots]
    if not roots:
        raise FolderRefused(READING_OFF)
    resolved = Path(text).expanduser().resolve()
    if not any(resolved == r or r in resolved.parents for r in roots):
        raise FolderRefused(f"{text} is outside the folders this server may read "
                            f"({', '.join(str(r) for r in roots)}): to allow it, {HOW_TO_ALLOW}.")
    if must_be_dir and not resolved.is_dir():
        raise FolderRefused(f"{text} is not a folder.")
    return resolved


def default_data_folder(env: Mapping[str, str] | None = None) -> str:
    """The data folder pages offer first: ``$SYNTHCHECK_DATA`` ('' when unset)."""
    env = os.environ if env is None else env
    return env.get(DATA_VAR, "").strip()
