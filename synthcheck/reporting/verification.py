"""The outcome of a verification, shared by signed reports and cases: one status, its counts, one wording.

Four states, so a partial check never reads like a forgery:

- ``verified``: the signature (or the audit log) holds and every listed image was supplied and matches;
- ``incomplete``: it holds and every supplied image matches, but some listed images were not supplied;
- ``failed``: it does not hold, the content was altered, or a supplied image has other bytes;
- ``unreadable``: the input cannot be checked at all (not JSON, nested too deeply, not a report,
  a file that cannot be read).

:func:`decide` picks the state from the problems and the counts; :func:`describe` words it. Every
face (CLI, API, dashboard) shows :func:`describe`'s sentence and maps the state, never re-derives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["verified", "incomplete", "failed", "unreadable"]
VERIFIED: Status = "verified"
INCOMPLETE: Status = "incomplete"
FAILED: Status = "failed"
UNREADABLE: Status = "unreadable"
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Coverage:
    """How many listed images were supplied, and how many of those match their recorded SHA-256."""

    n_listed: int = 0
    n_supplied: int = 0
    n_matching: int = 0
    n_mismatched: int = 0

    @property
    def n_missing(self) -> int:
        """Listed images for which no file was supplied."""
        return max(self.n_listed - self.n_supplied, 0)

    def to_dict(self) -> dict[str, int]:
        return {"n_listed": self.n_listed, "n_supplied": self.n_supplied, "n_matching": self.n_matching,
                "n_missing": self.n_missing, "n_mismatched": self.n_mismatched}


def decide(problems: Sequence[str], coverage: Coverage, *, unreadable: bool = False) -> Status:
    """The state: unreadable input first, then any problem or mismatch fails, then missing images."""
    if unreadable:
        return UNREADABLE
    if problems or coverage.n_mismatched:
        return FAILED
    if coverage.n_missing:
        return INCOMPLETE
    return VERIFIED


def _images(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe(status: Status, coverage: Coverage, problems: Sequence[str], *,
             holds: str = "signature valid", failed: str = "FAILED - ", noun: str = "image",
             missing: str = "not supplied") -> str:
    """One sentence for the state, e.g. ``signature valid; 12 of 33 images checked and match; 21
    not supplied``. ``holds`` says what held (a signature, an audit log), ``failed`` leads a
    failure, ``noun`` names what is counted and ``missing`` what befell the rest."""
    if status == UNREADABLE:
        return f"cannot be verified: {problems[0] if problems else 'the input cannot be read'}"
    if status == FAILED:
        first = problems[0] if problems else f"{_images(coverage.n_mismatched, noun)} with other bytes"
        return f"{failed}{max(len(problems), 1)} problem(s): {first}"
    c = coverage
    if status == INCOMPLETE:
        return (f"{holds}; {c.n_matching} of {_images(c.n_listed, noun)} checked and match; "
                f"{c.n_missing} {missing}")
    if c.n_listed == 0:
        return holds
    return f"{holds}; all {_images(c.n_listed, noun)} checked and match"
