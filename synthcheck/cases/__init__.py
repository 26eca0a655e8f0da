"""Cases: evidence images with a tamper-evident audit log, analysed, verified and exported.

One SQLite database under ``synthcheck_home()`` holds every case; images are stored once,
content-addressed by SHA-256 (originals are never modified); every action is an entry of the
case's hash-chained audit log, so ``verify_case`` detects any edit, deletion or reordering and
names the first broken entry; after each write session the head is signed into an anchor
file kept apart from the database, so even a truncated or recomputed log fails. The faces
(``synthcheck case``, ``/v1/cases``, the Cases page) call only the functions re-exported here.

    from synthcheck.cases import create_case, add_images, analyze_case, verify_case, export_case
    case = create_case("Harbour photos", tags=["press"])
    add_images(case["id"], ["photos/", "more.zip"])
    analyze_case(case["id"], detector)
    assert verify_case(case["id"]).ok
    export_case(case["id"], "out/", detector)      # signed JSON + HTML + PDF
"""

from ..intake import Candidate, IntakeLimits, Rejection, iter_intake
from .analysis import analyze_case, code_version, model_identity, record_control_run
from .anchors import anchor_head, anchors_path, latest_anchor
from .audit import AuditEntry, ChainCheck, verify_chain
from .check import CaseCheck, check_case, verify_case
from .export import export_case, export_dir
from .service import (
    CaseError,
    CaseNotFound,
    IntakeReport,
    add_images,
    add_note,
    audit_entries,
    create_case,
    get_case,
    list_cases,
    tag,
)
from .store import BlobStore, db_path

__all__ = [
    "AuditEntry", "BlobStore", "Candidate", "CaseCheck", "CaseError", "CaseNotFound", "ChainCheck",
    "IntakeLimits", "IntakeReport", "Rejection", "add_images", "add_note", "analyze_case",
    "anchor_head", "anchors_path", "audit_entries", "check_case", "code_version", "create_case",
    "db_path", "export_case", "export_dir", "get_case", "iter_intake", "latest_anchor",
    "list_cases", "model_identity", "record_control_run", "tag", "verify_case", "verify_chain",
]
