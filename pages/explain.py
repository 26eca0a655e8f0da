"""Explain: each method's map with its colour bar, whether it beats a random map (in words and
deletion/insertion curves), timings, and how far the methods agree."""

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from synthcheck.dashboard import app, cache, folders, model, render
from synthcheck.explain.metrics import verdicts

app.frame()
st.title("Explain a verdict")
loaded_model = model.require_model()
det = loaded_model.detector
ex, visual = model.explain_module()

source = st.segmented_control("Image", ["Upload", "From a data folder"], default="Upload",
                              key="explain_source")
data: bytes | None = None
name = ""
if source == "From a data folder":
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    root = c1.text_input("Data folder", folders.default_data_folder(), key="explain_data")
    split = c2.selectbox("Split", ["test", "train"], key="explain_split")
    cls = c3.selectbox("Class", ["FAKE", "REAL"], key="explain_class")
    index = int(c4.number_input("Index", 0, 10**6, 0, key="explain_index"))
    if root.strip():
        try:
            files = cache.list_folder_images(root.strip(), split, cls)
            if not files:
                st.error(f"No {cls} images in {root}/{split}.")
            else:
                path = Path(files[index % len(files)])
                data, name = cache.read_folder_image(path), str(path)
                st.caption(f"{name} ({index % len(files) + 1} of {len(files)})")
        except folders.FolderRefused as exc:  # the one folder policy, in its own words
            st.error(str(exc))
        except Exception as exc:  # DataError, OSError
            st.error(f"Cannot read the data folder: {exc}")
    else:
        st.info("Enter a data folder (or set SYNTHCHECK_DATA).")
        st.caption(folders.roots_sentence())
else:
    up = st.file_uploader("Image", type=model.UPLOAD_TYPES, key="explain_file")
    if up is not None:
        data, name = up.getvalue(), up.name

with st.expander("Settings", expanded=False):
    s1, s2, s3, s4 = st.columns(4)
    target = s1.selectbox("Target class", ["predicted", "FAKE", "REAL"], key="explain_target",
                          help="'predicted' explains the model's raw call at the sidebar threshold.")
    seed = int(s2.number_input("Seed", 0, 2**31 - 1, 0, key="explain_seed"))
    shap_n = int(s3.slider("SHAP samples", 4, 128, 32, 4, key="explain_shap_n"))
    lime_n = int(s4.slider("LIME samples", 32, 1024, 256, 32, key="explain_lime_n"))
    methods = st.multiselect("Methods", ex.list_methods(), ["gradcam", "gradient_shap", "lime"],
                             key="explain_methods")

if data is None:
    st.info("Choose an image to explain.")
    st.stop()
if not methods:
    st.info("Choose at least one method.")
    st.stop()
analysis = cache.analyze_uploads(loaded_model, [(name, data)])[0]
if not analysis.ok:
    st.error(f"Cannot analyse this file: {analysis.error}")
    st.stop()
loaded = analysis.loaded
resolved = analysis.verdict if target == "predicted" else target
options = {"gradient_shap": {"n_samples": shap_n}, "kernel_shap": {"n_samples": shap_n * 4},
           "lime": {"num_samples": lime_n}}
options = {k: v for k, v in options.items() if k in methods}
try:
    report, computed_s = cache.explain_timed(loaded_model, loaded, tuple(methods), resolved, seed,
                                             json.dumps(options, sort_keys=True))
except Exception as exc:
    st.error(f"Explanation failed: {type(exc).__name__}: {exc}")
    st.stop()

render.headline(analysis)
if not analysis.score_reliable:
    st.caption("The maps below explain a score the model cannot be trusted on for this image.")
took = (f"computed in {computed_s:.2f} s" if computed_s is not None
        else "from cache (computed earlier for this image and settings)")
st.markdown(f"**{render.plain(Path(name).name)}** · explaining **{resolved}** · "
            f"{len(methods)} method{'s' if len(methods) > 1 else ''}, {took}")
