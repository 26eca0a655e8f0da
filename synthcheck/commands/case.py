"""``synthcheck case new|add|analyze|show|export|verify|list|note|tag|log``: cases from the shell.

Thin layer over :mod:`synthcheck.cases`. Exit codes (:mod:`.common`): 0 ok (``verify``: verified),
1 ``verify`` failed (or the database failed), 2 bad input (unknown case, unreadable or rejected
inputs), 3 ``verify`` incomplete. ``--json`` on
every action prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..bands import DEFAULT_EDGES
from .common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_FOR_STATUS, EXIT_OK, seed_arg, verify_epilog

if TYPE_CHECKING:
    from ..progress import Progress


def _progress(verb: str) -> Progress:
    """A ``progress(done, total)`` callback: a bar on a terminal's stderr, else one
    ``verb: done/total`` line on stderr at the end (close it, or use it as a context manager)."""
    from ..progress import Progress

    return Progress(verb, final_line=True)


def _out(args: argparse.Namespace, obj: Any, lines: list[str]) -> None:
    if args.json:
        from .common import print_json

        print_json(obj)
    else:
        print("\n".join(lines))


def cmd_new(args: argparse.Namespace) -> int:
    from ..cases import create_case

    case = create_case(args.title, notes=args.notes or "", tags=args.tag or [], case_id=args.id,
                       actor=args.actor)
    _out(args, case, [f"created case {case['id']}: {case['title']}",
                      f"next: synthcheck case add {case['id']} PATH..."])
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    from ..cases import add_images

    with _progress("taken in") as progress:
        report = add_images(args.case, args.paths, actor=args.actor,
                            progress=None if args.json else progress)
    lines = [f"added      {a['sha256'][:16]}  {a['name']}" for a in report.added]
    lines += [f"duplicate  {d['sha256'][:16]}  {d['name']} (same bytes as {d['duplicate_of']})"
              for d in report.duplicates]
    for r in report.rejected:
        if not args.json:  # imageio's messages already start with the name
            said = r["reason"] if r["reason"].startswith(f"{r['name']}: ") else f"{r['name']}: {r['reason']}"
            print(f"REJECTED   {said}", file=sys.stderr)
    lines.append(f"{len(report.added)} added, {len(report.duplicates)} duplicate(s), "
                 f"{len(report.rejected)} rejected, {report.hidden_skipped} hidden skipped "
                 f"({report.seconds:.1f} s)")
    _out(args, report.to_dict(), lines)
    return EXIT_BAD_INPUT if report.rejected else EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..analysis import counts_phrase
    from ..cases import analyze_case
    from .common import load_detector

    detector = load_detector(args)
    with _progress("analysed") as progress:
        result = analyze_case(args.case, detector, edges=args.band_edges, tiles=args.tiles,
                              seed=args.seed, threshold=args.threshold, only_new=args.only_new,
                              control=not args.no_control, actor=args.actor, progress=progress)
    lines = [_record_line(r) + f"  {r['path']}" for r in result["records"] if "error" not in r]
    cr = result["control_run"]
    if cr is not None:
        state = {True: "passed", False: "FAILED", None: "unavailable"}[cr["ok"]]
        acc = f", accuracy {cr['accuracy']:.1%}" if cr.get("accuracy") is not None else ""
        reused = " (reused today's run)" if cr["reused"] else ""
        lines.append(f"control run {state}{acc}{reused}")
        lines += [f"  {p}" for p in cr.get("problems") or []]
    lines.append(f"{result['n_analysed']} analysed: {counts_phrase(result)}; {result['n_errors']} error(s); "
                 f"model {result['model']['name']} {str(result['model']['sha256'])[:16]}...")
    for p in result["problems"]:
        print(f"ERROR  {p}", file=sys.stderr)
    _out(args, result, lines)
    return EXIT_BAD_INPUT if result["n_errors"] else EXIT_OK


def _record_line(rec: dict[str, Any]) -> str:
    """A stored analysis record on one line: the conclusion and the score in the one wording
    (:func:`synthcheck.commands.text.record_lines`), without the path."""
    from .text import record_lines

    head, score = record_lines(rec, name="")[:2]
    return f"{head.strip():17s} {score.strip()}"


def _show_lines(case: dict[str, Any], entries: list[Any] | None) -> list[str]:
    head = case["audit_head"]
    lines = [f"case {case['id']}: {case['title']}",
             f"created {case['created_utc']} by {case['created_by']}; "
             f"audit head #{head['seq']} {head['hash'][:16]}...",
             f"tags: {', '.join(case['tags']) or '-'}"]
    lines += [f"note ({n['created_utc'][:19]}, {n['actor']}): {n['text']}" for n in case["notes"]]
    cr = case["control_run"]
    if cr is None:
        lines.append("control run: none yet (run `synthcheck case analyze`)")
    else:
        state = {True: "passed", False: "FAILED", None: "unavailable"}[cr["ok"]]
        acc = f", accuracy {cr['accuracy']:.1%}" if cr.get("accuracy") is not None else ""
        lines.append(f"control run: {state} at {cr.get('when_utc')}{acc}")
    lines.append(f"{case['n_images']} image(s), {case['n_analysed']} analysed:")
    for im in case["images"]:
        a = im["analysis"]
        verdict = _record_line(a["record"]) if a else f"{'not analysed':42s}"
        extra = f"  [{', '.join(im['tags'])}]" if im["tags"] else ""
        lines.append(f"  {im['sha256'][:12]}  {verdict}  {im['name']}{extra}")
    for e in entries or []:
        lines.append(f"#{e.seq:<5d} {e.ts[:19]}  {e.actor:12s} {e.action:16s} {_entry_summary(e.details)}")
    return lines


def _entry_summary(details: dict[str, Any]) -> str:
    keys = ("title", "name", "text", "tag", "conclusion", "verdict", "ok", "n_added", "n_analysed",
            "out_dir")
    return "  ".join(f"{k}={details[k]}" for k in keys if k in details)[:120]


def cmd_show(args: argparse.Namespace) -> int:
    from ..cases import audit_entries, get_case

    case = get_case(args.case)
    entries = audit_entries(args.case) if args.audit else None
    obj = {**case, "audit": [e.to_dict() for e in entries]} if entries is not None else case
    _out(args, obj, _show_lines(case, entries))
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    from ..cases import audit_entries

    entries = audit_entries(args.case)
    _out(args, [e.to_dict() for e in entries],
         [f"#{e.seq:<5d} {e.ts}  {e.actor:12s} {e.action:16s} {_entry_summary(e.details)}"
          for e in entries])
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from ..cases import list_cases

    rows = list_cases()
    lines = [f"{r['id']:20s} {r['created_utc'][:10]}  {r['n_images']:5d} img  {r['n_analysed']:5d} done  "
             f"{r['title']}" for r in rows] or ["no cases yet (synthcheck case new TITLE)"]
    _out(args, rows, lines)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from ..cases import export_case
    from .common import load_detector

    detector = load_detector(args)
    methods = [] if args.methods == ["none"] else args.methods
    with _progress("report images") as progress:
        result = export_case(args.case, args.out, detector, seed=args.seed, methods=methods,
                             name=args.name, with_images=args.with_images, actor=args.actor,
                             progress=progress)
    lines = [f"{kind:4s} {f['path']}  sha256 {f['sha256'][:16]}..." for kind, f in result["files"].items()]
    lines.append(f"signed by key {result['fingerprint']}" if result["signed"]
                 else "NOT signed (the signing module is unavailable)")
    lines.append(f"logged as audit entry #{result['audit_seq']}; check with: synthcheck report verify "
                 f"{result['files']['json']['path']}")
    _out(args, result, lines)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from ..cases import verify_case

    result = verify_case(args.case, record=not args.no_record, actor=args.actor,
                         reports=args.report or [])
    lines = [result.summary()] + [f"  - {p}" for p in result.problems[1:]]
    lines += [f"  warning: {w}" for w in result.warnings[0 if result.status == "failed" else 1:]]
    _out(args, result.to_dict(), lines)
    return EXIT_FOR_STATUS[result.status]


def cmd_note(args: argparse.Namespace) -> int:
    from ..cases import add_note

    entry = add_note(args.case, args.text, image=args.image, actor=args.actor)
    _out(args, entry, [f"note logged as audit entry #{entry['seq']}"])
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    from ..cases import tag

    now = tag(args.case, args.tags, image=args.image, remove=args.remove, actor=args.actor)
    _out(args, {"tags": now}, [f"tags now: {', '.join(now) or '-'}"])
    return EXIT_OK


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "new": cmd_new, "add": cmd_add, "analyze": cmd_analyze, "show": cmd_show, "export": cmd_export,
    "verify": cmd_verify, "list": cmd_list, "note": cmd_note, "tag": cmd_tag, "log": cmd_log}


def cmd_case(args: argparse.Namespace) -> int:
    """Run one action; user errors become one line on stderr and an exit code, never a traceback."""
    import sqlite3

    from ..cases import CaseError
    from ..errors import SynthCheckError

    where = f"synthcheck case {args.case_command}"
    try:
        return HANDLERS[args.case_command](args)
    except (CaseError, SynthCheckError) as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except sqlite3.Error as exc:
        print(f"{where}: database error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"{where}: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return EXIT_BAD_INPUT


def register(subparsers: argparse._SubParsersAction) -> None:
    from .common import add_detector_args

    p = subparsers.add_parser(
        "case", help="cases: evidence images with a tamper-evident audit log",
        description="Keep evidence in cases (stored by SHA-256 under $SYNTHCHECK_HOME, originals "
                    "never modified), analyse it, verify the hash-chained audit log and export a "
                    "signed report. Exit codes: 0 ok, 1 failed (or a database error), 2 bad "
                    "input, 3 verify incomplete.")
    sub = p.add_subparsers(dest="case_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, detector: bool = False) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.add_argument("--actor", help="who is acting (default $SYNTHCHECK_ACTOR or the OS user)")
        if detector:
            add_detector_args(q)
        else:
            q.add_argument("--json", action="store_true", help="print JSON on stdout")
        if name not in ("new", "list"):
            q.add_argument("case", help="case id (see `synthcheck case list`)")
        return q

    q = action("new", "create a case")
    q.add_argument("title", help="a short title")
    q.add_argument("--notes", help="a first note")
    q.add_argument("--tag", action="append", help="a tag (repeatable)")
    q.add_argument("--id", help="choose the case id (default: YYYYMMDD-xxxx)")

    q = action("add", "take in image files, folders (recursive) and ZIP archives")
    q.add_argument("paths", nargs="+", help="files, folders or .zip archives")

    q = action("analyze", "analyse the case's images (with a control run first)", detector=True)
    q.add_argument("--band-edges", type=float, nargs=2, default=DEFAULT_EDGES, metavar=("LOW", "HIGH"))
    q.add_argument("--tiles", action="store_true", help="also score native-resolution patches")
    q.add_argument("--seed", type=seed_arg, default=0, help="seed recorded with the analysis (default 0)")
    q.add_argument("--only-new", action="store_true", help="only images never analysed")
    q.add_argument("--no-control", action="store_true", help="skip the control run")

    q = action("show", "the case: notes, tags, control run, images with their latest verdicts")
    q.add_argument("--audit", action="store_true", help="also print the audit log")

    q = action("export", "signed case report (JSON + HTML + PDF)", detector=True)
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--name", default="report", help="file name stem (default report)")
    q.add_argument("--seed", type=seed_arg, default=0, help="seed of the sampling explainers")
    q.add_argument("--methods", nargs="+", default=["gradcam"],
                   help="explanation methods (default gradcam; 'none' for none)")
    q.add_argument("--with-images", action="store_true",
                   help="also copy the images into OUT/images (for `report verify --images`)")

    q = action("verify", "check the audit log, the evidence rows and the stored images")
    q.epilog = "case verify " + verify_epilog(
        "a broken or truncated audit log, altered or unlogged evidence rows, a stored image missing "
        "or replaced, a --report the log no longer holds",
        "all that was checked holds, but not every stored image was checked",
        "no such case, or a --report that cannot be read")
    q.add_argument("--no-record", action="store_true", help="do not log this verification")
    q.add_argument("--report", action="append", metavar="REPORT.json",
                   help="a signed report exported from this case: the log must still hold the "
                        "head it recorded and its export entry (repeatable)")

    action("list", "list the cases")

    q = action("note", "append a note to the case or to one image")
    q.add_argument("text")
    q.add_argument("--image", help="SHA-256 prefix or original name of an image")

    q = action("tag", "add (or --remove) tags on the case or one image")
    q.add_argument("tags", nargs="+")
    q.add_argument("--image", help="SHA-256 prefix or original name of an image")
    q.add_argument("--remove", action="store_true")

    action("log", "print the audit log")
    p.set_defaults(func=cmd_case)
