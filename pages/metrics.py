"""Metrics: evaluate the checkpoint on a data folder; confusion matrix, curves, calibration, history."""

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from synthcheck.dashboard import app, cache, folders, model, render
from synthcheck.evaluation.curves import (
    CELL_LABELS,
    CELLS,
    confusion_cells,
    point_at_threshold,
    pr_points,
    reliability_bins,
    roc_points,
)
from synthcheck.evaluation.metrics import compute_metrics

LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}  # never squeezes a curve

app.frame()
st.title("Metrics")
loaded_model = model.require_model()
det = loaded_model.detector

c1, c2, c3 = st.columns([3, 1, 1])
data_dir = c1.text_input("Data folder (holds SPLIT/REAL and SPLIT/FAKE)", folders.default_data_folder(),
                         key="metrics_data", placeholder="/data/cifake")
split = c2.selectbox("Split", ["test", "train", "val"], key="metrics_split")
max_n = int(c3.number_input("Max images (0 = all)", 0, 200_000, 2000, 500, key="metrics_max"))


def history_section() -> None:
    """Training curves stored in the checkpoint."""
    st.header("Training history")
    hist = det.meta.get("history") or []
    if not hist:
        st.info("This checkpoint stores no training history.")
        return
    h = pd.DataFrame(hist).set_index("epoch")
    a, b = st.columns(2)
    a.caption("Loss")
    a.line_chart(h[[c for c in ("train_loss", "val_loss") if c in h]])
    b.caption("Accuracy / ROC-AUC")
    b.line_chart(h[[c for c in ("train_acc", "val_acc", "val_roc_auc") if c in h]])


if not data_dir.strip():
    st.info("Enter a data folder (or set SYNTHCHECK_DATA) to evaluate the checkpoint on it.")
    st.caption(folders.roots_sentence())
    history_section()
    st.stop()

try:
    res = cache.evaluate_folder(loaded_model, data_dir.strip(), split, max_n)
except folders.FolderRefused as exc:  # the one folder policy, in its own words
    st.error(str(exc))
    history_section()
    st.stop()
except Exception as exc:  # DataError, unreadable folder: one clear message
    st.error(f"Cannot evaluate: {exc}")
    history_section()
    st.stop()

y, p = res.labels, res.p_fake
st.caption(f"{len(y)} of {res.n_total} images of '{split}' scored in {res.seconds:.1f} s "
           f"({res.n_skipped} unreadable skipped) · data fingerprint `{res.fingerprint[:16]}…`")
thr = st.slider("Threshold for these metrics", 0.0, 1.0, model.threshold(), 0.01,
                key="metrics_threshold")
m = compute_metrics(y, p, thr)
k = st.columns(6)
k[0].metric("Accuracy", f"{m['accuracy']:.3f}")
k[1].metric("Precision (FAKE)", f"{m['precision']:.3f}")
k[2].metric("Recall (FAKE)", f"{m['recall']:.3f}")
k[3].metric("F1 (FAKE)", f"{m['f1']:.3f}")
k[4].metric("ROC-AUC", "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}")
k[5].metric("ECE", f"{m['ece']:.4f}")

st.header("Confusion matrix")
cm = np.array(m["confusion_matrix"], dtype=float)
rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
text = [[f"{int(cm[i, j])}<br>{rates[i, j]:.1%}" for j in range(2)] for i in range(2)]
fig = go.Figure(go.Heatmap(z=rates, x=["pred REAL", "pred FAKE"], y=["true REAL", "true FAKE"],
                           text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                           hovertemplate="%{y} / %{x}: %{text}<extra></extra>"))
fig.update_yaxes(autorange="reversed")
fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
left, right = st.columns([1, 1.4])
event = left.plotly_chart(fig, key="metrics_cm", on_select="rerun", selection_mode="points")
clicked = None
pts = (event or {}).get("selection", {}).get("points", []) if event else []
if pts:
    true_i = 0 if "REAL" in str(pts[0].get("y")) else 1
    pred_i = 0 if "REAL" in str(pts[0].get("x")) else 1
    clicked = CELLS[true_i * 2 + pred_i]
if clicked and clicked != st.session_state.get("metrics_last_click"):
    st.session_state["metrics_cell"] = clicked  # a click on the heatmap chooses the cell
st.session_state["metrics_last_click"] = clicked
cells = confusion_cells(y, p, thr)
# The counts go in the widget's label, not in its options: a selectbox's value on the wire is
# the option's text, so counts inside the options would go stale when the threshold moves.
counts = " · ".join(f"{c} {len(cells[c])}" for c in CELLS)
cell = right.selectbox(f"Show the images in cell ({counts})", CELLS, index=1,
                       format_func=lambda c: f"{c}: {CELL_LABELS[c]}", key="metrics_cell")
idx = cells[cell]
order = idx[np.argsort(-np.abs(p[idx] - thr))][:40]  # most confident mistakes first
with right:
    if len(order) == 0:
        st.info("No images in this cell.")
    else:
        st.caption(f"{len(idx)} images in {cell} ({CELL_LABELS[cell]}); up to 40 shown, most "
                   "confident first (p_fake, file).")
        per_row = 6
        for r in range(0, len(order), per_row):
            row = st.columns(per_row)
            for col, i in zip(row, order[r:r + per_row], strict=False):
                col.image(render.enlarge(res.images[i], 96),
                          caption=f"{p[i]:.2f} {Path(res.paths[i]).name}", width="stretch")

st.header("Curves")
a, b, c = st.columns(3)
roc, pr = roc_points(y, p), pr_points(y, p)
pt = point_at_threshold(y, p, thr)
if roc:
    f = go.Figure([go.Scatter(x=roc["fpr"], y=roc["tpr"], name="ROC", mode="lines"),
                   go.Scatter(x=[0, 1], y=[0, 1], name="chance", line={"dash": "dot"}),
                   go.Scatter(x=[pt["fpr"]], y=[pt["tpr"]], name=f"t={thr:.2f}", mode="markers",
                              marker={"size": 11})])
    f.update_layout(title="ROC", xaxis_title="false positive rate", yaxis_title="true positive rate",
                    height=380, margin={"t": 40, "b": 10}, legend=LEGEND_BELOW)
    a.plotly_chart(f, key="metrics_roc")
if pr:
    f = go.Figure([go.Scatter(x=pr["recall"], y=pr["precision"], name="PR", mode="lines"),
                   go.Scatter(x=[pt["recall"]], y=[pt["precision"]], name=f"t={thr:.2f}",
                              mode="markers", marker={"size": 11})])
    f.update_layout(title="Precision-recall (FAKE)", xaxis_title="recall", yaxis_title="precision",
                    height=380, margin={"t": 40, "b": 10}, legend=LEGEND_BELOW)
    b.plotly_chart(f, key="metrics_pr")
bins = reliability_bins(y, p, 10)
f = go.Figure([go.Bar(x=[(x["lo"] + x["hi"]) / 2 for x in bins], y=[x["fraction_fake"] for x in bins],
                      width=0.09, name="observed FAKE fraction",
                      customdata=[x["count"] for x in bins],
                      hovertemplate="bin %{x:.2f}: %{y:.3f} (%{customdata} images)<extra></extra>"),
               go.Scatter(x=[0, 1], y=[0, 1], name="perfect calibration", line={"dash": "dot"})])
f.update_layout(title="Reliability diagram", xaxis_title="predicted p_fake",
                yaxis_title="fraction FAKE", height=380, margin={"t": 40, "b": 10},
                legend=LEGEND_BELOW)
c.plotly_chart(f, key="metrics_rel")

history_section()
