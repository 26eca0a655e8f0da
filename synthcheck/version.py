"""The code version written into checkpoints, case records, control runs and exports.

``code_version()`` is ``synthcheck.__version__`` plus ``git describe`` of the source tree when
the package runs from a checkout (``0.1.0+git.ab12cd3-dirty``), else the bare version. Computed
once per process; git is asked not to take optional locks, so it never writes the index.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from . import __version__

REPO_DIR = Path(__file__).resolve().parent.parent


def git_describe(repo: str | os.PathLike = REPO_DIR) -> str:
    """``git describe --always --dirty --tags`` of ``repo``, or "" when that is not a checkout."""
    if not (Path(repo) / ".git").exists():
        return ""
    try:
        out = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=5, check=False,
                             env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``synthcheck.__version__`` plus ``+git.<describe>`` when running from a git checkout."""
    described = git_describe()
    return f"{__version__}+git.{described}" if described else __version__
