"""``synthcheck serve`` says where it is before uvicorn starts: URL, model, checkpoint, docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthcheck.cli import main
from synthcheck.commands.serve import start_line

CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "synthcheck-default.pt"


def test_serve_logs_url_model_and_docs_before_uvicorn_starts(capsys, monkeypatch) -> None:
    import uvicorn

    seen: dict[str, object] = {}

    def fake_run(app, host: str, port: int, **kw) -> None:
        seen["err_before_run"] = capsys.readouterr().err  # what was printed before the server
        seen["host"], seen["port"] = host, port

    monkeypatch.setattr(uvicorn, "run", fake_run)
    assert main(["serve", "--checkpoint", str(CHECKPOINT), "--port", "8123"]) == 0
    err = str(seen["err_before_run"])
    assert seen == {"err_before_run": err, "host": "127.0.0.1", "port": 8123}
    line = next(x for x in err.splitlines() if x.startswith("SynthCheck API on"))
    assert line.startswith("SynthCheck API on http://127.0.0.1:8123 (model synthcnn")
    assert f"checkpoint {CHECKPOINT}" in line and line.endswith("docs at http://127.0.0.1:8123/docs)")


@pytest.mark.parametrize(("host", "url"), [("0.0.0.0", "http://0.0.0.0:80"), ("::1", "http://[::1]:80")])
def test_start_line_brackets_ipv6_hosts(host: str, url: str) -> None:
    class Det:
        model_name, path = "m", "/x.pt"

    assert start_line(host, 80, Det()) == f"SynthCheck API on {url} (model m, checkpoint /x.pt; docs at {url}/docs)"
