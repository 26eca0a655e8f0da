"""Exceptions shared by every face; importing this module costs nothing (no torch)."""


class SynthCheckError(ValueError):
    """Base class: the message is one sentence meant for the user."""


class CheckpointError(SynthCheckError):
    """A file that is not a usable SynthCheck checkpoint; the message says why."""


class DataError(SynthCheckError, RuntimeError):
    """The data directory is missing or not laid out as ``SPLIT/REAL|FAKE``."""
