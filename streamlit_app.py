"""SynthCheck dashboard entrypoint: the router (run: ``streamlit run streamlit_app.py``).

Every page is listed in :mod:`synthcheck.dashboard.app` and run through ``st.navigation``; the
shared sidebar (menu, checkpoint, threshold, band edges) frames all pages. Pages are thin views
over the ``synthcheck`` package.
"""

from synthcheck.dashboard import app

app.run()
