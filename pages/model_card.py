"""Model card: what the loaded checkpoint is, what data it saw, how well it did, its limits."""

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck.config import c2pa_trust_anchors
from synthcheck.data.dataset import known_dataset
from synthcheck.reporting.build import model_limits

st.title("Model card")
model = ui_shared.require_model()
det = model.detector
meta = det.meta

ident = det.describe()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Architecture", det.model_name)
c2.metric("Input size", f"{det.input_size}x{det.input_size}")
c3.metric("Temperature", f"{det.temperature:.3f}")
c4.metric("Code version", str(meta.get("code_version", "?")))
st.markdown(f"**Checkpoint** `{det.path}`  \n**SHA-256** `{ident.get('sha256')}`  \n"
            f"**Classes** {det.class_names} · **mean** {list(det.mean)} · **std** {list(det.std)} · "
            f"**Grad-CAM layer** `{det.cam_layer}`")
anchors = c2pa_trust_anchors()
st.markdown(f"**C2PA trust list** `{anchors}`" if anchors else "**C2PA trust list** not configured "
            "(set SYNTHCHECK_C2PA_TRUST_ANCHORS; see docs/provenance-trust.md)")

st.header("Metrics")
metrics = meta.get("metrics") or {}
rows = []
for split in ("val", "test", "test_no_train_twin"):
    m = metrics.get(split)
    if m is None and split == "test_no_train_twin":
        m = (metrics.get("test") or {}).get("no_train_twin")
    if m:
        rows.append({"split": split, **{k: m.get(k) for k in ("n_images", "accuracy", "precision", "recall",
                                                              "f1", "roc_auc", "ece", "brier")}})
if rows:
    st.dataframe(pd.DataFrame(rows).set_index("split"), width="stretch")
    st.caption("test_no_train_twin: test images with no byte-identical copy in the training set.")
else:
    st.info("This checkpoint carries no stored metrics.")

st.header("Training data")
data = meta.get("data") or {}
st.markdown(f"**Data set** {known_dataset(meta) or 'not named in this checkpoint'}")
if data:
    st.markdown(f"**Data fingerprint** `{data.get('fingerprint', '?')}`  \n"
                f"**Test fingerprint** `{data.get('test_fingerprint', '?')}`")
    st.json({k: v for k, v in data.items() if "fingerprint" not in k})
else:
    st.info("No data provenance stored in this checkpoint.")

st.header("Training")
training = meta.get("training") or {}
if training:
    t1, t2, t3 = st.columns(3)
    t1.metric("Hardware", str(training.get("hardware", "?")))
    t2.metric("Training time", f"{training.get('seconds', 0):.0f} s")
    t3.metric("Epochs", str(training.get("epochs_run", len(meta.get("history") or []))))
    st.caption(f"torch {training.get('torch', '?')} · finished {training.get('finished_utc', '?')}")
with st.expander("Training configuration"):
    st.json(meta.get("config") or {})

st.header("Known limits")
st.caption("Worded from this checkpoint's own input size, training data, threshold and test errors.")
st.markdown("\n".join(f"- {line}" for line in model_limits(det)))
