"""C2PA signals: the active Content Credentials manifest read with ``c2pa-python`` (declared
source type, claim generator, signer trust, validation, actions); never fetches anything remote.

The manifest's state comes from the validator, not from matching strings: c2pa's
``validation_state`` and the active manifest's failure codes give one of ``trusted`` (valid and
the signer chains to a configured trust anchor), ``untrusted`` (valid, but the signer is on no
trust list SynthCheck was given) or ``invalid`` (the file was changed after signing or the
manifest is damaged). Trust anchors come from ``$SYNTHCHECK_C2PA_TRUST_ANCHORS``
(:func:`synthcheck.config.c2pa_trust_anchors`); see docs/provenance-trust.md.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from typing import Any

from ..config import c2pa_trust_anchors
from .known import DIGITAL_SOURCE_TYPES, GEN_RE, match_tool, source_type_code
from .signal import cap, make_signal

# ``import c2pa`` below is absolute, so it loads the c2pa-python library, not this module.
_VERIFY = {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True}
MAX_ANCHORS_BYTES = 16 << 20  # a trust-anchor bundle over this size is refused
_contexts: dict[str | None, Any] = {}  # one c2pa Context per trust-anchor PEM (None: no list)
_c2pa_lock = threading.Lock()


def _read_anchors() -> tuple[str | None, str | None]:
    """(PEM text of the configured trust anchors or None, a sentence on why they are not used).

    The bundle is parsed with ``cryptography`` first because c2pa silently skips a malformed
    certificate inside a PEM block, which would leave an investigator believing a list is used.
    """
    path = c2pa_trust_anchors()
    if path is None:
        return None, None
    from cryptography import x509

    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_ANCHORS_BYTES + 1)
    except OSError as exc:
        return None, _unusable((exc.strerror or type(exc).__name__).lower())
    if len(raw) > MAX_ANCHORS_BYTES:
        why = f"it is over {MAX_ANCHORS_BYTES >> 20} MB"
    else:
        try:
            x509.load_pem_x509_certificates(raw)  # raises unless every block is a certificate
            return raw.decode("utf-8"), None
        except (ValueError, UnicodeDecodeError):  # cryptography's own message is a paragraph
            why = "it is not a bundle of PEM certificates"
    return None, _unusable(why)


def _unusable(why: str) -> str:
    """The sentence (without its full stop) saying why the configured trust list is not used."""
    return (f"the C2PA trust list {c2pa_trust_anchors()} (SYNTHCHECK_C2PA_TRUST_ANCHORS) cannot "
            f"be used ({cap(why, 120)}), so no signer can read as trusted")


def _c2pa_context(pem: str | None) -> Any:
    """The shared c2pa Context for these trust anchors (None: no trust list); it never fetches
    remote manifests or OCSP responses."""
    with _c2pa_lock:
        if pem not in _contexts:
            import c2pa

            settings: dict[str, Any] = {"verify": dict(_VERIFY)}
            if pem is not None:
                settings["trust"] = {"trust_anchors": pem}
            if len(_contexts) >= 4:  # the setting rarely changes; keep the cache bounded
                _contexts.clear()
            _contexts[pem] = c2pa.Context.from_dict(settings)
        return _contexts[pem]


@dataclass(frozen=True)
class C2paValidation:
    """What the validator says about the active manifest."""

    state: str  # "trusted" | "untrusted" | "invalid"
    failures: tuple[str, ...]  # integrity failure codes of the active manifest, de-duplicated
    trust_codes: tuple[str, ...]  # codes that only say a credential is on no trust list
    validator_state: str  # c2pa's own validation_state: "Trusted", "Valid", "Invalid" or ""


def is_trust_code(code: str) -> bool:
    """Whether a status code is about trust, not integrity (``signingCredential.untrusted``,
    ``cawg.x509.credential.untrusted``, ``timeStamp.untrusted``, ...)."""
    return code.endswith(".untrusted")


def _codes(entries: Any) -> list[str]:
    """The ``code`` of each status entry in a c2pa status list."""
    return [str(e["code"]) for e in entries or [] if isinstance(e, dict) and e.get("code")]


def c2pa_validation(store: dict[str, Any]) -> C2paValidation:
    """The manifest's state from a c2pa Reader JSON store.

    Failure codes are the active manifest's (``validation_results.activeManifest.failure``; the
    top-level ``validation_status`` when an older c2pa gives no results). Trust codes never make
    a manifest invalid; any other failure does, and so does ``validation_state`` "Invalid" with
    no failure code on the active manifest (the validator saw a problem elsewhere). ``trusted``
    needs c2pa's "Trusted" and no trust code.
    """
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    if isinstance(active, dict):
        codes = _codes(active.get("failure"))
    else:
        codes = _codes(store.get("validation_status"))
    codes = list(dict.fromkeys(codes))
    trust_codes = tuple(c for c in codes if is_trust_code(c))
    failures = tuple(c for c in codes if not is_trust_code(c))
    validator = str(store.get("validation_state") or "")
    if failures or (validator == "Invalid" and not trust_codes):
        state = "invalid"
    elif validator == "Trusted" and not trust_codes:
        state = "trusted"
    else:
        state = "untrusted"
    return C2paValidation(state, failures, trust_codes, validator)


def _find_source_types(obj: Any, out: list[str], depth: int = 0) -> None:
    """Every digitalSourceType value anywhere in the assertions (bounded walk)."""
    if depth > 8 or len(out) > 8:
        return
    if isinstance(obj, dict):
        for key, value in list(obj.items())[:200]:
            if isinstance(value, str) and str(key).split(":")[-1].lower() == "digitalsourcetype":
                if value not in out:
                    out.append(value)
            else:
                _find_source_types(value, out, depth + 1)
    elif isinstance(obj, list):
        for item in obj[:200]:
            _find_source_types(item, out, depth + 1)


def _claim_generator(manifest: dict[str, Any]) -> str:
    """The tool that wrote the manifest: ``claim_generator_info[0]`` name and version, else
    ``claim_generator``; '' when neither is given."""
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        first = info[0]
        return " ".join(str(first.get(k, "")) for k in ("name", "version")).strip()
    return str(manifest.get("claim_generator") or "")


def _actions(manifest: dict[str, Any]) -> list[str]:
    """Up to 12 recorded ``c2pa.actions`` entries, each as ``action (software agent)``."""
    out: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data")
        for act in (data.get("actions") if isinstance(data, dict) else None) or []:
            if not isinstance(act, dict):
                continue
            label = str(act.get("action", "?"))
            agent = act.get("softwareAgent")
            agent_name = agent.get("name") if isinstance(agent, dict) else agent
            out.append(f"{label} ({agent_name})" if agent_name else label)
    return out[:12]


def c2pa_signals(data: bytes, fmt: str, errors: list[str], name: str) -> list[dict[str, Any]]:
    """Signals from the active C2PA manifest: source type, signer trust, validation, actions.

    ``fmt`` is the container format found by the scan (it picks the MIME type); problems are
    appended to ``errors`` as sentences prefixed with ``name``. An unreadable manifest yields
    one neutral "present but unreadable" signal.
    """
    try:
        import c2pa  # noqa: F401  (an optional dependency: say so when it is missing)
    except ImportError:
        errors.append(f"{name}: a C2PA manifest is present but c2pa-python is not installed, so "
                      "it was not read.")
        return []
    pem, anchors_problem, store = _read_store(data, fmt)
    if anchors_problem:
        errors.append(f"{name}: {anchors_problem}.")
    if isinstance(store, str):  # why the manifest could not be read
        errors.append(f"{name}: {store}.")
        return [make_signal("c2pa", "manifest", "present but unreadable",
                            f"{store[0].upper()}{store[1:]}, so it says nothing either way.", "info",
                            "neutral")]
    manifest = store["manifests"][store["active_manifest"]]
    validation = c2pa_validation(store)
    out = _claim_signals(manifest, validation.state)
    out += _trust_signals(manifest, validation, _trust_list_words(pem, anchors_problem))
    actions = _actions(manifest)
    if actions:
        out.append(make_signal("c2pa", "actions", actions,
                               "The manifest records these actions on the image.", "info", "neutral"))
    return out


def _read_store(data: bytes, fmt: str) -> tuple[str | None, str | None, dict[str, Any] | str]:
    """(trust anchors PEM, why the anchors could not be used, the manifest store as JSON with an
    active manifest, or one sentence saying why there is none to read)."""
    import c2pa

    mime = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(fmt)
    pem, anchors_problem = _read_anchors()
    try:
        context = _c2pa_context(pem)
    except Exception as exc:  # c2pa refused a bundle that cryptography could parse
        pem, anchors_problem = None, _unusable((str(exc).splitlines() or [type(exc).__name__])[0])
        context = _c2pa_context(None)
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.NotSupported:
        return pem, anchors_problem, ("the file seems to carry a C2PA block, but the C2PA reader "
                                      "does not support its format")
    except c2pa.C2paError.ManifestNotFound:
        return pem, anchors_problem, ("the file has a C2PA/JUMBF block but no readable manifest "
                                      "in it (damaged or truncated)")
    except Exception as exc:  # C2paError subclasses, ValueError on odd formats, ...
        reason = cap(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)
        return pem, anchors_problem, f"the C2PA manifest is corrupted and could not be read ({reason})"
    manifests = store.get("manifests") if isinstance(store, dict) else None
    manifest = manifests.get(store.get("active_manifest")) if isinstance(manifests, dict) else None
    if not isinstance(manifest, dict):
        return pem, anchors_problem, "the C2PA manifest store has no active manifest"
    return pem, anchors_problem, store


def _claim_signals(manifest: dict[str, Any], trust: str) -> list[dict[str, Any]]:
    """What the manifest claims (digital source types, the claim generator), weighed by trust."""
    top = {"trusted": "strong", "untrusted": "moderate", "invalid": "weak"}[trust]
    how = {"trusted": "signed by a trusted signer",
           "untrusted": "a claim by an untrusted signer, not proof",
           "invalid": "but the manifest fails validation, so the claim cannot be relied on"}[trust]
    out: list[dict[str, Any]] = []
    source_types: list[str] = []
    _find_source_types(manifest.get("assertions"), source_types)
    for value in source_types[:3]:
        code = source_type_code(value)
        direction, says = DIGITAL_SOURCE_TYPES.get(code, ("neutral", f"its source type is {code}"))
        strength = top if direction != "neutral" else "info"
        out.append(make_signal("c2pa", "digitalSourceType", value,
                               f"The C2PA manifest declares {says} ({code}); {how}.", strength,
                               direction))
    generator = _claim_generator(manifest)
    if generator:
        gen = match_tool(generator, GEN_RE)
        out.append(make_signal("c2pa", "claim_generator", generator, (
            f"The manifest was written by {generator}"
            + (f", which is {gen}, an AI image generator." if gen else ".")),
            ("moderate" if trust == "trusted" else "weak") if gen else "info",
            "synthetic" if gen else "neutral"))
    return out


def _trust_list_words(pem: str | None, anchors_problem: str | None) -> str:
    """Why a signer reads untrusted, in words: no list, an unusable list, or not on it."""
    if anchors_problem:
        return f"no trust list could be used: {anchors_problem}"
    if pem is None:
        return "no trust list is configured (SYNTHCHECK_C2PA_TRUST_ANCHORS)"
    return "the certificate chains to none of the configured trust anchors"


def _trust_signals(manifest: dict[str, Any], validation: Any, listed: str) -> list[dict[str, Any]]:
    """The signer and the validation signals (value ``trusted`` | ``untrusted`` | ``invalid``)."""
    trust = validation.state
    sig = manifest.get("signature_info") or {}
    signer = cap(" / ".join(str(sig[k]) for k in ("common_name", "issuer") if sig.get(k)) or
                 "unknown signer", 160)
    codes = ", ".join(validation.trust_codes)
    if trust == "trusted":
        meaning = f"Signed by {signer}, a certificate that chains to a configured trust anchor."
    elif trust == "untrusted":
        meaning = (f"Signed by {signer}, a certificate on no trust list SynthCheck knows"
                   + (f" ({codes})" if codes else "") + f"; {listed}. Anyone can make such a "
                   "certificate, so the manifest is a claim by an untrusted signer, not proof.")
    else:
        meaning = f"Signed by {signer}, but the signature or hashes do not validate."
    out = [make_signal("c2pa", "signer", signer, meaning, "info", "neutral")]
    if trust == "invalid":
        altered = any("dataHash.mismatch" in c or "hashedURI.mismatch" in c
                      for c in validation.failures)
        shown = ", ".join(validation.failures[:8]) or f"validation_state {validation.validator_state}"
        out.append(make_signal("c2pa", "validation", trust, (
            f"The manifest fails validation ({cap(shown, 300)}): the file was changed after "
            "signing or the manifest is damaged, so its claims cannot be relied on."),
            "moderate" if altered else "weak", "edited" if altered else "neutral"))
    elif trust == "trusted":
        out.append(make_signal("c2pa", "validation", trust, (
            "The manifest's signature and hashes validate and the signer chains to a configured "
            "trust anchor."), "info", "neutral"))
    else:
        out.append(make_signal("c2pa", "validation", trust, (
            "The manifest's signature and hashes validate, so the file is as signed; the signer "
            f"is untrusted ({listed}), which is about trust, not tampering."),
            "info", "neutral"))
    return out
