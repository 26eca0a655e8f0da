"""UTC timestamps in the one text form every record uses: ``2026-12-06T21:31:00Z``.

Reports, control runs, intake records and signatures use whole seconds; the audit log keeps
microseconds (its order and hash chain depend on them). One place, so no two faces write the
same instant two ways.
"""

from __future__ import annotations

import datetime as _dt


def utc_now(microseconds: bool = False) -> str:
    """Now in UTC: ``YYYY-MM-DDTHH:MM:SSZ``, or with ``.ffffff`` before the ``Z``."""
    now = _dt.datetime.now(_dt.timezone.utc)
    if microseconds:
        return now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_from_timestamp(ts: float) -> str:
    """A POSIX timestamp (e.g. a file's mtime) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
