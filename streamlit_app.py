"""SynthCheck dashboard entrypoint: the router (run: ``streamlit run streamlit_app.py``).

Every page is listed explicitly; the shared sidebar (checkpoint, threshold, band edges) is
drawn here so it frames all pages. Pages are thin views over the ``synthcheck`` package.
"""

import streamlit as st

import ui_shared

st.set_page_config(page_title="SynthCheck", page_icon="🔎", layout="wide")

pages = [
    st.Page("pages/analyze.py", title="Analyze", icon=":material/image_search:", default=True),
    st.Page("pages/explain.py", title="Explain", icon=":material/insights:"),
    st.Page("pages/metrics.py", title="Metrics", icon=":material/monitoring:"),
    st.Page("pages/compare.py", title="Compare methods", icon=":material/leaderboard:"),
    st.Page("pages/batch.py", title="Batch triage", icon=":material/table_view:"),
    st.Page("pages/cases.py", title="Cases", icon=":material/folder_shared:"),
    st.Page("pages/forensics.py", title="Forensics", icon=":material/search:"),
    st.Page("pages/robustness.py", title="Robustness", icon=":material/shield:"),
    st.Page("pages/model_card.py", title="Model card", icon=":material/badge:"),
]

nav = st.navigation(pages)
ui_shared.sidebar()
nav.run()
