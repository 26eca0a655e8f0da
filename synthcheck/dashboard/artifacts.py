"""Downloadable artifacts tied to what they were made from.

A page keeps an artifact (a report, an export) under a slot together with the key of its
inputs (image bytes, options, model); :func:`current` hands it back only while the page's inputs
still have that key, and drops it otherwise, so a download never outlives its inputs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import streamlit as st

PREFIX = "artifact:"


def inputs_key(*inputs: Any) -> str:
    """A digest of everything an artifact was made from (JSON-able values, or their str)."""
    text = json.dumps(inputs, default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def keep(slot: str, key: str, value: Any) -> None:
    """Hold ``value`` in this session as the artifact of ``slot`` made from inputs ``key``."""
    st.session_state[PREFIX + slot] = (key, value)


def current(slot: str, key: str) -> Any | None:
    """The artifact of ``slot`` if it was made from inputs ``key``; a stale one is dropped."""
    held = st.session_state.get(PREFIX + slot)
    if held is None:
        return None
    if held[0] != key:
        del st.session_state[PREFIX + slot]
        return None
    return held[1]
