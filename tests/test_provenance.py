"""Provenance signals: C2PA (signed, stripped, corrupted), generator metadata, hostile input."""

from __future__ import annotations

import io
import json
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from synthcheck.provenance import Provenance, provenance_summary, read_provenance
from tests import provenance_fixtures as F

KEYS = {"source", "field", "value", "meaning", "strength"}


@pytest.fixture(scope="session")
def c2pa_jpeg() -> bytes:
    """The expensive fixture: a JPEG signed by a throwaway CA, made once per session."""
    pytest.importorskip("c2pa")
    return F.c2pa_signed_jpeg()


def by_field(prov: Provenance, source: str) -> dict[str, dict]:
    return {s["field"]: s for s in prov.signals if s["source"] == source}


def check_shape(prov: Provenance) -> None:
    """Every signal has the contract keys, known strengths/directions and is JSON-friendly."""
    assert isinstance(prov.summary, str) and prov.summary
    for s in prov.signals:
        assert KEYS <= set(s) <= KEYS | {"points_to"}
        assert s["strength"] in ("strong", "moderate", "weak", "info")
        assert s["points_to"] in ("synthetic", "camera", "edited", "neutral")
        assert isinstance(s["meaning"], str) and s["meaning"].endswith(".")
        if isinstance(s["value"], str):
            assert len(s["value"]) <= 400
    json.dumps(prov.to_dict())
    assert set(prov.to_dict()) == {"signals", "summary", "errors"}


# --------------------------------------------------------------------------- C2PA

def test_c2pa_signed_fixture_shows_source_type_and_untrusted_signer(c2pa_jpeg: bytes) -> None:
    prov = read_provenance(c2pa_jpeg, name="signed.jpg")
    check_shape(prov)
    assert prov.errors == []
    c2 = by_field(prov, "c2pa")
    dst = c2["digitalSourceType"]
    assert dst["value"].endswith("/trainedAlgorithmicMedia")
    assert dst["points_to"] == "synthetic"
    assert dst["strength"] == "moderate"  # untrusted signer: never strong, never proof
    assert "untrusted signer" in dst["meaning"] and "not proof" in dst["meaning"]
    assert "SynthCheck Test Signer" in c2["signer"]["value"]
    assert "signingCredential.untrusted" in c2["signer"]["meaning"]
    assert c2["validation"]["value"] == "untrusted"
    assert "SynthCheck test fixture" in c2["claim_generator"]["value"]
    assert any("c2pa.created" in a for a in c2["actions"]["value"])
    assert "trainedAlgorithmicMedia" in prov.summary and "claim, not proof" in prov.summary


def test_c2pa_from_a_path(c2pa_jpeg: bytes, tmp_path) -> None:
    path = tmp_path / "signed.jpg"
    path.write_bytes(c2pa_jpeg)
    assert "digitalSourceType" in by_field(read_provenance(path), "c2pa")


def test_c2pa_manifest_stripped_leaves_no_c2pa_signal(c2pa_jpeg: bytes) -> None:
    prov = read_provenance(F.strip_metadata(c2pa_jpeg))
    assert by_field(prov, "c2pa") == {} and prov.errors == []
    assert "absence of metadata proves nothing" in prov.summary


@pytest.mark.parametrize("at", [40, 100])
def test_c2pa_manifest_corrupted_gives_a_clear_message(c2pa_jpeg: bytes, at: int) -> None:
    prov = read_provenance(F.corrupt_c2pa(c2pa_jpeg, at=at), name="bad.jpg")
    check_shape(prov)
    assert len(prov.errors) == 1
    msg = prov.errors[0]
    assert msg.startswith("bad.jpg: ") and "C2PA" in msg and msg.endswith(".")
    assert "corrupted" in msg or "damaged" in msg
    c2 = by_field(prov, "c2pa")
    assert set(c2) == {"manifest"} and c2["manifest"]["points_to"] == "neutral"
    assert "could not be read" in prov.summary


def test_c2pa_file_changed_after_signing_fails_validation(c2pa_jpeg: bytes) -> None:
    prov = read_provenance(F.tamper_pixels(c2pa_jpeg))
    c2 = by_field(prov, "c2pa")
    assert c2["validation"]["value"] == "invalid"  # the codes are in the meaning
    assert "assertion.dataHash.mismatch" in c2["validation"]["meaning"]
    assert c2["digitalSourceType"]["strength"] == "weak"
    assert "fails validation" in prov.summary


