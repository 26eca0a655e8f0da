"""Model card: what the loaded checkpoint is, what data it saw, how well it did, its limits."""

import pandas as pd
import streamlit as st

from synthcheck.config import c2pa_trust_anchors
from synthcheck.dashboard import app, model
from synthcheck.data.dataset import known_dataset
from synthcheck.evaluation.figures import metric_rows

app.frame()
st.title("Model card")
det = model.require_model().detector
meta = det.meta

ident = det.describe()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Architecture", det.model_name)
c2.metric("Input size", f"{det.input_size}x{det.input_size}")
c3.metric("Temperature", f"{det.temperature:.3f}")
c4.metric("Code version", str(meta.get("code_version") or "not recorded"))
st.markdown(f"**Checkpoint** `{det.path}`  \n**SHA-256** `{ident.get('sha256')}`  \n"
            f"**Classes** {det.class_names} · **mean** {list(det.mean)} · **std** {list(det.std)} · "
            f"**Grad-CAM layer** `{det.cam_layer}`")
anchors = c2pa_trust_anchors()
st.markdown(f"**C2PA trust list** `{anchors}`" if anchors else "**C2PA trust list** not configured "
            "(set SYNTHCHECK_C2PA_TRUST_ANCHORS; see docs/provenance-trust.md)")

st.header("Metrics")
rows = metric_rows(meta)  # the checkpoint's own figures, rounded as the documentation quotes them
if rows:
    st.dataframe(pd.DataFrame(rows).set_index("Split"), width="stretch")
    st.caption("Recorded in the checkpoint when it was trained; the README and models/README.md "
               "quote these figures.")
else:
    st.info("This checkpoint carries no stored metrics.")

st.header("Training data")
data = meta.get("data") or {}
st.markdown(f"**Data set** {known_dataset(meta) or 'not named in this checkpoint'}")
if data:
    st.markdown(f"**Data fingerprint** `{data.get('fingerprint') or 'not recorded'}`  \n"
                f"**Test fingerprint** `{data.get('test_fingerprint') or 'not recorded'}`")
    st.dataframe(pd.DataFrame([{"Fact": k.replace("_", " ").capitalize(), "Value": str(v)}
                               for k, v in data.items() if "fingerprint" not in k and v is not None]),
                 hide_index=True, width="stretch")
else:
    st.info("No data provenance stored in this checkpoint.")

st.header("Training")
training = meta.get("training") or {}
if training:
    t1, t2, t3 = st.columns(3)
    t1.metric("Hardware", str(training.get("hardware") or "not recorded"))
    t2.metric("Training time", f"{training.get('seconds', 0):.0f} s")
    t3.metric("Epochs", str(training.get("epochs_run", len(meta.get("history") or []))))
    st.caption(f"torch {training.get('torch') or 'version not recorded'} · finished "
               f"{training.get('finished_utc') or 'at a time not recorded'}")
with st.expander("Training configuration"):
    st.json(meta.get("config") or {})

st.header("Known limits")
st.caption("Worded from this checkpoint's own input size, training data, threshold and test errors.")
from synthcheck.reporting.build import model_limits  # noqa: E402 - loads torch: after the first paint

st.markdown("\n".join(f"- {line}" for line in model_limits(det)))
