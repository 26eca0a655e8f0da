"""Case store benchmark: intake of 1,000 images (no model) and ``case verify`` of a 10,000-entry log.

    .venv/bin/python benchmarks/bench_cases.py                     # generated 32x32 JPEGs
    .venv/bin/python benchmarks/bench_cases.py --data /work/data/cifake --json

Intake = walk a folder, validate each file with ``load_image``, hash, store the blob (temp file,
fsync, atomic rename), insert rows and one audit entry per image. Verify = recompute the hash
chain, re-digest every evidence row the log pins and re-hash every stored image. Targets on a
2-core CPU: intake <= 60 s, verify of 10,000 entries <= 5 s. Runs in a temporary
SYNTHCHECK_HOME (nothing of yours is touched).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

INTAKE_TARGET_S, VERIFY_TARGET_S = 60.0, 5.0


def write_images(folder: Path, n: int, data: str | None) -> int:
    """``n`` image files in ``folder`` (CIFAKE test JPEGs when ``data`` is given, else generated)."""
    folder.mkdir(parents=True, exist_ok=True)
    if data:
        files = sorted(Path(data).glob("test/*/*.jpg"))
        step = max(1, len(files) // n)
        for i, f in enumerate(files[::step][:n]):
            (folder / f"{i:05d}.jpg").write_bytes(f.read_bytes())
        return len(list(folder.iterdir()))
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
        (folder / f"{i:05d}.jpg").write_bytes(buf.getvalue())
    return n


def grow_log(case_id: str, n_entries: int) -> float:
    """Append notes (rows + pinned audit entries) until the log has ``n_entries``; seconds taken."""
    from synthcheck.cases import service
    from synthcheck.cases.store import opened, transaction

    t0 = time.perf_counter()
    with opened() as conn:
        have = service.get_case(case_id)["audit_head"]["seq"]
        for start in range(have, n_entries, 1000):
            with transaction(conn):
                for i in range(start, min(start + 1000, n_entries)):
                    service._insert_note(conn, case_id, None, f"bench note {i}", "bench")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"), help="CIFAKE root (optional)")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON (last line)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        os.environ["SYNTHCHECK_HOME"] = str(Path(tmp) / "home")
        from synthcheck import cases
        from synthcheck.cases import audit, store

        folder = Path(tmp) / "evidence"
        n = write_images(folder, args.images, args.data)
        case_id = cases.create_case("benchmark")["id"]
        t0 = time.perf_counter()
        report = cases.add_images(case_id, [folder])
        intake_s = time.perf_counter() - t0
        assert len(report.added) == n, report.rejected[:3]

        grow_s = grow_log(case_id, args.entries)
        with store.opened() as conn:
            rows = audit.read_rows(conn, case_id)
            head = conn.execute("SELECT head_seq, head_hash FROM cases WHERE id = ?", (case_id,)).fetchone()
        t0 = time.perf_counter()
        chain = audit.verify_chain(case_id, rows, head[0], head[1])
        chain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        check = cases.verify_case(case_id, record=False)
        verify_s = time.perf_counter() - t0
        assert chain.ok and check.ok, check.problems[:3]

    figures = {
        "images": n, "source": "cifake" if args.data else "generated 32x32 JPEG",
        "intake_s": round(intake_s, 2), "intake_images_per_s": round(n / intake_s, 1),
        "intake_target_s": INTAKE_TARGET_S, "intake_ok": intake_s <= INTAKE_TARGET_S,
        "log_entries": check.n_entries, "log_build_s": round(grow_s, 2),
        "verify_chain_only_s": round(chain_s, 3), "verify_case_s": round(verify_s, 3),
        "verify_rows_checked": check.n_rows_checked, "verify_blobs_checked": check.n_images_checked,
        "verify_target_s": VERIFY_TARGET_S, "verify_ok": verify_s <= VERIFY_TARGET_S,
        "cpus": os.cpu_count(),
    }
    print(f"intake: {n} images in {intake_s:.2f} s ({n / intake_s:.0f}/s; target <= {INTAKE_TARGET_S:g} s)",
          file=sys.stderr)
    print(f"verify: {check.n_entries} entries, {check.n_rows_checked} rows, {check.n_images_checked} blobs "
          f"in {verify_s:.3f} s (chain alone {chain_s:.3f} s; target <= {VERIFY_TARGET_S:g} s)",
          file=sys.stderr)
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    return 0 if figures["intake_ok"] and figures["verify_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