# One light PNG per panel (the Plotly figure ships ~1 MB of pixel JSON to the browser), in cards
# that wrap so five methods never overflow; each map has its own colour bar.
PANEL = 240  # px: three panels a row at 1280 x 720, five at 1920 x 1080
up = max(1, cache.DISPLAY_SIDE // det.input_size)
faith = report.faithfulness or {}
cells = render.cards(1 + len(report.explanations), width=PANEL, gap="small")
cells[0].image(render.enlarge(report.image), caption="input", width="stretch")
for col, (m, e) in zip(cells[1:], report.explanations.items(), strict=True):
    col.image(visual.overlay(report.image, e.map, alpha=0.5, cmap=visual.cmap_for(e.signed), upscale=up),
              caption=f"{m} · {e.seconds * 1e3:.0f} ms to compute", width="stretch")
    col.image(visual.colour_bar(e, width=PANEL), width="stretch")
    call = verdicts.faithfulness_call(faith.get(m))
    if call:
        col.markdown(f":{verdicts.CALL_COLOURS[call]}-badge[{verdicts.CALLS[call]}]")
st.caption("Unsigned maps (jet) run from 0, no evidence, to their own maximum, the strongest "
           "evidence for the target; signed maps (blue-white-red) run over ± their largest magnitude, "
           "red for the target class, blue against it, white 0.")

st.subheader("Faithfulness and cost")
if faith:
    st.markdown("\n".join(f"- {verdicts.faithfulness_sentence(m, faith.get(m))}"
                           for m in report.explanations))
rows = []
for m, e in report.explanations.items():
    f = faith.get(m, {})
    call = verdicts.faithfulness_call(f)
    rows.append({"method": m, "deletion AUC ↓": f.get("deletion_auc"),
                 "random deletion": f.get("random_deletion_auc"),
                 "insertion AUC ↑": f.get("insertion_auc"),
                 "random insertion": f.get("random_insertion_auc"),
                 "deletion, log-odds ↓": f.get("deletion_auc_logit"),
                 "insertion, log-odds ↑": f.get("insertion_auc_logit"),
                 "against random": verdicts.CALLS.get(call or "", "not measured"),
                 "time (s)": round(e.seconds, 3), "model calls": e.model_evals})
st.dataframe(pd.DataFrame(rows).set_index("method"), width="stretch")
st.caption("Deletion: remove the most important pixels first; a faithful map makes the target "
           "probability fall faster than a random order (lower AUC). Insertion: the reverse. "
           "'Against random' compares the log-odds AUCs (they do not saturate on confident "
           "images) with 20 seeded random maps: a map beats random when it beats 95% of them on "
           "both tests, the rule `synthcheck explain-eval` counts over a data set.")

curves = [(m, f) for m, f in faith.items() if "deletion_curve" in f]
if curves:
    st.subheader("Deletion and insertion curves")
    for col, (m, f) in zip(render.cards(len(curves), width=380, gap="small"), curves, strict=True):
        col.plotly_chart(visual.curves_figure(m, f, report.target), key=f"explain_curves_{m}")

agree = {k: v for k, v in (report.agreement or {}).items() if isinstance(v, dict)}
if len(methods) > 1 and agree:
    st.subheader("Agreement between methods")
    st.markdown(verdicts.agreement_sentence(report.agreement))
    cols = st.columns(len(agree))
    for col, (kind, mat) in zip(cols, agree.items(), strict=False):
        names = list(mat)
        z = [[1.0 if a == b else mat[a].get(b) for b in names] for a in names]
        h = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=-1 if kind == "spearman" else 0, zmax=1,
                                 colorscale="RdBu" if kind == "spearman" else "Blues",
                                 text=[[f"{v:.2f}" if v is not None else "" for v in r] for r in z],
                                 texttemplate="%{text}"))
        h.update_layout(title="Spearman (rank similarity)" if kind == "spearman"
                        else "IoU of the top pixels", height=360, margin={"t": 40, "b": 10})
        col.plotly_chart(h, key=f"explain_agree_{kind}")
