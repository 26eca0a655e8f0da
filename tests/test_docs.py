"""The README is a front page and the docs site builds strictly (a broken link fails CI)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# words that describe a change instead of the software (docs say what it does)
CHANGELOG = re.compile(r"\b(no longer|as before|now|since this change|before this change|"
                       r"this release)\b", re.IGNORECASE)
OTHER_AUTHORS = {"provenance-trust.md"}  # written by another engineer, only listed in the nav
needs_mkdocs = pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                                  reason="mkdocs is not installed (requirements-dev.txt)")


def _build(root: Path, out: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` (not -q: quiet mode hides the warnings strict mode counts)."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@needs_mkdocs
def test_docs_site_builds_strictly(tmp_path):
    res = _build(ROOT, tmp_path / "site")
    assert res.returncode == 0, res.stdout + res.stderr
    for page in ("guide", "cli", "api", "model-card", "data", "benchmarks", "architecture"):
        assert (tmp_path / "site" / page / "index.html").is_file()
    card = (tmp_path / "site" / "model-card" / "index.html").read_text(encoding="utf-8")
    assert "synthcnn" in card  # models/README.md is included, not just linked


@needs_mkdocs
def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs", ignore=shutil.ignore_patterns("screenshots"))
    shutil.copytree(ROOT / "docs" / "screenshots", copy / "docs" / "screenshots")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "models").mkdir()
    shutil.copy(ROOT / "models" / "README.md", copy / "models" / "README.md")
    assert _build(copy, tmp_path / "ok").returncode == 0
    with open(copy / "docs" / "guide.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the missing page](missing.md).\n")
    assert _build(copy, tmp_path / "broken").returncode != 0


def test_readme_is_a_front_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    for must in ("bash scripts/app.sh", "bash scripts/test.sh", ".venv/bin/synthcheck",
                 "source .venv/bin/activate", "**Likely real**", "**Uncertain**",
                 "**Likely synthetic**", "**Cannot assess**", "docs/guide.md"):
        assert must in text, must
    assert re.search(r"!\[[^\]]*\]\(docs/screenshots/[^)]+\.png\)", text)


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = [u.split("#")[0] for u in re.findall(r"\]\(([^)\s]+)\)", text)
             if not re.match(r"[a-z]+://", u)]
    assert links
    missing = [u for u in links if u and not (ROOT / u).exists()]
    assert not missing, missing


def test_docs_say_what_the_software_does():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in pages if p.name not in OTHER_AUTHORS
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if CHANGELOG.search(line)]
    assert not hits, "changelog wording (say what the software does):\n" + "\n".join(hits)
