"""The input normalisation a checkpoint names (mean/std per channel), in torch and in numpy.

One definition for training, the torch Detector, the domain check's feature pass and the ONNX
Runtime backend: uint8 pixels in [0, 255] -> ``(x / 255 - mean) / std``, channels first. The
numpy form keeps the ONNX path torch-free; torch is imported only by :func:`normalize`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def normalize(x_uint8: torch.Tensor, mean: Sequence[float], std: Sequence[float],
              dtype: torch.dtype | None = None) -> torch.Tensor:
    """uint8 NHWC or NCHW batch -> normalised float NCHW (channels-last memory)."""
    import torch

    dtype = dtype or torch.float32
    if x_uint8.shape[-1] == 3 and x_uint8.shape[1] != 3:
        x_uint8 = x_uint8.permute(0, 3, 1, 2)
    x = x_uint8.to(dtype).div_(255.0)
    m = torch.tensor(tuple(mean), dtype=dtype, device=x.device)[None, :, None, None]
    s = torch.tensor(tuple(std), dtype=dtype, device=x.device)[None, :, None, None]
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def normalize_array(arrays: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 (N, S, S, 3) -> float32 (N, 3, S, S), the same arithmetic as :func:`normalize`."""
    x = np.asarray(arrays, dtype=np.float32).transpose(0, 3, 1, 2) / 255.0
    m = np.asarray(mean, np.float32)[None, :, None, None]
    s = np.asarray(std, np.float32)[None, :, None, None]
    return np.ascontiguousarray((x - m) / s)
