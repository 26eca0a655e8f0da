"""The setup scripts install what the code needs on a bare Debian machine.

Every external program the code calls (``shutil.which("x")``, ``subprocess.run(["x", ...])``,
``executable_path="/usr/bin/x"``) must be in scripts/ensure_system.sh's declared list, which
installs only what is missing; a dev install satisfies the app install's stamp.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENSURE = ROOT / "scripts" / "ensure_system.sh"
SCANNED = ("synthcheck", "pages", "tests", "benchmarks")
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}


def _declared() -> dict[str, str]:
    """program -> Debian package, as ``ensure_system.sh --list`` declares them."""
    out = subprocess.run(["bash", str(ENSURE), "--list"], capture_output=True, text=True, check=True)
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    return {name: pkg for kind, name, pkg in rows if kind == "program"}


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (so ``executable_path=CHROMIUM`` resolves)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _text(node: ast.AST, consts: dict[str, str]) -> str | None:
    """A literal string, a module constant, or the literal first argument of a helper call
    (``_tool("pdftoppm")``); None for anything computed (``sys.executable``, variables)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.Call) and node.args:
        return _text(node.args[0], consts)
    return None


def _program(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    return os.path.basename(text.split()[0])


def programs_in(source: str) -> set[str]:
    """External programs a Python source calls, by name."""
    tree = ast.parse(source)
    consts = _constants(tree)
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith("/usr/bin/") and " " not in node.value:
            found.add(_program(node.value))
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
        owner = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
        bare = isinstance(fn, ast.Name)  # from subprocess import Popen
        if name == "which" and node.args:
            found.add(_program(_text(node.args[0], consts)))
        elif name in SUBPROCESS_CALLS and (owner == "subprocess" or bare and name != "run") \
                and node.args:
            first = node.args[0]
            if isinstance(first, (ast.List, ast.Tuple)):
                first = first.elts[0] if first.elts else None
            if first is not None:
                found.add(_program(_text(first, consts)))
        for kw in node.keywords:
            if kw.arg == "executable_path":
                found.add(_program(_text(kw.value, consts)))
    return {p for p in found if p}


def _sources() -> list[Path]:
    files = [p for d in SCANNED for p in (ROOT / d).rglob("*.py")]
    return files + sorted(ROOT.glob("*.py"))


def test_scanner_finds_each_form_of_call():
    src = '''
import shutil, subprocess
BROWSER = "/usr/bin/firefox"
shutil.which("gm")
subprocess.run(["pdfinfo", "-v"])
subprocess.check_output("mediainfo --Output=JSON x.jpg", shell=True)
subprocess.Popen([_tool("qpdf"), "--check"])
launch(executable_path=BROWSER)
subprocess.run([sys.executable, "-m", "x"])
session.run(["logits"], feeds)
'''
    assert programs_in(src) == {"gm", "pdfinfo", "mediainfo", "qpdf", "firefox"}


def test_every_program_the_code_calls_is_installed_by_the_setup_script():
    declared = _declared()
    where: dict[str, list[str]] = {}
    for path in _sources():
        for prog in programs_in(path.read_text(encoding="utf-8")):
            where.setdefault(prog, []).append(str(path.relative_to(ROOT)))
    assert {"pdftoppm", "pdftotext", "chromium", "git"} <= set(where)  # the scan sees them
    missing = {p: files for p, files in where.items() if p not in declared}
    assert not missing, f"add these to scripts/ensure_system.sh (program -> Debian package): {missing}"


def _fake_bin(tmp: Path, present: list[str]) -> Path:
    """A PATH folder with stubs of ``present``, a logging apt-get that "installs" poppler-utils,
    and the few real tools the script itself uses."""
    fake = tmp / "bin"
    fake.mkdir()
    for prog in present:
        (fake / prog).write_text("#!/bin/sh\nexit 0\n")
        (fake / prog).chmod(0o755)
    (fake / "apt-get").write_text(f"""#!{sys.executable}
import os, sys
with open({str(tmp / "apt.log")!r}, "a") as log:
    print(*sys.argv[1:], file=log)
if "poppler-utils" in sys.argv:
    for prog in ("pdftoppm", "pdftotext"):
        path = os.path.join({str(fake)!r}, prog)
        with open(path, "w") as f:
            f.write("#!/bin/sh\\nexit 0\\n")
        os.chmod(path, 0o755)
""")
    (fake / "apt-get").chmod(0o755)
    (fake / "id").write_text("#!/bin/sh\necho 0\n")
    (fake / "id").chmod(0o755)
    (fake / "sort").symlink_to(shutil.which("sort"))
    return fake


@pytest.mark.parametrize("present, installs", [
    (["git", "bash", "pdftoppm", "pdftotext", "chromium"], None),
    (["git", "bash", "chromium"], "poppler-utils"),
])
def test_ensure_system_installs_only_what_is_missing(tmp_path, present, installs):
    fake = _fake_bin(tmp_path, present)
    env = {"PATH": str(fake), "PYTHON": sys.executable, "HOME": str(tmp_path)}
    res = subprocess.run([shutil.which("bash"), str(ENSURE), "test"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    log = tmp_path / "apt.log"
    if installs is None:
        assert not log.exists()  # nothing missing: no apt-get at all, not even update
    else:
        calls = log.read_text().splitlines()
        assert calls[0].startswith("update")
        assert calls[1].split()[-1] == installs and "chromium" not in calls[1]


def test_dev_install_satisfies_the_app_stamp(tmp_path):
    """``app.sh`` after ``test.sh`` installs nothing: pip runs for the dev install only."""
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml", "scripts/setup.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    py = tmp_path / ".venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\n')
    py.chmod(0o755)
    for kind in (["dev"], [], ["dev"]):
        subprocess.run(["bash", "scripts/setup.sh", *kind], cwd=tmp_path, check=True, timeout=60)
    pip_runs = [c for c in (tmp_path / "pip.log").read_text().splitlines() if c.startswith("-m pip")]
    assert len(pip_runs) == 2  # -r requirements-dev.txt and -e ., once
    assert "requirements-dev.txt" in pip_runs[0]
