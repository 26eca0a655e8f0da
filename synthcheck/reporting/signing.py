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
from ..imageio import display_name, read_bounded
from ..timestamps import utc_now
from .verification import UNREADABLE, VERIFIED, Coverage, Status, decide, describe

ALGORITHM = "Ed25519"
CANONICALIZATION = "json-sorted-keys-compact-utf8"
FILE_LAYOUT = "json-sorted-keys-indent2-utf8-newline"
KEY_NAME = "report-signing-ed25519"
MAX_REPORT_BYTES = 512 * 2**20  # a larger file is refused unread (reports embed pictures, so allow a lot)
MAX_DEPTH = 64  # reports nest about ten levels; deeper JSON is not a report


class ReportReadError(ValueError):
    """The report file cannot be read or parsed (:func:`verify_report` says ``unreadable``)."""


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
    """Outcome of :func:`verify_report`: one :data:`~.verification.Status` and what led to it.

    ``problems`` is empty unless the status is ``failed`` or ``unreadable``; images listed but not
    supplied are rows with status ``missing`` and the ``coverage`` count, not problems.
    """

    status: Status
    problems: list[str] = field(default_factory=list)
    fingerprint: str = ""
    signed_utc: str | None = None
    notes: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    path: str | None = None
    coverage: Coverage = field(default_factory=Coverage)

    @property
    def ok(self) -> bool:
        """True only when ``verified``."""
        return self.status == VERIFIED

    def summary(self) -> str:
        """The one sentence every face shows (:func:`~.verification.describe`)."""
        return describe(self.status, self.coverage, self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "ok": self.ok, "summary": self.summary(), "path": self.path,
                "fingerprint": self.fingerprint, "fingerprint_grouped": group_fingerprint(self.fingerprint),
                "signed_utc": self.signed_utc, **self.coverage.to_dict(), "problems": list(self.problems),
                "notes": list(self.notes), "images": list(self.images)}


def read_report_file(path: str | os.PathLike) -> tuple[bytes, dict[str, Any]]:
    """Raw bytes and parsed object of a report file; :class:`ReportReadError` when unusable.

    Only a regular file of at most :data:`MAX_REPORT_BYTES` is read (a FIFO or a device is
    refused without a read, so a check never hangs).
    """
    data = read_bounded(path, MAX_REPORT_BYTES)
    if isinstance(data, str):
        raise ReportReadError(f"{display_name(path)}: {data}.")
    return data, parse_report_bytes(data, display_name(path))


