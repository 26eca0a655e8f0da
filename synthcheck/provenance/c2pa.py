"""C2PA signals: the active Content Credentials manifest read with ``c2pa-python`` (declared
source type, claim generator, signer trust, validation, actions); never fetches anything remote.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from .known import DIGITAL_SOURCE_TYPES, GEN_RE, match_tool, source_type_code
from .signal import cap, make_signal

# ``import c2pa`` below is absolute, so it loads the c2pa-python library, not this module.
_C2PA_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_c2pa_ctx: Any = None
_c2pa_lock = threading.Lock()


def _c2pa_context() -> Any:
    """One shared c2pa Context that never fetches remote manifests or OCSP responses."""
    global _c2pa_ctx
    with _c2pa_lock:
        if _c2pa_ctx is None:
            import c2pa

            _c2pa_ctx = c2pa.Context.from_dict(_C2PA_SETTINGS)
        return _c2pa_ctx


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
        import c2pa
    except ImportError:
        errors.append(f"{name}: a C2PA manifest is present but c2pa-python is not installed, so "
                      "it was not read.")
        return []
    mime = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(fmt)

    def unreadable(why: str) -> list[dict[str, Any]]:
        errors.append(f"{name}: {why}.")
        return [make_signal("c2pa", "manifest", "present but unreadable",
                        f"{why[0].upper()}{why[1:]}, so it says nothing either way.", "info",
                        "neutral")]

    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=_c2pa_context()) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.NotSupported:
        return unreadable("the file seems to carry a C2PA block, but the C2PA reader does not "
                          "support its format")
    except c2pa.C2paError.ManifestNotFound:
        return unreadable("the file has a C2PA/JUMBF block but no readable manifest in it "
                          "(damaged or truncated)")
    except Exception as exc:  # C2paError subclasses, ValueError on odd formats, ...
        reason = cap(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)
        return unreadable(f"the C2PA manifest is corrupted and could not be read ({reason})")
    manifests = store.get("manifests") if isinstance(store, dict) else None
    manifest = manifests.get(store.get("active_manifest")) if isinstance(manifests, dict) else None
    if not isinstance(manifest, dict):
        return unreadable("the C2PA manifest store has no active manifest")

    codes = [s.get("code", "") for s in store.get("validation_status") or [] if isinstance(s, dict)]
    state = str(store.get("validation_state") or "")
    untrusted = "signingCredential.untrusted" in codes
    failures = [c for c in codes if c != "signingCredential.untrusted"]
    if failures or (state == "Invalid" and not untrusted):
        trust, top = "invalid", "weak"
    elif state == "Trusted" and not untrusted:
        trust, top = "trusted", "strong"
    else:
        trust, top = "untrusted", "moderate"

    sig = manifest.get("signature_info") or {}
    signer = cap(" / ".join(str(sig[k]) for k in ("common_name", "issuer") if sig.get(k)) or
                  "unknown signer", 160)
    out: list[dict[str, Any]] = []
    source_types: list[str] = []
    _find_source_types(manifest.get("assertions"), source_types)
    for value in source_types[:3]:
        code = source_type_code(value)
        direction, says = DIGITAL_SOURCE_TYPES.get(code, ("neutral", f"its source type is {code}"))
        how = {"trusted": "signed by a trusted signer",
               "untrusted": "a claim by an untrusted signer, not proof",
               "invalid": "but the manifest fails validation, so the claim cannot be relied on"}[trust]
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
    if trust == "trusted":
        meaning = f"Signed by {signer}, a certificate on a configured trust list."
    elif trust == "untrusted":
        meaning = (f"Signed by {signer}, a certificate on no trust list SynthCheck knows "
                   "(signingCredential.untrusted): anyone can make such a certificate, so the "
                   "manifest is a claim by an untrusted signer, not proof.")
    else:
        meaning = f"Signed by {signer}, but the signature or hashes do not validate."
    out.append(make_signal("c2pa", "signer", signer, meaning, "info", "neutral"))
    if trust == "invalid":
        altered = any("dataHash.mismatch" in c or "hashedURI.mismatch" in c for c in failures)
        out.append(make_signal("c2pa", "validation", failures[:8] or [state], (
            "The manifest fails validation: the file was changed after signing or the manifest "
            "is damaged, so its claims cannot be relied on."), "moderate" if altered else "weak",
            "edited" if altered else "neutral"))
    else:
        out.append(make_signal("c2pa", "validation", trust, (
            "The manifest's signature and hashes validate and the signer is trusted."
            if trust == "trusted" else
            "The manifest's signature and hashes validate, but the signer is untrusted."),
            "info", "neutral"))
    actions = _actions(manifest)
    if actions:
        out.append(make_signal("c2pa", "actions", actions,
                           "The manifest records these actions on the image.", "info", "neutral"))
    return out
