"""Robustness: how one image's p_fake moves under processing and attacks, and accuracy /
ROC-AUC of the model on a labelled folder under each perturbation."""

from __future__ import annotations

import streamlit as st

from synthcheck.dashboard import app, artifacts, cache, folders, model, render
from synthcheck.evaluation.robustness import (
    default_perturbations,
    robustness_on_folder,
    verdict_stability,
)

ROBUSTNESS_COLUMNS = {
    "label": "Processing", "accuracy": st.column_config.NumberColumn("Accuracy", format="%.3f"),
    "delta_accuracy": st.column_config.NumberColumn("Change in accuracy", format="%+.3f"),
    "roc_auc": st.column_config.NumberColumn("ROC-AUC", format="%.3f"),
    "recall_real": st.column_config.NumberColumn("Real images judged real", format="%.3f"),
    "recall_fake": st.column_config.NumberColumn("Fake images judged fake", format="%.3f"),
    "flip_rate": st.column_config.NumberColumn("Raw calls flipped", format="percent"),
    "mean_abs_dp": st.column_config.NumberColumn("Mean score change", format="%.3f"),
    "seconds": st.column_config.NumberColumn("Time (s)", format="%.1f"),
}

app.frame()
st.title("Robustness")
st.caption("A detector is only useful if its verdict survives what happens to images online: "
           "re-compression, resizing, blur, noise, and deliberate adversarial changes. "
           "Attacks here are white-box (they use the model's gradients): a worst case.")
loaded_model = model.require_model()
det = loaded_model.detector
tab_one, tab_set = st.tabs(["One image: verdict stability", "Data set: accuracy under perturbation"])

with tab_one:
    up = st.file_uploader("Image", type=model.UPLOAD_TYPES, key="robust_file")
    adversarial = st.checkbox("Include FGSM / PGD attacks", value=True, key="robust_adv_one")
    if up is not None:
        analysis = cache.analyze_uploads(loaded_model, [(up.name, up.getvalue())])[0]
        if not analysis.ok:
            st.error(f"Cannot analyse this file: {analysis.error}")
            st.stop()
        render.headline(analysis)
        with st.spinner("Perturbing and scoring…"):
            res = verdict_stability(det, analysis.loaded, default_perturbations(adversarial=adversarial),
                                    threshold=analysis.threshold)
        st.metric("Model's raw call on the image as uploaded", res["verdict"],
                  f"p_fake {res['p_fake']:.4f}", delta_color="off")
        import pandas as pd
        import plotly.graph_objects as go

        df = pd.DataFrame(res["rows"])[["label", "family", "p_fake", "delta", "verdict", "flipped"]]
        fig = go.Figure(go.Bar(x=df["label"], y=df["p_fake"],
                               marker_color=["#c0392b" if v == "FAKE" else "#27ae60" for v in df["verdict"]]))
        fig.add_hline(y=res["threshold"], line_dash="dash", annotation_text="threshold")
        fig.update_layout(yaxis_title="p_fake", yaxis_range=[0, 1], height=380, margin={"t": 20})
        st.plotly_chart(fig, width="stretch")
        st.dataframe(df, hide_index=True, width="stretch", column_config={
            "label": "Processing", "family": "Kind", "p_fake": st.column_config.NumberColumn(
                "Model score", format="%.3f"), "delta": st.column_config.NumberColumn(
                "Change in score", format="%+.3f"), "verdict": "Raw call",
            "flipped": st.column_config.CheckboxColumn("Raw call flipped")})
        n_flip = int(df["flipped"].sum())
        st.caption(f"{n_flip} of {len(df) - 1} perturbations flip the verdict. Attacks push p_fake "
                   "away from the current verdict.")
    else:
        st.info("Upload an image to see how its score moves.")

with tab_set:
    c1, c2, c3 = st.columns([3, 1, 1])
    data_dir = c1.text_input("Data folder (with test/REAL and test/FAKE)",
                             value=folders.default_data_folder(), key="robust_data")
    split = c2.text_input("Split", value="test", key="robust_split")
    limit = c3.number_input("Images (balanced subset)", 20, 20000, 400, step=100, key="robust_limit")
    adv_set = st.checkbox("Include FGSM / PGD attacks (slow on CPU)", value=False, key="robust_adv_set")
    st.caption(folders.roots_sentence())
    # The table is tied to what it was computed from: another folder or setting drops it.
    made_from = artifacts.inputs_key(data_dir.strip(), split, int(limit), adv_set, model.threshold(),
                                     loaded_model.path, loaded_model.load_id)
    if st.button("Run robustness evaluation", type="primary", key="robust_run"):
        try:
            folder = folders.allowed_folder(data_dir)
        except folders.FolderRefused as exc:  # the one folder policy, in its own words
            st.error(str(exc))
            st.stop()
        bar = st.progress(0.0, text="starting")
        ps = default_perturbations(adversarial=adv_set)
        done = [0]

        def progress(label: str) -> None:
            bar.progress(min(1.0, done[0] / (len(ps) + 1)), text=label)
            done[0] += 1

        try:
            report = robustness_on_folder(det, str(folder), split, limit=int(limit),
                                          perturbations=ps, progress=progress,
                                          threshold=model.threshold())
        except Exception as exc:  # missing split, bad layout: one message
            st.error(f"Cannot evaluate: {exc}")
            st.stop()
        bar.empty()
        artifacts.keep("robustness", made_from, report)
    report = artifacts.current("robustness", made_from)
    if report:
        import pandas as pd
        import plotly.express as px

        df = pd.DataFrame(report["rows"])
        st.caption(f"{report['n_images']} images ({report['n_fake']} FAKE) from {report['data']} / "
                   f"{report['split']}, threshold {report['threshold']}, seed {report['seed']}.")
        fig = px.bar(df, x="label", y=["accuracy", "roc_auc"], barmode="group", height=400)
        fig.update_layout(yaxis_range=[0, 1], xaxis_title=None, margin={"t": 20})
        st.plotly_chart(fig, width="stretch")
        st.dataframe(df[["label", "accuracy", "delta_accuracy", "roc_auc", "recall_real", "recall_fake",
                         "flip_rate", "mean_abs_dp", "seconds"]], hide_index=True, width="stretch",
                     column_config=ROBUSTNESS_COLUMNS)
