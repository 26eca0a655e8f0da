"""The dashboard's code (Streamlit), under the thin page files in ``pages/``.

One module per concern: :mod:`.app` (the router and its menu), :mod:`.model` (the shared model
and the sidebar's settings), :mod:`.cache` (analyses, maps and evaluations computed once for all
sessions), :mod:`.render` (an analysis on a page: headline, score bar, Grad-CAM card),
:mod:`.folders` (which server folders a page may read), :mod:`.jobs` (background folder scans)
and :mod:`.cases` / :mod:`.case_views` (the Cases workflow and its views). Only
:mod:`.folders`, :mod:`.jobs` and :mod:`.cases` are free of Streamlit: they are unit-tested
without it. None of them holds ML logic or words a verdict: that is :mod:`synthcheck.analysis`.
"""
