"""ONNX Runtime twin of the Detector, for fast cold starts (``synthcheck predict``).

Importing torch costs seconds on a small CPU; onnxruntime a fraction of that. ``export_onnx``
writes ``<checkpoint>.onnx`` with the checkpoint's preprocessing and the SHA-256 of the exact
``.pt`` it came from; :meth:`OnnxDetector.for_checkpoint` uses it only while that hash still
matches, else returns None and the caller falls back to the torch Detector.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import all_finite, check_meta
from ..fsio import atomic_path, file_sha256
from .base import BaseDetector, default_checkpoint

META_KEY = "synthcheck"


def onnx_path_for(checkpoint: str | os.PathLike) -> Path:
    return Path(checkpoint).with_suffix(".onnx")


def export_onnx(checkpoint: str | os.PathLike, out: str | os.PathLike | None = None,
                opset: int = 17) -> Path:
    """Export a checkpoint's model to ONNX (dynamic batch) with its metadata embedded."""
    import onnx
    import torch

    from ..checkpoint import load_checkpoint, model_from_checkpoint
    from ..domain.features import PENULTIMATE, FeatureTap

    class LogitsAndFeatures(torch.nn.Module):
        """Both outputs in one graph: logits and the features the domain check reads."""

        def __init__(self, model: torch.nn.Module, layer: str) -> None:
            super().__init__()
            self.model, self.layer = model, layer

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with FeatureTap(self.model, self.layer) as tap:
                logits = self.model(x)
            return logits, tap.grabbed[0]

    checkpoint = Path(checkpoint)
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt, str(checkpoint)).eval()
    size = int(ckpt["input_size"])
    dom = ckpt.get("feature_domain")
    layer = dom.get("layer", PENULTIMATE) if dom else PENULTIMATE
    out = Path(out) if out else onnx_path_for(checkpoint)
    with atomic_path(out) as tmp:
        torch.onnx.export(LogitsAndFeatures(model, layer), (torch.zeros(1, 3, size, size),), str(tmp),
                          input_names=["input"], output_names=["logits", "features"], opset_version=opset,
                          dynamo=False, dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"},
                                                      "features": {0: "batch"}})
        proto = onnx.load(str(tmp))
        meta = {"model_name": ckpt["model_name"], "input_size": size, "mean": list(ckpt["mean"]),
                "std": list(ckpt["std"]), "temperature": float(ckpt.get("temperature", 1.0)),
                "class_names": list(ckpt["class_names"]), "source_sha256": file_sha256(checkpoint),
                "feature_domain": encode_domain(dom) if dom else None}
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
        onnx.save(proto, str(tmp))
    return out


def encode_domain(dom: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready copy of a checkpoint's domain check: the kNN bank as base64 float16 bytes
    (1.3 MB as text instead of ~8 MB of JSON numbers), other tensors as lists."""
    out: dict[str, Any] = {}
    for k, v in dom.items():
        if k == "bank":
            arr = np.ascontiguousarray(np.asarray(v, dtype=np.float16))
            out[k] = {"float16_base64": base64.b64encode(arr.tobytes()).decode("ascii"), "shape": list(arr.shape)}
        else:
            out[k] = v.tolist() if hasattr(v, "tolist") else v
    return out


def decode_domain(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """Inverse of :func:`encode_domain`."""
    if not meta:
        return None
    out = dict(meta)
    bank = out.get("bank")
    if isinstance(bank, dict):
        out["bank"] = np.frombuffer(base64.b64decode(bank["float16_base64"]), dtype=np.float16).reshape(bank["shape"])
    return out


class OnnxDetector(BaseDetector):
    """Same scores as :class:`synthcheck.inference.Detector`, computed by ONNX Runtime."""

    def __init__(self, onnx_file: str | os.PathLike, checkpoint: str | os.PathLike,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # No busy-waiting after a run: the decode, domain check and record building that follow
        # each batch need the cores (spinning workers made them ~2x slower on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        meta = json.loads(self.session.get_modelmeta().custom_metadata_map[META_KEY])
        check_meta(meta, str(onnx_file))
        self.meta: dict[str, Any] = meta
        self.model_name = meta["model_name"]
        self.input_size = int(meta["input_size"])
        self.mean = tuple(meta["mean"])
        self.std = tuple(meta["std"])
        self.temperature = float(meta["temperature"])
        self.class_names = list(meta["class_names"])
        self.path = str(checkpoint)
        self._sha256 = meta["source_sha256"]
        self.feature_domain = decode_domain(meta.get("feature_domain"))
        if self.feature_domain and not all_finite(self.feature_domain):
            from ..errors import CheckpointError

            raise CheckpointError(f"{onnx_file}: the fitted domain check holds values that are "
                                  "not finite numbers; refused.")
        self._outputs = [o.name for o in self.session.get_outputs()]

    @classmethod
    def for_checkpoint(cls, checkpoint: str | os.PathLike | None = None) -> OnnxDetector | None:
        """The ONNX twin of ``checkpoint`` if one exists and was exported from this exact file."""
        checkpoint = Path(checkpoint) if checkpoint else default_checkpoint()
        onnx_file = onnx_path_for(checkpoint)
        if not (onnx_file.is_file() and checkpoint.is_file()):
            return None
        try:
            det = cls(onnx_file, checkpoint)
        except Exception:  # unreadable or foreign ONNX file: the torch path decides
            return None
        return det if det._sha256 == file_sha256(checkpoint) else None

    def logits_of_arrays(self, arrays: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        out = [self.session.run(["logits"], {"input": self.normalize_array(arrays[s:s + batch_size])})[0]
               for s in range(0, len(arrays), batch_size)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 2), np.float32)

    def logits_and_features(self, arrays: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray | None]:
        if "features" not in self._outputs:
            return self.logits_of_arrays(arrays, batch_size), None
        pairs = [self.session.run(["logits", "features"], {"input": self.normalize_array(arrays[s:s + batch_size])})
                 for s in range(0, len(arrays), batch_size)]
        return (np.concatenate([p[0] for p in pairs]).astype(np.float32),
                np.concatenate([p[1] for p in pairs]).astype(np.float32))
