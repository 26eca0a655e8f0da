"""C2PA states from the validator: trusted | untrusted | invalid, and the configurable trust list.

Every manifest is signed at test time by a throwaway CA (tests/provenance_fixtures.py); its root
certificate, written to a temporary PEM file, is the trust list of the "trusted" cases.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest

from synthcheck.config import C2PA_TRUST_ANCHORS_ENV, c2pa_trust_anchors
from synthcheck.provenance import Provenance, read_provenance
from synthcheck.provenance.c2pa import c2pa_validation
from tests import provenance_fixtures as F

TAMPERED = "the file was changed after signing"
URN = "urn:c2pa:ff538e7d-01d4-493f-957f-e66d913c330c"


def _status(code: str, where: str = "c2pa.signature") -> dict[str, str]:
    return {"code": code, "url": f"self#jumbf=/c2pa/{URN}/{where}", "explanation": code}


# The shape c2pa-python 0.38's Reader.json() gives for a valid manifest whose claim signer and
# CAWG identity signer are on no trust list (as c2pa-rs's C_with_CAWG_data.jpg reads), with the
# CAWG code reported twice.
CAWG_STORE: dict = {
    "active_manifest": URN,
    "validation_state": "Valid",
    "validation_status": [_status("signingCredential.untrusted"),
                          _status("cawg.x509.credential.untrusted", "c2pa.assertions/cawg.identity")],
    "validation_results": {"activeManifest": {
        "success": [_status("claimSignature.validated"),
                    _status("assertion.dataHash.match", "c2pa.assertions/c2pa.hash.data")],
        "informational": [_status("signingCredential.ocsp.skipped")],
        "failure": [_status("signingCredential.untrusted"),
                    _status("cawg.x509.credential.untrusted", "c2pa.assertions/cawg.identity"),
                    _status("cawg.x509.credential.untrusted", "c2pa.assertions/cawg.identity")],
    }, "specVersion": "2.4.0"},
}


@pytest.fixture(autouse=True)
def no_trust_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without a configured trust list, whatever the caller's shell sets."""
    monkeypatch.delenv(C2PA_TRUST_ANCHORS_ENV, raising=False)


@pytest.fixture(scope="module")
def signer() -> tuple[bytes, bytes]:
    pytest.importorskip("c2pa")
    return F.make_test_signer()


@pytest.fixture(scope="module")
def signed(signer: tuple[bytes, bytes]) -> bytes:
    return F.c2pa_signed_jpeg(signer=signer)


