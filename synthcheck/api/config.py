"""API settings: one dataclass, filled from keyword arguments or ``SYNTHCHECK_API_*`` variables."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields

from ..bands import DEFAULT_THRESHOLD

DEFAULT_ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/gif",
                         "image/tiff")
# Content types a client sends when it does not know better; the bytes are checked anyway.
GENERIC_TYPES = ("application/octet-stream", "")


@dataclass
class Settings:
    checkpoint: str | None = None  # default: models/synthcheck-default.pt or $SYNTHCHECK_CHECKPOINT
    device: str = "cpu"
    threshold: float = DEFAULT_THRESHOLD  # the server's default decision threshold (?threshold= overrides)
    max_upload_mb: float = 10.0  # limit on one request body (all files together) -> 413
    case_upload_mb: float = 256.0  # limit on one request adding evidence to a case -> 413
    max_files: int = 32  # files per request -> 413 above
    max_pixels: int = 40_000_000  # per image, checked before decoding -> per-file error
    heavy_pixels: int = 4_000_000  # an upload whose header declares more pixels is a heavy decode
    heavy_decodes: int = 2  # heavy decodes at a time, all requests together (the rest queue)
    header_timeout_s: float = 10.0  # `synthcheck serve`: a request's headers must arrive within this
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES  # declared part types -> 415 otherwise
    explain_methods: tuple[str, ...] = ("gradcam", "guided_gradcam")  # allowed ?explain= values
    batch_max_size: int = 64  # images per model call
    batch_max_wait_ms: float = 3.0  # how long a batch waits for requests still arriving
    torch_threads: int = 0  # intra-op threads for the model (0 = leave torch's default)
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    api_prefix: str = "/v1"

    def __post_init__(self) -> None:
        """Refuse values that would make the server misbehave (one sentence, SynthCheckError)."""
        from ..errors import SynthCheckError

        def number(name: str, low: float, high: float = math.inf) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                    math.isfinite(v) and low <= v <= high):
                raise SynthCheckError(f"setting {name} must be a number from {low:g}"
                                      f"{'' if high == math.inf else f' to {high:g}'}, got {v!r}.")

        number("threshold", 0.0, 1.0)
        for name in ("max_upload_mb", "case_upload_mb"):
            number(name, 1e-6)
        for name in ("max_files", "max_pixels", "batch_max_size", "heavy_pixels", "heavy_decodes"):
            number(name, 1)
        number("header_timeout_s", 0.01)
        number("batch_max_wait_ms", 0.0)
        number("torch_threads", 0)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def case_upload_bytes(self) -> int:
        return int(self.case_upload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then ``SYNTHCHECK_API_<FIELD>`` variables, then non-None ``overrides``."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"SYNTHCHECK_API_{f.name.upper()}")
            if raw is None:
                continue
            default = getattr(cls(), f.name)
            if isinstance(default, tuple):
                values[f.name] = tuple(s.strip() for s in raw.split(",") if s.strip())
            elif isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(default, (int, float)):
                try:
                    values[f.name] = type(default)(raw)
                except ValueError as exc:
                    from ..errors import SynthCheckError

                    raise SynthCheckError(f"SYNTHCHECK_API_{f.name.upper()}={raw!r} is not a "
                                          f"{type(default).__name__}.") from exc
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
