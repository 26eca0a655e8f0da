"""Response schemas, split by direction (the API takes only multipart uploads as input)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ExplanationPublic(BaseModel):
    method: str
    target: str = Field(description="class the map explains: the analysis's verdict, REAL or FAKE")
    p_target: float
    signed: bool = Field(description="True when the map has signed values (grey = 0 in map_png)")
    faithfulness_call: str | None = Field(None, description="beats_random | partial | level | mixed | "
                                                            "worse_than_random: the map against random maps")
    trust_sentence: str | None = Field(None, description="whether to trust this map, in one sentence")
    map_png: str = Field(description="base64 PNG, 8-bit map at the model's input resolution")
    overlay_png: str = Field(description="base64 PNG, the map over the model's input image")


class VerifyResult(BaseModel):
    """Same object as ``synthcheck predict --json``: a verdict or an ``error``.

    Extra keys a newer core adds to the record pass through unchanged.
    """

    model_config = ConfigDict(extra="allow")

    path: str = Field(description="the upload's filename")
    sha256: str | None = Field(None, description="SHA-256 of the uploaded bytes")
    conclusion: Literal["likely_real", "uncertain", "likely_synthetic", "cannot_assess"] | None = Field(
        None, description="what to act on: cannot_assess when the image is outside the training domain")
    conclusion_label: str | None = Field(None, description="the conclusion in words, e.g. 'Cannot assess'")
    conclusion_reason: str | None = Field(None, description="one plain sentence on why")
    verdict: Literal["REAL", "FAKE"] | None = Field(None, description="the model's raw call at the threshold")
    threshold: float | None = None
    p_fake: float | None = Field(None, description="calibrated probability that the image is AI-generated")
    model: str | None = None
    calibrated_p_fake: float | None = None
    uncalibrated_p_fake: float | None = None
    band: str | None = Field(None, description="likely_real | uncertain | likely_synthetic | out_of_domain")
    in_domain: bool | None = None
    domain_reasons: list[str] | None = None
    advisories: list[str] | None = Field(None, description="known biases of the model this input touches")
    notes: list[str] | None = Field(None, description="conversions applied when decoding")
    provenance: list[dict[str, Any]] | None = None
    provenance_summary: str | None = None
    tiles: dict[str, Any] | None = None
    tile_note: str | None = None
    error: str | None = Field(None, description="why this file could not be analysed")
    explanation: ExplanationPublic | None = None


class ErrorPublic(BaseModel):
    error: str
    status: int
    detail: Any | None = None
    results: list[VerifyResult] | None = None


class ModelPublic(BaseModel):
    name: str
    checkpoint: str | None
    sha256: str | None
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: list[str]
    temperature: float
    threshold: float
    cam_layer: str | None
    code_version: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class HealthPublic(BaseModel):
    status: Literal["ok"]
    version: str
    model: str
    uptime_s: float
    batcher: dict[str, Any]