@pytest.fixture
def trust(signer: tuple[bytes, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test CA's root certificate configured as the trust list."""
    pem = tmp_path / "anchors.pem"
    pem.write_bytes(F.root_ca_pem(signer[0]))
    monkeypatch.setenv(C2PA_TRUST_ANCHORS_ENV, str(pem))
    return pem


def c2pa_fields(prov: Provenance) -> dict[str, dict]:
    return {s["field"]: s for s in prov.signals if s["source"] == "c2pa"}


# --------------------------------------------------------------------------- real manifests

def test_valid_signature_unknown_signer_is_untrusted_not_tampered(signed: bytes) -> None:
    prov = read_provenance(signed, name="signed.jpg")
    c2 = c2pa_fields(prov)
    assert prov.errors == []
    assert c2["validation"]["value"] == "untrusted"
    assert "not tampering" in c2["validation"]["meaning"]
    assert "no trust list is configured" in c2["signer"]["meaning"]
    assert c2["digitalSourceType"]["strength"] == "moderate"
    assert "claim, not proof" in prov.summary
    assert "fails validation" not in prov.summary and TAMPERED not in prov.summary


def test_signer_chaining_to_a_configured_anchor_is_trusted(signed: bytes, trust: Path) -> None:
    prov = read_provenance(signed, name="signed.jpg")
    c2 = c2pa_fields(prov)
    assert prov.errors == []
    assert c2["validation"]["value"] == "trusted"
    assert c2["digitalSourceType"]["strength"] == "strong"
    assert "trusted signer, which is strong evidence" in prov.summary
    assert prov.summary.startswith("A C2PA manifest declares the image was made by a generative "
                                   "AI model (trainedAlgorithmicMedia), and it is signed by a "
                                   "trusted signer")
    assert "agrees" in read_provenance(signed, conclusion="likely_synthetic", p_fake=0.9).summary


def test_another_ca_on_the_list_leaves_the_signer_untrusted(signed: bytes, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(F.root_ca_pem(F.make_test_signer()[0]))
    monkeypatch.setenv(C2PA_TRUST_ANCHORS_ENV, str(other))
    c2 = c2pa_fields(read_provenance(signed))
    assert c2["validation"]["value"] == "untrusted"
    assert "chains to none of the configured trust anchors" in c2["signer"]["meaning"]


@pytest.mark.parametrize("configured", [False, True])
def test_file_changed_after_signing_is_invalid(signed: bytes, configured: bool,
                                               request: pytest.FixtureRequest) -> None:
    if configured:
        request.getfixturevalue("trust")
    prov = read_provenance(F.tamper_pixels(signed))
    c2 = c2pa_fields(prov)
    assert c2["validation"]["value"] == "invalid"
    assert "assertion.dataHash.mismatch" in c2["validation"]["meaning"]
    assert c2["validation"]["points_to"] == "edited"
    assert c2["digitalSourceType"]["strength"] == "weak"
    assert TAMPERED in prov.summary


@pytest.mark.parametrize("content", [None, b"not a certificate\n",
                                     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_unusable_trust_list_is_one_sentence_not_a_crash(signed: bytes, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         content: bytes | None) -> None:
    path = tmp_path / "anchors.pem"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv(C2PA_TRUST_ANCHORS_ENV, str(path))
    prov = read_provenance(signed, name="signed.jpg")
    assert len(prov.errors) == 1
    msg = prov.errors[0]
    assert msg.startswith("signed.jpg: the C2PA trust list ") and str(path) in msg
    assert msg.endswith(", so no signer can read as trusted.") and msg.count(". ") == 0
    c2 = c2pa_fields(prov)
    assert c2["validation"]["value"] == "untrusted"
    assert str(path) in c2["signer"]["meaning"] and str(path) in c2["validation"]["meaning"]


def test_trust_anchors_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert c2pa_trust_anchors() is None
    monkeypatch.setenv(C2PA_TRUST_ANCHORS_ENV, "  ")
    assert c2pa_trust_anchors() is None
    monkeypatch.setenv(C2PA_TRUST_ANCHORS_ENV, f" {tmp_path / 'list.pem'} ")
    assert c2pa_trust_anchors() == tmp_path / "list.pem"


# --------------------------------------------------------------------------- recorded reader JSON

def test_cawg_untrusted_code_is_about_trust_and_codes_are_deduplicated() -> None:
    v = c2pa_validation(CAWG_STORE)
    assert v.state == "untrusted" and v.failures == ()
    assert v.trust_codes == ("signingCredential.untrusted", "cawg.x509.credential.untrusted")
    # even where c2pa calls two trust failures "Invalid", trust codes alone are not tampering
    assert c2pa_validation(dict(CAWG_STORE, validation_state="Invalid")).state == "untrusted"


def test_integrity_failures_make_it_invalid_in_order_without_duplicates() -> None:
    store = copy.deepcopy(CAWG_STORE)
    mismatch = _status("assertion.dataHash.mismatch", "c2pa.assertions/c2pa.hash.data")
    store["validation_state"] = "Invalid"
    store["validation_results"]["activeManifest"]["failure"][1:1] = [mismatch, mismatch]
    v = c2pa_validation(store)
    assert v.state == "invalid" and v.failures == ("assertion.dataHash.mismatch",)
    assert v.trust_codes == ("signingCredential.untrusted", "cawg.x509.credential.untrusted")


@pytest.mark.parametrize(("state", "failure", "expected"), [
    ("Trusted", [], "trusted"),
    ("Trusted", ["cawg.x509.credential.untrusted"], "untrusted"),
    ("Valid", [], "untrusted"),
    ("Invalid", [], "invalid"),  # the validator saw a problem outside the active manifest's list
    ("", ["claimSignature.mismatch"], "invalid"),
])
def test_state_follows_the_validator(state: str, failure: list[str], expected: str) -> None:
    store = {"validation_state": state, "validation_results": {
        "activeManifest": {"success": [], "failure": [_status(c) for c in failure]}}}
    assert c2pa_validation(store).state == expected


def test_older_reader_json_without_results_uses_validation_status() -> None:
    store = {k: v for k, v in CAWG_STORE.items() if k != "validation_results"}
    assert c2pa_validation(store).state == "untrusted"
    store["validation_status"] = store["validation_status"] + [_status("assertion.dataHash.mismatch")]
    assert c2pa_validation(store).failures == ("assertion.dataHash.mismatch",)


def test_cawg_manifest_read_end_to_end_is_not_tampering(signed: bytes,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The signals and summary for the recorded CAWG store, put where c2pa's Reader would be."""
    import c2pa

    with c2pa.Reader("image/jpeg", io.BytesIO(signed)) as reader:
        real = json.loads(reader.json())
    store = dict(copy.deepcopy(CAWG_STORE), manifests=real["manifests"],
                 active_manifest=real["active_manifest"])

    class RecordedReader:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __enter__(self) -> RecordedReader:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def json(self) -> str:
            return json.dumps(store)

    monkeypatch.setattr(c2pa, "Reader", RecordedReader)
    prov = read_provenance(signed, name="cawg.jpg")
    c2 = c2pa_fields(prov)
    assert c2["validation"]["value"] == "untrusted"
    assert c2["signer"]["meaning"].count("cawg.x509.credential.untrusted") == 1
    assert c2["digitalSourceType"]["strength"] == "moderate"
    assert "fails validation" not in prov.summary and TAMPERED not in prov.summary