def _check_signature(report: dict[str, Any], problems: list[str]) -> tuple[str, str | None]:
    """Append signature problems; return (fingerprint of the embedded key, signed_utc)."""
    sig = report.get("signature")
    if not isinstance(sig, dict):
        problems.append("the report is not signed (no signature block)")
        return "", None
    fp = str(sig.get("fingerprint") or "")
    signed_utc = sig.get("signed_utc") if isinstance(sig.get("signed_utc"), str) else None
    if sig.get("algorithm") != ALGORITHM:
        problems.append(f"unsupported signature algorithm {sig.get('algorithm')!r} (expected {ALGORITHM})")
        return fp, signed_utc
    if sig.get("canonicalization") != CANONICALIZATION:
        problems.append(f"unknown canonicalization {sig.get('canonicalization')!r}")
        return fp, signed_utc
    try:
        raw = base64.b64decode(str(sig.get("public_key", "")), validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        value = base64.b64decode(str(sig.get("value", "")), validate=True)
    except ValueError:
        problems.append("the signature block is damaged (public key or value is not valid base64 "
                        "of the right length)")
        return fp, signed_utc
    actual_fp = hashlib.sha256(raw).hexdigest()
    if fp != actual_fp:
        problems.append(f"the recorded fingerprint {fp[:16]}... does not belong to the embedded public key "
                        f"({actual_fp[:16]}...)")
    try:
        public.verify(value, _signed_payload(report))
    except InvalidSignature:
        problems.append("the signature does not match the content: the report was changed after signing")
    return actual_fp, signed_utc


def _hash_folder(folder: Path, max_files: int = 100_000) -> dict[str, list[Path]]:
    """SHA-256 -> files for every regular file under ``folder`` (recursive, bounded)."""
    out: dict[str, list[Path]] = {}
    for i, p in enumerate(sorted(folder.rglob("*"))):
        if i >= max_files:
            break
        if p.is_file() and not p.is_symlink():
            out.setdefault(file_sha256(p), []).append(p)
    return out


def _check_images(report: dict[str, Any], images_dir: Path | None, problems: list[str]
                  ) -> tuple[list[dict[str, Any]], Coverage]:
    """Find each recorded image in ``images_dir`` by SHA-256 (any name): rows and counts.

    A file under a listed image's name with other bytes is a problem; an image not supplied is
    only counted (``images_dir`` None: none supplied).
    """
    by_hash = _hash_folder(images_dir) if images_dir is not None else {}
    rows: list[dict[str, Any]] = []
    listed = supplied = matching = mismatched = 0
    images = report.get("images")
    for i, im in enumerate(images if isinstance(images, list) else [], start=1):
        info = im.get("input") if isinstance(im, dict) else None
        info = info if isinstance(info, dict) else {}
        name, sha = str(info.get("path") or f"image {i}"), info.get("sha256")
        sha = sha if isinstance(sha, str) else None
        if not sha:
            rows.append({"image": name, "status": "no hash recorded"})
            continue
        listed += 1
        if sha in by_hash:
            supplied, matching = supplied + 1, matching + 1
            rows.append({"image": name, "sha256": sha, "status": "match",
                         "found": str(by_hash[sha][0].relative_to(images_dir))})
            continue
        same_name = images_dir / Path(name).name if images_dir is not None else None
        if same_name is not None and same_name.is_file():
            supplied, mismatched = supplied + 1, mismatched + 1
            actual = file_sha256(same_name)
            problems.append(f"{same_name.name} differs from the analysed image (SHA-256 {actual[:16]}... "
                            f"instead of {sha[:16]}...)")
            rows.append({"image": name, "sha256": sha, "status": "changed", "found": same_name.name,
                         "actual_sha256": actual})
        else:
            rows.append({"image": name, "sha256": sha, "status": "missing"})
    return rows, Coverage(listed, supplied, matching, mismatched)


def _depth(obj: Any) -> int:
    """How deeply lists and objects nest in ``obj`` (iterative: any depth is measured safely)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_report_bytes(data: bytes, label: str = "report") -> dict[str, Any]:
    """Parse a report file's bytes; :class:`ReportReadError` unless they are a JSON object nested at
    most :data:`MAX_DEPTH` levels."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise ReportReadError(f"{label}: is not a JSON report (nested too deeply to read).") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportReadError(f"{label}: is not a JSON report ({exc}).") from exc
    if not isinstance(obj, dict):
        raise ReportReadError(f"{label}: is not a JSON report (top level is not an object).")
    if _depth(obj) > MAX_DEPTH:
        raise ReportReadError(f"{label}: is not a SynthCheck report (nested more than {MAX_DEPTH} "
                              "levels deep).")
    return obj


def _key_notes(fp: str, trusted_fingerprint: str | None, home: Path | None,
               problems: list[str]) -> list[str]:
    """Whose key signed it: a problem when not the trusted one, otherwise a note."""
    if trusted_fingerprint is not None:
        want = normalize_fingerprint(trusted_fingerprint)
        if len(want) != 64:
            problems.append(f"the trusted fingerprint {trusted_fingerprint!r} is not a SHA-256 "
                            "(64 hex digits); the report's key is " + (group_fingerprint(fp) or "(none)"))
        elif fp != want:
            problems.append(f"signed by key {group_fingerprint(fp) or '(none)'}, not by the trusted key "
                            f"{group_fingerprint(want)}")
        else:
            return ["signed by the trusted key"]
        return []
    if not fp:
        return []
    _, pub = key_paths(home)
    if not pub.exists():
        return ["compare the fingerprint with the one the report's author published"]
    try:
        local = fingerprint_of(serialization.load_pem_public_key(pub.read_bytes()))
    except (ValueError, TypeError):
        local = None
    return ["signed by this installation's key" if local == fp else
            "signed by another key than this installation's: compare the fingerprint "
            "with the one its author published"]


def verify_report(report: dict[str, Any] | bytes | str | os.PathLike,
                  images_dir: str | os.PathLike | None = None, trusted_fingerprint: str | None = None,
                  home: Path | None = None, name: str | None = None) -> ReportCheck:
    """Check a signed report (dict, file bytes or path): layout, signature, key, and its images.

    ``name`` labels the report in messages (default: its path, or "report").

    Never raises for bad input: an unreadable file, bytes that are not a JSON object, nesting
    deeper than :data:`MAX_DEPTH` or an ``images_dir`` that is not a folder give status
    ``unreadable``. Without ``images_dir`` no image is supplied, so a report that lists images
    is at best ``incomplete``.
    """
    path = None if isinstance(report, (dict, bytes, bytearray)) else str(report)
    try:
        if isinstance(report, dict):
            obj, data = report, None
        elif isinstance(report, (bytes, bytearray)):
            data = bytes(report)
            obj = parse_report_bytes(data, name or "report")
        else:
            data, obj = read_report_file(report)
        if "signature" not in obj and "images" not in obj:
            raise ReportReadError(f"{name or path or 'report'}: is not a SynthCheck report (no signature "
                                  "and no images).")
        if images_dir is not None and not Path(images_dir).is_dir():
            raise ReportReadError(f"{images_dir} is not a folder")
        problems: list[str] = []
        if data is not None and data != file_bytes(obj):
            problems.append("the file was re-formatted or edited after signing (its bytes differ from "
                            "the signed layout)")
        fp, signed_utc = _check_signature(obj, problems)
    except ReportReadError as exc:
        return ReportCheck(UNREADABLE, [str(exc)], path=path)
    except RecursionError:  # (a dict passed in directly, nested too deeply to serialise)
        return ReportCheck(UNREADABLE, ["the report is nested too deeply to check"], path=path)
    notes = _key_notes(fp, trusted_fingerprint, home, problems)
    folder = Path(images_dir) if images_dir is not None else None
    rows, coverage = _check_images(obj, folder, problems)
    if len(rows) > coverage.n_listed:
        notes.append(f"{len(rows) - coverage.n_listed} listed image(s) were unreadable at analysis "
                     "time (no hash recorded), so they cannot be checked")
    if folder is None and coverage.n_listed:
        notes.append("no images were supplied, so none was checked")
    return ReportCheck(decide(problems, coverage), problems, fp, signed_utc, notes, rows, path, coverage)
