"""``synthcheck serve``: the REST API on uvicorn (see :mod:`synthcheck.api`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..bands import DEFAULT_THRESHOLD


def start_line(host: str, port: int, detector: Any) -> str:
    """The one line ``serve`` prints before uvicorn starts: where the API is, which model, where
    the docs are."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    return (f"SynthCheck API on {url} (model {detector.model_name}, checkpoint {detector.path}; "
            f"docs at {url}/docs)")


def cmd_serve(args: argparse.Namespace) -> int:
    """Check the settings and load the checkpoint *before* the server starts, so a bad value or
    a bad checkpoint is one line on stderr and a non-zero exit (``synthcheck.cli.main`` prints
    :class:`~synthcheck.errors.SynthCheckError`), never uvicorn's startup traceback."""
    import uvicorn

    from ..api.config import Settings
    from ..api.header_timeout import header_timeout_protocol
    from ..api.main import create_app
    from ..inference import Detector

    settings = Settings.from_env(checkpoint=args.checkpoint, device=args.device,
                                 threshold=args.threshold, max_upload_mb=args.max_upload_mb,
                                 max_files=args.max_files, batch_max_wait_ms=args.batch_wait_ms,
                                 batch_max_size=args.batch_max_size,
                                 torch_threads=args.torch_threads,
                                 header_timeout_s=args.header_timeout)
    detector = Detector.from_checkpoint(settings.checkpoint, device=settings.device)
    app = create_app(settings, detector=detector)
    print(start_line(args.host, args.port, detector), file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.access_log, http=header_timeout_protocol(settings.header_timeout_s))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="REST API: POST /v1/verify, GET /v1/model, /v1/health",
                              description="Serve the detector over HTTP (OpenAPI docs at /docs).")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--checkpoint", help="checkpoint file (default: models/synthcheck-default.pt "
                                        "or $SYNTHCHECK_CHECKPOINT)")
    p.add_argument("--device", default=None, help="cpu | cuda (default cpu)")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"p_fake at or above which the verdict is FAKE (default {DEFAULT_THRESHOLD:g})")
    p.add_argument("--max-upload-mb", type=float, default=None,
                   help="largest request body accepted, all files together (default 10)")
    p.add_argument("--max-files", type=int, default=None, help="files per request (default 32)")
    p.add_argument("--batch-wait-ms", type=float, default=None,
                   help="how long a model batch waits for uploads in flight (default 3)")
    p.add_argument("--batch-max-size", type=int, default=None,
                   help="most images per model call (default 64; 1 = no micro-batching)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="model threads; 1 leaves a core to the HTTP event loop (default 1, 0 = torch default)")
    p.add_argument("--header-timeout", type=float, default=None,
                   help="seconds a client has to send a request's headers before the connection "
                        "is closed (default 10)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)