def test_c2pa_bytes_flipped_anywhere_never_raise(c2pa_jpeg: bytes) -> None:
    rng = np.random.default_rng(0)
    for pos in rng.integers(2, len(c2pa_jpeg), 24):
        data = bytearray(c2pa_jpeg)
        data[pos:pos + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        check_shape(read_provenance(bytes(data)))


# --------------------------------------------------------------------------- generator metadata

@pytest.mark.parametrize("kw", [{}, {"compressed": True}, {"itxt": True},
                                {"itxt": True, "compressed": True}])
def test_png_a1111_parameters(kw: dict) -> None:
    prov = read_provenance(F.png_with_text({"parameters": F.A1111_PARAMETERS}, **kw))
    check_shape(prov)
    sig = by_field(prov, "png_text")["parameters"]
    assert sig["points_to"] == "synthetic" and sig["strength"] == "moderate"
    assert sig["value"].startswith("a photo of an astronaut")
    assert "PNG text 'parameters'" in prov.summary


def test_png_comfyui_prompt_and_workflow() -> None:
    prov = read_provenance(F.comfyui_png())
    check_shape(prov)
    png = by_field(prov, "png_text")
    assert {"prompt", "workflow"} <= set(png)
    assert "ComfyUI graph with 3 nodes" in png["prompt"]["value"]
    assert "sd_xl_base_1.0.safetensors" in png["workflow"]["value"]
    assert all(png[k]["points_to"] == "synthetic" for k in ("prompt", "workflow"))


def test_png_software_and_novelai_comment() -> None:
    prov = read_provenance(F.png_with_text({
        "Software": "NovelAI", "Comment": '{"prompt": "a cat", "steps": 28, "sampler": "k_euler"}'}))
    png = by_field(prov, "png_text")
    assert png["Software"]["points_to"] == "synthetic" and "NovelAI" in png["Software"]["meaning"]
    assert png["Comment"]["points_to"] == "synthetic"


def test_exif_software_generator() -> None:
    prov = read_provenance(F.firefly_jpeg())
    check_shape(prov)
    sig = by_field(prov, "exif")["Software"]
    assert sig["value"] == "Adobe Firefly" and sig["points_to"] == "synthetic"
    assert "Adobe Firefly" in sig["meaning"] and sig["strength"] == "moderate"


def test_exif_usercomment_a1111_parameters() -> None:
    sig = by_field(read_provenance(F.a1111_jpeg()), "exif")["UserComment"]
    assert sig["points_to"] == "synthetic" and "Steps: 20" in sig["value"]


def test_exif_editor_is_weak_edited_evidence() -> None:
    sig = by_field(read_provenance(F.photoshop_jpeg()), "exif")["Software"]
    assert sig["points_to"] == "edited" and sig["strength"] == "weak"


def test_camera_exif_is_weak_camera_evidence() -> None:
    prov = read_provenance(F.camera_jpeg())
    check_shape(prov)
    sig = by_field(prov, "exif")["Make/Model"]
    assert sig["value"] == "Canon EOS R5" and sig["points_to"] == "camera"
    assert sig["strength"] == "weak" and "forged" in sig["meaning"]


@pytest.mark.parametrize("container", ["jpeg", "png", "webp"])
def test_xmp_digital_source_type(container: str) -> None:
    packet = F.xmp_packet("trainedAlgorithmicMedia", creator_tool="Adobe Photoshop 25.0")
    if container == "jpeg":
        data = F.jpeg_with_xmp(packet)
    elif container == "png":
        data = F.png_with_xmp(packet)
    else:
        data = F.encode(F.pixels(8), "WEBP", xmp=packet)
    prov = read_provenance(data)
    check_shape(prov)
    xmp = by_field(prov, "xmp")
    assert xmp["Iptc4xmpExt:DigitalSourceType"]["points_to"] == "synthetic"
    assert xmp["xmp:CreatorTool"]["points_to"] == "edited"
    assert "XMP DigitalSourceType trainedAlgorithmicMedia" in prov.summary


def test_xmp_digital_capture_points_to_camera() -> None:
    sig = by_field(read_provenance(F.jpeg_with_xmp(F.xmp_packet("digitalCapture"))), "xmp")
    assert sig["Iptc4xmpExt:DigitalSourceType"]["points_to"] == "camera"


def test_plain_images_have_no_signals() -> None:
    for name in ("plain.jpg", "plain.png", "plain.webp"):
        prov = read_provenance(F.fixture_set()[name])
        assert prov.signals == [] and prov.errors == []


# --------------------------------------------------------------------------- hostile input

def hostile_inputs() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    fx = F.fixture_set()
    bomb = zlib.compress(b"\x00" * (32 << 20), 9)  # 32 MB of zeros in ~32 KB
    png = fx["plain.png"]
    ztxt = b"parameters\x00\x00" + bomb
    bomb_png = png[:33] + len(ztxt).to_bytes(4, "big") + b"zTXt" + ztxt + b"\x00" * 4 + png[33:]
    out = {
        "random": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "empty": b"",
        "jpeg-soi-only": b"\xff\xd8",
        "png-sig-only": b"\x89PNG\r\n\x1a\n",
        "riff-junk": b"RIFF\xff\xff\xff\xffWEBPEXIF\xff\xff\xff\x7f",
        "jumbf-words": b"not an image jumb c2pa jumb c2pa" * 10,
        "xmp-words": b"<x:xmpmeta " + b"A" * 1000,
        "huge-xmp": F.png_with_xmp(F.xmp_packet() + b" " * (600 * 1024)),
        "billion-laughs": F.jpeg_with_xmp(F.BILLION_LAUGHS),
        "ztxt-bomb": bomb_png,
        "deep-json": F.png_with_text({"prompt": "[" * 200_000}),
        "bad-exif": F.encode(F.pixels(), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"),
    }
    for name, data in fx.items():
        for cut in (10, 40, len(data) // 2):
            out[f"{name}[:{cut}]"] = data[:cut]
    return out


def test_hostile_inputs_never_raise_and_stay_fast() -> None:
    for name, data in hostile_inputs().items():
        t0 = time.perf_counter()
        prov = read_provenance(data, name=name)
        elapsed = time.perf_counter() - t0
        check_shape(prov)
        assert all(isinstance(e, str) and e.endswith(".") for e in prov.errors), name
        assert elapsed < 2.0, f"{name} took {elapsed:.2f}s"


def test_huge_xmp_and_billion_laughs_are_refused_with_a_reason() -> None:
    cases = hostile_inputs()
    huge = read_provenance(cases["huge-xmp"], name="huge.png")
    assert any("over the 512 KB limit" in e for e in huge.errors)
    laughs = read_provenance(cases["billion-laughs"], name="lol.jpg")
    assert any("DTD or entities" in e for e in laughs.errors) and laughs.signals == []


def test_unreadable_sources_are_errors_not_exceptions(tmp_path) -> None:
    missing = read_provenance(tmp_path / "nope.jpg")
    assert missing.signals == [] and "cannot be read" in missing.errors[0]
    wrong = read_provenance(12345)  # type: ignore[arg-type]
    assert wrong.signals == [] and wrong.errors


# --------------------------------------------------------------------------- summary wording

def test_summary_wording_agree_and_disagree(c2pa_jpeg: bytes) -> None:
    signals = read_provenance(c2pa_jpeg).signals
    agree = provenance_summary(signals, "likely_synthetic", 0.93)
    assert agree.startswith("A C2PA manifest declares the image was made by a generative AI model "
                            "(trainedAlgorithmicMedia), but its signer is not on a trust list, so "
                            "it is a claim, not proof.")
    assert agree.endswith("The model's conclusion (likely synthetic, p_fake 0.93) agrees.")
    assert "disagrees" in provenance_summary(signals, "likely_real", 0.12)
    camera = read_provenance(F.camera_jpeg()).signals
    assert provenance_summary(camera, "likely_real", 0.1).endswith("(likely real, p_fake 0.10) agrees.")
    assert "disagrees" in provenance_summary(camera, "likely_synthetic", 0.9)
    assert "undecided" in provenance_summary(camera, "uncertain", 0.5)
    # an image the model cannot judge: the summary never claims the model agrees or disagrees
    blind = provenance_summary(camera, "cannot_assess", 0.99)
    assert "cannot assess" in blind and "agrees" not in blind and "disagrees" not in blind
    edited = read_provenance(F.photoshop_jpeg()).signals
    assert provenance_summary(edited, "likely_synthetic", 0.9).endswith("rests on the pixels alone.")
    none = provenance_summary([], "likely_synthetic", 0.93)
    assert none.startswith("No provenance metadata found; absence of metadata proves nothing, "
                           "because most upload services strip it.")
    assert "contradict" in provenance_summary(
        read_provenance(F.firefly_jpeg()).signals + [dict(camera[-1], strength="moderate")])


# --------------------------------------------------------------------------- faces

def test_predict_json_has_provenance(capsys, tmp_path) -> None:
    from synthcheck.cli import main

    tagged, plain = tmp_path / "a1111.png", tmp_path / "plain.png"
    tagged.write_bytes(F.a1111_png())
    plain.write_bytes(F.encode(np.asarray(Image.open(io.BytesIO(F.a1111_png()))), "PNG"))
    assert main(["predict", str(tagged), str(plain), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["provenance"][0]["field"] == "parameters"
    assert "PNG text 'parameters'" in rows[0]["provenance_summary"]
    assert rows[1]["provenance"] == [] and "proves nothing" in rows[1]["provenance_summary"]
    assert rows[0]["p_fake"] == rows[1]["p_fake"]  # same pixels: metadata never moves p_fake


def test_api_verify_has_provenance(c2pa_jpeg: bytes, tiny_detector) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.analysis import records
    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    with TestClient(create_app(Settings(), detector=tiny_detector)) as client:
        r = client.post("/v1/verify", files=[("files", ("signed.jpg", c2pa_jpeg, "image/jpeg")),
                                             ("files", ("plain.png", F.a1111_png(), "image/png"))])
    assert r.status_code == 200
    signed, png = r.json()
    assert any(s["source"] == "c2pa" and s["field"] == "digitalSourceType"
               for s in signed["provenance"])
    assert "claim, not proof" in signed["provenance_summary"]
    assert png["provenance"][0]["field"] == "parameters"
    assert signed == records([c2pa_jpeg], tiny_detector, names=["signed.jpg"])[0]


def test_pixel_inputs_get_an_empty_list_and_say_why(tiny_detector) -> None:
    from synthcheck.analysis import records

    rec = records([F.pixels(9)], tiny_detector, names=["array"])[0]
    assert rec["provenance"] == [] and "pixels, not the original file" in rec["provenance_summary"]
