"""Load benchmark of the REST API: requests/s and p50/p99 latency at 1, 8 and 32 clients.

Starts ``synthcheck serve`` on 127.0.0.1 (a free port) in a subprocess, then sends a bounded
number of single-image ``POST /v1/verify`` requests from N concurrent httpx clients.

    .venv/bin/python benchmarks/bench_api.py                      # 1, 8, 32 clients
    .venv/bin/python benchmarks/bench_api.py --clients 8 --requests 2000 --json
    .venv/bin/python benchmarks/bench_api.py --json-only   # for benchmarks/run.py (last line JSON)

Images are 32x32 JPEGs (CIFAKE-like; from --data if given, else generated). Target on a
2-core CPU: >= 200 req/s with p99 <= 250 ms at 8 clients, zero errors. The naive baseline
is the same server with micro-batching off (``--batch-max-size 1``: one model call per
request), measured at 8 clients in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_images(data: str | None, n: int = 64) -> list[bytes]:
    if data:
        files = sorted(Path(data).glob("test/*/*.jpg"))[:: max(1, 20000 // n)][:n]
        if files:
            return [f.read_bytes() for f in files]
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def start_server(port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthcheck", "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 120 s")


async def run_level(url: str, images: list[bytes], clients: int, n_requests: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(n_requests))
    # one client (one keep-alive connection) per simulated user: a shared httpx pool adds its
    # own queueing at high concurrency and would measure the client, not the server
    clients_ = [httpx.AsyncClient(timeout=30) for _ in range(clients)]

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            img = images[i % len(images)]
            t0 = time.perf_counter()
            try:
                r = await client.post(url, files={"files": (f"{i}.jpg", img, "image/jpeg")})
                ok = r.status_code == 200 and "verdict" in r.json()[0]
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    try:
        # warm-up (not counted): opens every connection
        await asyncio.gather(*(c.post(url, files={"files": ("w.jpg", images[0], "image/jpeg")})
                               for c in clients_))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients_))
        wall = time.perf_counter() - t0
    finally:
        for c in clients_:
            await c.aclose()
    lat = np.array(latencies) * 1000
    return {"clients": clients, "requests": n_requests, "errors": errors,
            "req_per_s": round(n_requests / wall, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "max_ms": round(float(lat.max()), 1)}


def measure(args: argparse.Namespace, images: list[bytes], clients: list[int], server_args: list[str]
            ) -> tuple[list[dict], dict]:
    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        proc = start_server(port, server_args)
        base = f"http://127.0.0.1:{port}"
    try:
        rows = [asyncio.run(run_level(f"{base}/v1/verify", images, c, args.requests)) for c in clients]
        import httpx

        stats = httpx.get(f"{base}/v1/health").json()["batcher"]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
    return rows, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=1000, help="requests per concurrency level")
    ap.add_argument("--data", default=os.environ.get("SYNTHCHECK_DATA"), help="CIFAKE folder for sample images")
    ap.add_argument("--url", help="benchmark a running server instead of starting one")
    ap.add_argument("--server-args", default="", help="extra arguments for synthcheck serve")
    ap.add_argument("--baseline", action="store_true", help="also measure without micro-batching (8 clients)")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    ap.add_argument("--json-only", action="store_true",
                    help="one JSON line with a summary table (implies --baseline)")
    args = ap.parse_args()

    images = sample_images(args.data)
    rows, stats = measure(args, images, args.clients, args.server_args.split())
    baseline = None
    if (args.baseline or args.json_only) and not args.url:
        baseline = measure(args, images, [8], [*args.server_args.split(), "--batch-max-size", "1"])[0][0]
    result = {"cpus": os.cpu_count(), "levels": rows, "batcher": stats, "baseline_no_batching_8": baseline}
    if args.json_only:
        at = {r["clients"]: r for r in rows}
        table = []
        for c, r in sorted(at.items()):
            table.append({"metric": f"req/s at {c} clients", "value": r["req_per_s"],
                          "target": ">= 200" if c == 8 else "-",
                          "baseline": f"{baseline['req_per_s']} (no batching)" if c == 8 and baseline else ""})
            table.append({"metric": f"p50/p99 ms at {c} clients", "value": f"{r['p50_ms']}/{r['p99_ms']}",
                          "target": "p99 <= 250" if c == 8 else "-",
                          "baseline": f"{baseline['p50_ms']}/{baseline['p99_ms']}" if c == 8 and baseline else ""})
        table.append({"metric": "errors (all levels)", "value": sum(r["errors"] for r in rows),
                      "target": "0", "baseline": ""})
        result["table"] = table
        print(json.dumps(result))
    elif args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
        for r in rows + ([{**baseline, "clients": "8*"}] if baseline else []):
            print(f"{r['clients']:>7} {r['requests']:>8} {r['req_per_s']:>8} {r['p50_ms']:>8} "
                  f"{r['p99_ms']:>8} {r['max_ms']:>8} {r['errors']:>6}")
        if baseline:
            print("8* = same server without micro-batching (--batch-max-size 1)")
        print(f"batcher: {stats}  (cpus: {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
