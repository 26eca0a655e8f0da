"""Signed case reports: Ed25519 over a canonical JSON form, so any change is detected.

Key: created on first use under ``synthcheck_home()/keys/`` (private key PEM with mode 0600,
public key PEM beside it). Its fingerprint is the SHA-256 (hex) of the raw 32-byte public key;
publish it so reviewers can compare (``verify_report(..., trusted_fingerprint=...)``).

What is signed: the canonical JSON (sorted keys, no whitespace, UTF-8, ``json-sorted-keys-
compact-utf8``) of the whole report with the ``signature`` block minus its ``value``; so the
key, fingerprint, time and algorithm are covered too.

What is written: the signed report as JSON with sorted keys and two-space indentation, UTF-8,
one trailing newline (``FILE_LAYOUT``). ``verify_report(path)`` re-serialises the parsed file in
that layout and requires the exact same bytes, then checks the signature. So *every* byte change
is detected: a change that keeps the layout must change the content (the signature fails), and
a change that keeps the content (whitespace, key order, escapes) breaks the layout check, which
says "the file was re-formatted or edited after signing". A report re-signed with another key
verifies as a signature but shows another fingerprint: pass ``trusted_fingerprint`` (or compare
the printed fingerprint with the published one) to catch that.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..fsio import atomic_write_bytes, file_sha256
from ..home import synthcheck_home
from ..timestamps import utc_now

ALGORITHM = "Ed25519"
CANONICALIZATION = "json-sorted-keys-compact-utf8"
FILE_LAYOUT = "json-sorted-keys-indent2-utf8-newline"
KEY_NAME = "report-signing-ed25519"


class ReportReadError(ValueError):
    """The report file cannot be read or parsed (exit status 2 in the CLI)."""


# -- serialisation ------------------------------------------------------------------------
def canonical_json(obj: Any) -> bytes:
    """The signed byte form: sorted keys, compact separators, UTF-8 (no ASCII escaping)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def file_bytes(report: dict[str, Any]) -> bytes:
    """The exact bytes a signed report file must have (readable, and a function of its content)."""
    return (json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _signed_payload(report: dict[str, Any]) -> bytes:
    """What the signature covers: the report with its signature block minus ``value``."""
    body = {k: v for k, v in report.items() if k != "signature"}
    sig = report.get("signature")
    if isinstance(sig, dict):
        body["signature"] = {k: v for k, v in sig.items() if k != "value"}
    return canonical_json(body)


def fingerprint_of(public_key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def group_fingerprint(fp: str | None, size: int = 4) -> str:
    """``abcd1234...`` -> ``abcd 1234 ...`` for reading aloud or comparing by eye."""
    fp = fp or ""
    return " ".join(fp[i:i + size] for i in range(0, len(fp), size))


def normalize_fingerprint(fp: str) -> str:
    """Lower-case hex without spaces or colons (so grouped and plain forms compare equal)."""
    return "".join(ch for ch in fp.lower() if ch in "0123456789abcdef")


# -- the key ------------------------------------------------------------------------------
def key_paths(home: Path | None = None) -> tuple[Path, Path]:
    """(private PEM, public PEM) under ``<home>/keys``."""
    folder = (Path(home) if home is not None else synthcheck_home()) / "keys"
    return folder / f"{KEY_NAME}.pem", folder / f"{KEY_NAME}.pub.pem"


def load_or_create_key(home: Path | None = None) -> Ed25519PrivateKey:
    """The installation's signing key, created (0600 PEM, race-safe) on first use."""
    priv_path, pub_path = key_paths(home)
    if not priv_path.exists():
        priv_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=priv_path.parent, prefix=".key-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):  # another process created it meanwhile
                try:
                    os.link(tmp, priv_path)  # atomic: readers never see a half-written key
                except FileExistsError:
                    raise
                except OSError:  # no hard links on this file system: exclusive create instead
                    fd2 = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd2, "wb") as f:
                        f.write(pem)
        finally:
            os.unlink(tmp)
    try:
        key = serialization.load_pem_private_key(priv_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{priv_path} is not an unencrypted Ed25519 PEM key ({exc}).") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{priv_path} holds a {type(key).__name__}, not an Ed25519 key.")
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if not pub_path.exists() or pub_path.read_bytes() != pub_pem:
        pub_path.write_bytes(pub_pem)
    return key


def public_fingerprint(home: Path | None = None) -> str:
    """Fingerprint of this installation's signing key (creating the key if needed)."""
    return fingerprint_of(load_or_create_key(home).public_key())


# -- signing ------------------------------------------------------------------------------
def sign_report(report: dict[str, Any], home: Path | None = None,
                key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """A JSON-normalised copy of ``report`` with a ``signature`` block (any old one replaced)."""
    key = key or load_or_create_key(home)
    body = json.loads(json.dumps({k: v for k, v in report.items() if k != "signature"}))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body["signature"] = {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(raw).decode("ascii"),
        "fingerprint": fingerprint_of(key.public_key()),
        "signed_utc": utc_now(),
        "canonicalization": CANONICALIZATION,
        "file_layout": FILE_LAYOUT,
        "how_to_verify": "synthcheck report verify REPORT.json [--images DIR] [--fingerprint HEX]",
    }
    body["signature"]["value"] = base64.b64encode(key.sign(_signed_payload(body))).decode("ascii")
    return body


def write_signed_json(signed: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a signed report in the verified file layout (atomically)."""
    return atomic_write_bytes(Path(path), file_bytes(signed))


# -- verifying ----------------------------------------------------------------------------
@dataclass
class ReportCheck:
    """Outcome of :func:`verify_report`; ``problems`` empty iff ``ok``."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    fingerprint: str = ""
    signed_utc: str | None = None
    notes: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "fingerprint": self.fingerprint,
                "fingerprint_grouped": group_fingerprint(self.fingerprint), "signed_utc": self.signed_utc,
                "problems": list(self.problems), "notes": list(self.notes), "images": list(self.images)}


def read_report_file(path: str | os.PathLike) -> tuple[bytes, dict[str, Any]]:
    """Raw bytes and parsed object of a report file; :class:`ReportReadError` when unusable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportReadError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    return data, parse_report_bytes(data, str(path))


def _check_signature(report: dict[str, Any], problems: list[str]) -> tuple[str, str | None]:
    """Append signature problems; return (fingerprint of the embedded key, signed_utc)."""
    sig = report.get("signature")
    if not isinstance(sig, dict):
        problems.append("the report is not signed (no signature block)")
        return "", None
    fp = str(sig.get("fingerprint") or "")
    if sig.get("algorithm") != ALGORITHM:
        problems.append(f"unsupported signature algorithm {sig.get('algorithm')!r} (expected {ALGORITHM})")
        return fp, sig.get("signed_utc")
    if sig.get("canonicalization") != CANONICALIZATION:
        problems.append(f"unknown canonicalization {sig.get('canonicalization')!r}")
        return fp, sig.get("signed_utc")
    try:
        raw = base64.b64decode(str(sig.get("public_key", "")), validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except ValueError:
        problems.append("the signature block is damaged (public key or value is not valid base64 "
                        "of the right length)")
        return fp, sig.get("signed_utc")
    actual_fp = hashlib.sha256(raw).hexdigest()
    if fp != actual_fp:
        problems.append(f"the recorded fingerprint {fp[:16]}... does not belong to the embedded public key "
                        f"({actual_fp[:16]}...)")
    try:
        public.verify(value, _signed_payload(report))
    except InvalidSignature:
        problems.append("the signature does not match the content: the report was changed after signing")
    return actual_fp, sig.get("signed_utc")


def _hash_folder(folder: Path, max_files: int = 100_000) -> dict[str, list[Path]]:
    """SHA-256 -> files for every regular file under ``folder`` (recursive, bounded)."""
    out: dict[str, list[Path]] = {}
    for i, p in enumerate(sorted(folder.rglob("*"))):
        if i >= max_files:
            break
        if p.is_file() and not p.is_symlink():
            out.setdefault(file_sha256(p), []).append(p)
    return out


def _check_images(report: dict[str, Any], images_dir: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Find each recorded image in ``images_dir`` by SHA-256 (any name) and report what is missing."""
    if not images_dir.is_dir():
        problems.append(f"{images_dir} is not a folder")
        return []
    by_hash = _hash_folder(images_dir)
    rows = []
    images = report.get("images")
    for i, im in enumerate(images if isinstance(images, list) else [], start=1):
        info = im.get("input") if isinstance(im, dict) else None
        info = info if isinstance(info, dict) else {}
        name, sha = str(info.get("path") or f"image {i}"), info.get("sha256")
        sha = sha if isinstance(sha, str) else None
        if not sha:
            rows.append({"image": name, "status": "no hash recorded"})
            continue
        if sha in by_hash:
            rows.append({"image": name, "sha256": sha, "status": "match",
                         "found": str(by_hash[sha][0].relative_to(images_dir))})
            continue
        same_name = images_dir / Path(name).name
        if same_name.is_file():
            actual = file_sha256(same_name)
            problems.append(f"{same_name.name} differs from the analysed image (SHA-256 {actual[:16]}... "
                            f"instead of {sha[:16]}...)")
            rows.append({"image": name, "sha256": sha, "status": "changed", "actual_sha256": actual})
        else:
            problems.append(f"{Path(name).name} (SHA-256 {sha[:16]}...) is not in {images_dir}")
            rows.append({"image": name, "sha256": sha, "status": "missing"})
    return rows


def parse_report_bytes(data: bytes, label: str = "report") -> dict[str, Any]:
    """Parse a report file's bytes; :class:`ReportReadError` when they are not a JSON object."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportReadError(f"{label}: is not a JSON report ({exc}).") from exc
    if not isinstance(obj, dict):
        raise ReportReadError(f"{label}: is not a JSON report (top level is not an object).")
    return obj


def verify_report(report: dict[str, Any] | bytes | str | os.PathLike,
                  images_dir: str | os.PathLike | None = None, trusted_fingerprint: str | None = None,
                  home: Path | None = None) -> ReportCheck:
    """Check a signed report (dict, file bytes or path): layout, signature, key, optionally images.

    Raises :class:`ReportReadError` only when a file cannot be read or parsed.
    """
    problems: list[str] = []
    notes: list[str] = []
    path = None
    if isinstance(report, dict):
        obj = report
    else:
        if isinstance(report, (bytes, bytearray)):
            data = bytes(report)
            obj = parse_report_bytes(data)
        else:
            path = str(report)
            data, obj = read_report_file(report)
        if data != file_bytes(obj):
            problems.append("the file was re-formatted or edited after signing (its bytes differ from "
                            "the signed layout)")
    fp, signed_utc = _check_signature(obj, problems)
    if trusted_fingerprint is not None:
        want = normalize_fingerprint(trusted_fingerprint)
        if len(want) != 64:
            problems.append(f"the trusted fingerprint {trusted_fingerprint!r} is not a SHA-256 "
                            "(64 hex digits); the report's key is " + (group_fingerprint(fp) or "(none)"))
        elif fp != want:
            problems.append(f"signed by key {group_fingerprint(fp) or '(none)'}, not by the trusted key "
                            f"{group_fingerprint(want)}")
        else:
            notes.append("signed by the trusted key")
    elif fp:
        _, pub = key_paths(home)
        if pub.exists():
            try:
                local = fingerprint_of(serialization.load_pem_public_key(pub.read_bytes()))
            except (ValueError, TypeError):
                local = None
            notes.append("signed by this installation's key" if local == fp else
                         "signed by another key than this installation's: compare the fingerprint "
                         "with the one its author published")
        else:
            notes.append("compare the fingerprint with the one the report's author published")
    rows = _check_images(obj, Path(images_dir), problems) if images_dir is not None else []
    hashed = [r for r in rows if r.get("sha256")]
    if images_dir is not None and hashed:
        matched = sum(r["status"] == "match" for r in hashed)
        notes.append(f"{matched} of {len(hashed)} analysed images found in {images_dir} with their "
                     "recorded SHA-256" + (f"; {len(rows) - len(hashed)} unreadable at analysis time "
                                           "(no hash recorded)" if len(rows) > len(hashed) else ""))
    return ReportCheck(ok=not problems, problems=problems, fingerprint=fp, signed_utc=signed_utc,
                       notes=notes, images=rows, path=path)


def copy_without_signature(report: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``report`` without its signature block (e.g. to re-analyse or re-sign)."""
    return copy.deepcopy({k: v for k, v in report.items() if k != "signature"})
