#!/usr/bin/env python
"""One command that measures everything and prints one table (and writes JSON).

Each section runs a benchmark script of this folder in its own process (so imports and
memory are measured cold), reads the JSON object on its last output line, and compares the
figures with the targets from the issues and with a naive baseline measured in the same run.
Peak memory (RSS) comes from the kernel's accounting of each child process.

    python benchmarks/run.py                 # everything, ~6-9 min on a 2-core CPU
    python benchmarks/run.py --only train,inference --json benchmarks/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def run_child(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float, float]:
    """Run ``cmd``; return (its last JSON line, wall seconds, peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"timed out after {timeout:.0f} s: {' '.join(cmd[1:3])}") from None
    wall = time.perf_counter() - t0
    # ru_maxrss of the children waited for so far is a running max; per-child figures come
    # from each script's own report where it matters (see the serving section).
    rss_mb = _children_maxrss_mb()
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {err.strip().splitlines()[-1] if err.strip() else ''}")
    lines = out.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):  # the last JSON value: one line, or indented
        if lines[i].startswith(("{", "[")):
            try:
                data = json.loads("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
            return (data if isinstance(data, dict) else {"rows": data}), wall, rss_mb
    raise RuntimeError("no JSON in the output")


def _children_maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


Row = tuple[str, str, str, str]  # metric, value, target, baseline / note


def sec_train(args) -> list[Row]:
    rows: list[Row] = []
    devices = ["cpu"] + (["cuda"] if _has_cuda() else [])
    for dev in devices:
        data, _, _ = run_child([sys.executable, str(HERE / "train_throughput.py"), "--device", dev,
                                "--models", "synthcnn,timm_resnet18", "--seconds", str(args.seconds)], 600)
        ours, base = data["rows"][0], data["rows"][1]
        ratio = ours["images_per_second"] / base["images_per_second"]
        rows.append((f"training throughput, synthcnn ({dev})", f"{ours['images_per_second']:,.0f} img/s",
                     "-", f"timm resnet18: {base['images_per_second']:,.0f} img/s ({ratio:.1f}x)"))
    return rows


def sec_train_memory(args) -> list[Row]:
    data_dir = args.data
    if not data_dir or not Path(data_dir, "train").is_dir():
        return [("peak RSS, training", "skipped", "-", "needs --data with train/")]
    out = Path(args.tmp) / "bench-train"
    code = (
        "import json, resource, sys; from synthcheck.cli import main; "
        f"main(['train', '--data', {data_dir!r}, '--out', {str(out)!r}, '--epochs', '1', "
        "'--max-train-images', '5000', '--no-progress', '--no-eval-test', '--device', 'cpu']); "
        "print(json.dumps({'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    data, wall, _ = run_child([sys.executable, "-c", code], 900)
    return [("peak RSS, training (CIFAKE in memory, 1 short epoch)", f"{data['rss_mb']:,.0f} MB", "-",
             f"{wall:.0f} s run")]


def sec_inference(args) -> list[Row]:
    data, _, _ = run_child([sys.executable, str(HERE / "inference_speed.py"), "--runs", "5"], 600)
    return [
        ("synthcheck predict, one image, cold process", f"{data['cli_predict_one_image_s']:.2f} s", "<= 1.5 s",
         f"bare 'import torch': {data['python_import_torch_s']:.2f} s"),
        ("single-image latency p50 / p99 (in process)",
         f"{data['single_image_p50_ms']:.1f} / {data['single_image_p99_ms']:.1f} ms", "-", ""),
        ("batch inference, default model, ONNX Runtime (CPU)", f"{data['batch_images_per_s_onnx']:,.0f} img/s",
         ">= 2,000", f"same model in torch: {data['batch_images_per_s']:,.0f} img/s"),
    ]


def sec_explain(args) -> list[Row]:
    script = HERE / "bench_explain.py"
    cmd = [sys.executable, str(script), "--latency-only", "--json", "--repeats", "10",
           *(["--data", args.data] if args.data else [])]
    data, _, _ = run_child(cmd, 900)
    targets = {"gradcam": "<= 30 ms", "gradient_shap": "<= 400 ms", "kernel_shap": "<= 400 ms",
               "lime": "<= 500 ms", "all_three+faithfulness": "<= 1,500 ms (aim 1,000)"}
    rows: list[Row] = []
    for name, target in targets.items():
        ours = data["latency"].get(name)
        if ours is None:
            continue
        naive = (data.get("naive") or {}).get(name)
        rows.append((f"explain latency p50: {name} (32x32)", f"{ours['p50_ms']:,.0f} ms", target,
                     f"naive library use: {naive['p50_ms']:,.0f} ms" if naive else ""))
    return rows


def sec_dashboard(args) -> list[Row]:
    script = HERE / "bench_dashboard.py"
    if not Path("/usr/bin/chromium").exists():
        return [("dashboard", "skipped", "-", "needs /usr/bin/chromium (scripts/ensure_system.sh)")]
    data, _, _ = run_child([sys.executable, str(script), "--repeats", "3",
                            *(["--data", args.data] if args.data else [])], 600)
    return [
        ("dashboard: ready (health endpoint) after streamlit run", f"{data['time_to_ready_s']:.1f} s", "<= 10 s",
         f"first page rendered after {data.get('first_page_s', float('nan')):.1f} s"),
        ("dashboard: upload 32x32 -> verdict + Grad-CAM visible", f"{data['upload_to_verdict_gradcam_median_s']:.2f} s",
         "<= 2 s", "median, in Chromium"),
        ("dashboard: Explain page, all three methods", f"{data['explain_three_methods_median_s']:.2f} s", "<= 3 s",
         "median, in Chromium"),
        ("dashboard: page switch reloads the model", str(data["model_reloaded_on_page_switch"]).lower(), "false",
         f"4 switches in {data['four_page_switches_s']:.2f} s"),
        *_page_scan_rows(args), *_first_paint_rows(),
    ]


def _page_scan_rows(args) -> list[Row]:
    """The Batch page's folder scan against the CLI on the same 2,000 images, same run."""
    scan, _, _ = run_child([sys.executable, str(HERE / "bench_page_scan.py"), "--n", "2000",
                            *(["--data", args.data] if args.data else [])], 600)
    return [("dashboard: folder scan of 2,000 images from the page", f"{scan['page_scan_s']:.1f} s",
             "<= 2x the CLI's", f"CLI {scan['cli_scan_s']:.1f} s in the same run; first count at "
                                f"{scan['first_count_s']:.1f} s; {len(scan['server_log_warnings'])} "
                                "ScriptRunContext warnings")]


def _first_paint_rows() -> list[Row]:
    """Seconds from ``streamlit run`` to the first real page element in Chromium."""
    fp, _, _ = run_child([sys.executable, str(HERE / "bench_first_paint.py"), "--repeats", "2"], 600)
    seen = fp["root"]["file_name_nav_seen"] or fp["deep_link"]["file_name_nav_seen"]
    return [("dashboard: first paint after a server start", f"{fp['root']['first_paint_median_s']:.1f} s",
             "no file-name page list", f"/model_card {fp['deep_link']['first_paint_median_s']:.1f} s; "
                                       f"file-name list seen: {str(seen).lower()}")]


def sec_api(args) -> list[Row]:
    script = HERE / "bench_api.py"
    if not script.exists():
        return [("API", "not available", "-", "")]
    data, _, _ = run_child([sys.executable, str(script), "--json-only", "--requests", "1000"], 900)
    return [(f"API: {r['metric']}", str(r["value"]), str(r.get("target", "-")), str(r.get("baseline", "")))
            for r in data.get("table", [])]


def sec_serve_memory(args) -> list[Row]:
    """Peak RSS (VmHWM) of `synthcheck serve` after 300 verify requests."""
    import io
    import socket
    import urllib.request

    import httpx
    import numpy as np
    from PIL import Image

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "synthcheck", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
        with httpx.Client(timeout=30) as client:
            for _ in range(300):
                client.post(f"http://127.0.0.1:{port}/v1/verify", files={"files": ("x.png", buf.getvalue(), "image/png")})
        status = Path(f"/proc/{proc.pid}/status").read_text()
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    finally:
        proc.terminate()
        proc.wait(10)
    return [("peak RSS, serving (API, after 300 requests)", f"{hwm / 1024:,.0f} MB", "-", "")]


def sec_domain(args) -> list[Row]:
    """Issue 8: domain check, calibration, resampling robustness, out-of-CIFAKE verdicts."""
    if not args.data:
        return [("domain check", "skipped", "-", "needs --data")]
    d, _, _ = run_child([sys.executable, str(HERE / "domain_check.py"), "--data", args.data, "--limit",
                         str(args.domain_limit), "--json-line"], 900)
    c, o, lat = d["cifake"], d["ood"], d["latency"]
    gap = 100 * (c["accuracy_all"] - c["accuracy_in_domain"])
    return [
        (f"CIFAKE test in domain ({c['n_images']} images)", f"{c['in_domain_share']:.2%}", ">= 99%", ""),
        ("accuracy: all vs in domain", f"{c['accuracy_all']:.2%} vs {c['accuracy_in_domain']:.2%}",
         "within 0.2 pt", f"gap {gap:+.2f} pt"),
        ("ECE after temperature scaling", f"{c['ece_calibrated']:.4f}", "<= 0.01", f"raw {c['ece_raw']:.4f}"),
        *[(f"accuracy {name}", f"{c[key]['accuracy']:.2%}", ">= 97%",
           f"{c[key]['in_domain_share']:.1%} kept in domain, "
           + (f"{c[key]['accuracy_in_domain']:.2%} right there" if c[key]["accuracy_in_domain"] is not None else ""))
          for name, key in (("32 -> 128 -> 32 px (bicubic)", "up_down_128_bicubic"), ("JPEG quality 50", "jpeg_q50"))],
        (f"out of CIFAKE: confident and wrong ({o['n']} inputs)", f"{o['confident_wrong_share']:.1%}",
         "<= 2%", f"{o['confident_wrong']} inputs"),
        *[(f"domain check adds to predict latency ({k})", f"{v['added_pct']:+.1f}%", "<= 20%",
           f"{v['without_ms']:.2f} -> {v['with_ms']:.2f} ms") for k, v in lat.items()],
    ]


def sec_cases(args) -> list[Row]:
    """Issue 9: case intake and audit-log verification (no model)."""
    d, _, _ = run_child([sys.executable, str(HERE / "bench_cases.py"), "--json",
                         *(["--data", args.data] if args.data else [])], 900)
    return [(f"case intake of {d['images']} images", f"{d['intake_s']:.1f} s", "<= 60 s", d["source"]),
            (f"case verify, {d['log_entries']:,}-entry log", f"{d['verify_case_s']:.2f} s", "<= 5 s",
             f"chain alone {d['verify_chain_only_s']:.2f} s")]


def sec_provenance(args) -> list[Row]:
    d, _, _ = run_child([sys.executable, str(HERE / "bench_provenance.py"), "--json"], 600)
    a = d["all fixtures"]
    return [("provenance read per image (p50 / p95)", f"{a['p50_ms']:.2f} / {a['p95_ms']:.2f} ms", "<= 50 ms",
             f"C2PA p95 {d['c2pa']['p95_ms']:.2f} ms; cold first C2PA read {d['cold_first_c2pa_read_ms']:.0f} ms")]


def sec_signing(args) -> list[Row]:
    d, _, _ = run_child([sys.executable, str(HERE / "bench_signing.py"), "--json"], 900)
    return [("signed report: byte changes undetected", f"{d['bitflip_undetected']} of {d['bitflip_bytes_tested']}",
             "0", f"verify {d['verify_s'] * 1000:.0f} ms"),
            ("control run (48 known images)", f"{d['selfcheck_s']:.2f} s", "-",
             f"accuracy {d['selfcheck_accuracy']:.1%}, pass mark {d['selfcheck_pass_mark']:.1%}")]


SECTIONS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "train": sec_train, "train_memory": sec_train_memory, "inference": sec_inference,
    "explain": sec_explain, "dashboard": sec_dashboard, "api": sec_api, "serve_memory": sec_serve_memory,
    "domain": sec_domain, "cases": sec_cases, "provenance": sec_provenance, "signing": sec_signing,
}


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"), help="CIFAKE-layout folder")
    ap.add_argument("--seconds", type=float, default=6.0, help="per throughput measurement")
    ap.add_argument("--json", default=str(HERE / "results.json"), help="write results here")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--domain-limit", type=int, default=0, help="test images for the domain section (0 = all)")
    args = ap.parse_args()
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    rows: list[Row] = []
    t0 = time.perf_counter()
    for name in chosen:
        print(f"[{time.perf_counter() - t0:5.0f} s] {name} ...", file=sys.stderr, flush=True)
        try:
            rows += SECTIONS[name](args)
        except Exception as exc:  # one broken section must not hide the others
            rows.append((name, "FAILED", "-", str(exc)[:120]))
    header = f"SynthCheck benchmarks on {machine()} ({time.strftime('%Y-%m-%d')}, {time.perf_counter() - t0:.0f} s)"
    print(header)
    widths = [max(len(r[i]) for r in rows + [("metric", "value", "target", "baseline / note")]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(("metric", "value", "target", "baseline / note"), widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    Path(args.json).write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                                           "rows": [dict(zip(("metric", "value", "target", "note"), r, strict=True))
                                                    for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
