"""The dashboard's router: its pages, its menu and the sidebar that frames every page.

``streamlit_app.py`` calls :func:`run`: ``st.set_page_config``, ``st.navigation`` over the pages
listed here (the documented multipage API; the menu is drawn with ``st.page_link``, so the
config's ``client.showSidebarNavigation = false`` hides Streamlit's own list), the shared
sidebar, then the chosen page.

Why pages also call :func:`frame`: the page files live in ``pages/`` beside the entrypoint, and
Streamlit runs a server's first script run in its legacy "pages folder" mode until some session
has called ``st.navigation`` (``streamlit.runtime.scriptrunner.script_runner._mpa_v1``; AppTest
starts every run that way). A fresh server's first request for ``/metrics`` therefore runs
``pages/metrics.py`` on its own, without the router. :func:`frame` notices that (the router did
not run in this script run), runs the router in its place (``st.navigation`` ends the legacy
mode for every session, as the API reference says, and its page runs this file again, framed)
and then stops the unframed run. The same script run, no rerun: no click is lost, and every
widget keeps the identity it has under the router; no private attribute is touched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from .model import forget_model_caption, sidebar


@dataclass(frozen=True)
class PageSpec:
    """One page of the dashboard: its file (repository-relative), title and icon."""

    path: str
    title: str
    icon: str


PAGES = (
    PageSpec("pages/analyze.py", "Analyze", ":material/image_search:"),
    PageSpec("pages/explain.py", "Explain", ":material/insights:"),
    PageSpec("pages/metrics.py", "Metrics", ":material/monitoring:"),
    PageSpec("pages/compare.py", "Compare methods", ":material/leaderboard:"),
    PageSpec("pages/batch.py", "Batch triage", ":material/table_view:"),
    PageSpec("pages/cases.py", "Cases", ":material/folder_shared:"),
    PageSpec("pages/forensics.py", "Forensics", ":material/search:"),
    PageSpec("pages/robustness.py", "Robustness", ":material/shield:"),
    PageSpec("pages/model_card.py", "Model card", ":material/badge:"),
)
_RUN = threading.local()  # set while the router runs a page in this script thread


def _navigation() -> st.navigation:
    """``st.navigation`` over :data:`PAGES` (the first is the default), without Streamlit's own
    list: the sidebar menu is ours."""
    from .model import ROOT

    pages = [st.Page(str(ROOT / p.path), title=p.title, icon=p.icon, default=i == 0)
             for i, p in enumerate(PAGES)]
    return st.navigation(pages, position="hidden")


def _menu() -> None:
    """The menu in the sidebar: one ``st.page_link`` per page."""
    from .model import ROOT

    with st.sidebar:
        for p in PAGES:
            st.page_link(str(ROOT / p.path), label=p.title, icon=p.icon)
        st.divider()


def run() -> None:
    """The entrypoint's whole work: page config, navigation, the menu and the shared settings
    in the sidebar, then the page. Nothing here loads the model: the page's first elements
    paint before it has loaded (the sidebar's model caption is filled once a page asks for it)."""
    st.set_page_config(page_title="SynthCheck", page_icon="🔎", layout="wide")
    page = _navigation()
    _menu()
    sidebar()
    _RUN.routed = True
    try:
        page.run()
    finally:
        _RUN.routed = False
        forget_model_caption()


def frame() -> None:
    """Called first by every page: when the router did not run this page (a fresh server's
    first deep link), run the router here and stop (see the module's docstring)."""
    if getattr(_RUN, "routed", False):
        return
    run()
    st.stop()
