"""Compare methods: the explain-eval bench in the dashboard. Run it on the bundled control images
or on a server folder (only under the dashboard's folder rule), or load a saved run's JSON; see
the leaderboard with intervals and tie groups, and open any image's maps."""

import json

import pandas as pd
import streamlit as st

from synthcheck.dashboard import app, cache, folders, render
from synthcheck.dashboard import model as dashboard_model
from synthcheck.evaluation.explanations.report import (
    agreement_png,
    leaderboard_rows,
    rates_png,
    tie_group_lines,
)
from synthcheck.evaluation.selfcheck import SELFCHECK_DIR

app.frame()
st.title("Compare explanation methods")
st.caption("Each method explains every sampled image towards the analysis's verdict at the sidebar threshold. "
           "Means carry Student t 95% intervals, rates Wilson 95% intervals; methods in one tie group are not "
           "shown to differ (Wilcoxon signed-rank, Holm-corrected). Beats random: the map beats the 95th "
           "percentile of K random maps on both deletion and insertion, in log-odds.")

source = st.segmented_control("Source", ["Saved run (JSON)", "Control images", "Server folder"],
                              default="Saved run (JSON)", key="compare_source")


def _run(model, folder: str) -> None:
    """Button callback (runs before the page, so no rerun loses the click): the bench on
    ``folder`` with the settings below; the result, or why it stopped, goes to the session."""
    from synthcheck.evaluation.explanations import BenchConfig, MetricSettings, evaluate
    from synthcheck.home import synthcheck_home

    st.session_state.pop("compare_error", None)
    try:
        cfg = BenchConfig(tuple(st.session_state["compare_methods"]), seed=int(st.session_state["compare_seed"]),
                          settings=MetricSettings(n_random=int(st.session_state["compare_k"])),
                          sanity_images=int(st.session_state["compare_sanity"]))
        n = int(st.session_state["compare_n"])
        bar = st.progress(0.0, text="Explaining…")
        result, _ = evaluate(model.detector, folder, cfg, n=n, threshold=dashboard_model.threshold(),
                             cache_dir=synthcheck_home() / "explain-eval" / "cache",
                             progress=lambda done: bar.progress(min(1.0, done / n), text=f"Explained {done} of {n}"))
        bar.empty()
        st.session_state["compare_result"] = result
    except Exception as exc:  # SourceError, no usable image, a failing method: one message
        st.session_state["compare_error"] = f"The comparison stopped: {type(exc).__name__}: {exc}"


if source == "Saved run (JSON)":
    up = st.file_uploader("explain_eval.json from `synthcheck explain-eval`", type=["json"], key="compare_json")
    if up is not None:
        try:
            loaded = json.loads(up.getvalue())
            if not isinstance(loaded, dict) or not {"methods", "pairwise", "n_images"} <= set(loaded):
                raise ValueError("this is not an explain-eval result (no methods, pairwise, n_images)")
            st.session_state["compare_result"] = loaded
        except ValueError as exc:
            st.error(f"Cannot read this file: {exc}")
else:
    model = dashboard_model.require_model()
    ex, _ = dashboard_model.explain_module()
    folder = str(SELFCHECK_DIR)
    if source == "Server folder":
        roots = folders.allowed_roots()
        if not roots:
            st.info(folders.roots_sentence(roots))
            st.stop()
        st.caption(folders.roots_sentence(roots))
        typed = st.text_input("Folder path (REAL/FAKE folders, a plain folder or a manifest)", key="compare_folder",
                              placeholder=str(roots[0]))
        if not typed.strip():
            st.stop()
        try:
            folder = str(folders.allowed_folder(typed.strip(), roots, must_be_dir=False))
        except folders.FolderRefused as exc:  # the one folder policy, in its own words
            st.error(str(exc))
            st.stop()
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Images", 2, 2000, 8, key="compare_n")
    c2.number_input("Random maps K", 2, 100, 10, key="compare_k")
    c3.number_input("Sanity images", 0, 2000, 4, key="compare_sanity")
    c4.number_input("Seed", 0, 2**31 - 1, 0, key="compare_seed")
    st.multiselect("Methods", ex.list_methods(), ["gradcam", "gradient_shap", "integrated_gradients", "occlusion"],
                   key="compare_methods")
    st.button("Run the comparison", type="primary", key="compare_run", on_click=_run, args=(model, folder),
              disabled=not st.session_state.get("compare_methods"))
    if st.session_state.get("compare_error"):
        st.error(st.session_state["compare_error"])

result = st.session_state.get("compare_result")
if not result:
    st.info("Load a saved run or run the comparison.")
    st.stop()

st.subheader(f"Leaderboard: {result['n_images']} images, {len(result['methods'])} methods")
st.caption(f"Model {result['model'].get('name')} (sha256 {str(result['model'].get('sha256'))[:12]}…); "
           f"target: {result.get('target', '')}. Cells: mean or rate [95% interval] (tie group, 1 = best).")
st.dataframe(pd.DataFrame(leaderboard_rows(result)).set_index("method"))
with st.expander("Tie groups", expanded=True):
    st.markdown("\n".join(f"- {line}" for line in tie_group_lines(result)))
p1, p2 = st.columns(2)
p1.image(rates_png(result), caption="Beats-random rate per method (95% Wilson interval)")
p2.image(agreement_png(result), caption="Mean Spearman agreement between methods")
st.download_button("Download this run (JSON)", json.dumps(result, indent=1), "explain_eval.json",
                   "application/json", key="compare_download")

st.subheader("Open an image's maps")
images = result.get("images") or []
if not images:
    st.stop()
pick = st.selectbox("Image", range(len(images)), key="compare_image",
                    format_func=lambda i: f"#{i} {images[i]['name'].rsplit('/', 1)[-1]} "
                                          f"(label {images[i]['label']}, verdict {images[i]['verdict']})")
if not st.toggle("Show its maps", key="compare_show"):
    st.stop()
model = dashboard_model.require_model()
info = images[pick]
try:  # the saved path is read only under the same folder rule (or inside the bundled control images)
    path = folders.allowed_folder(info["path"] or "", [*folders.allowed_roots(), SELFCHECK_DIR],
                                  must_be_dir=False)
    analysis = cache.analyze_uploads(model, [(info["name"], path.read_bytes())])[0]
except (folders.FolderRefused, OSError) as exc:
    st.error(f"Cannot open this image here: {exc}")
    st.stop()
if not analysis.ok or analysis.sha256 != info["sha256"]:
    st.error("This file is not the image the run measured (missing, changed or unreadable).")
    st.stop()
ex, visual = dashboard_model.explain_module()
methods = tuple(result["methods"])
options = json.dumps(result.get("config", {}).get("method_options", {}), sort_keys=True)
report = cache.explain_cached(model, analysis.loaded, methods, info["verdict"], int(result["seed"]), options)
st.caption(f"Explaining {info['verdict']} (the run's target for this image); p_fake {info['p_fake']:.3f}.")
cards = render.cards(len(methods) + 1, width=160)
cards[0].image(visual.upscale_nearest(report.image, 5), caption="input")
for card, m in zip(cards[1:], methods, strict=True):
    e = report.explanations[m]
    card.image(visual.overlay(report.image, e.map, cmap=visual.cmap_for(e.signed), upscale=5), caption=m)
