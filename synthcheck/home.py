"""Where SynthCheck keeps its state: cases, signing keys and control runs.

``SYNTHCHECK_HOME`` overrides the default ``~/.local/share/synthcheck`` (XDG data home when set),
so tests and several investigators on one machine can keep separate homes.
"""

from __future__ import annotations

import os
from pathlib import Path


def synthcheck_home(create: bool = True) -> Path:
    """The state folder (created with owner-only permissions on first use)."""
    env = os.environ.get("SYNTHCHECK_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        home = Path(base) / "synthcheck"
    if create:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home
