"""The documents: every file the code, --help, the README and docs/ name exists; the design is
cited as docs/DESIGN.md; the README's commands and the examples of docs/api.md run."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claims.cli import build_parser
from conftest import ROOT, SEED_TEXT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = [p for p in sorted((ROOT / "claims").rglob("*")) + sorted((ROOT / "eval").rglob("*.py"))
        + [ROOT / "Makefile", *sorted((ROOT / "seeds").glob("*.toml"))]
        if p.is_file() and p.suffix in (".py", ".toml", ".json", "") and "__pycache__" not in p.parts and "models" not in p.parts]
PATH_RE = re.compile(r"(?<![\w./-])(?:docs|claims|seeds|eval|tests|training)/[\w./*-]*[\w*/]")


def _help_texts() -> str:
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._subparsers._group_actions:
        texts += [p.format_help() for p in action.choices.values()]
    return "\n".join(texts)


def _named_paths(text: str) -> set[str]:
    return {m.rstrip("/") for m in PATH_RE.findall(text)}


def test_docs_every_document_named_exists():
    missing = []
    for path in DOCS + CODE:
        for name in _named_paths(path.read_text(encoding="utf-8", errors="replace")):
            if not list(ROOT.glob(name)):
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    missing += [f"--help: {n}" for n in _named_paths(_help_texts()) if not list(ROOT.glob(n))]
    assert not missing, missing


def test_docs_design_is_cited_at_its_place():
    assert (ROOT / "docs" / "DESIGN.md").exists() and (ROOT / "docs" / "api.md").exists()
    bare = re.compile(r"(?<!docs/)DESIGN\.md")
    wrong = [str(p.relative_to(ROOT)) for p in DOCS + CODE
             if p.name != "DESIGN.md" and bare.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not wrong and not bare.search(_help_texts()), wrong
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    for section in ("## 2. Data flow", "### 3.1 Offsets", "### 3.2 Result JSON", "### 3.3 Disputes",
                    "## 5. Metrics", "claims/schema/result.schema.json"):
        assert section in design


def _blocks(path: Path, lang: str = "") -> list[str]:
    """The fenced code blocks of a Markdown file whose language is ``lang`` (any when empty)."""
    blocks, current, tag = [], None, None
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, tag = [], line[3:].strip()
            else:
                if not lang or tag == lang:
                    blocks.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _readme_commands() -> list[list[str]]:
    """Every `claims ...` line of the README's code blocks, as argument lists (comments cut)."""
    out = []
    for block in _blocks(ROOT / "README.md"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("cat ") and "| claims " in line:
                line = line.split("| ", 1)[1]
            if not line.startswith("claims "):
                continue
            first, *alternatives = line.split(" | ")   # `claims users list | remove NAME`: shorthand
            argv = shlex.split(first)[1:]
            out.append(argv)
            out += [argv[:1] + shlex.split(alt) for alt in alternatives]
    return out


def test_docs_readme_commands_parse_with_the_real_parser():
    commands = _readme_commands()
    assert len(commands) > 15 and any(c[0] == "batch" for c in commands)
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            if e.code != 0:
                raise AssertionError(f"README: `claims {' '.join(argv)}` does not parse") from None


def test_docs_make_demo_analyses_the_seed_with_its_disputes():
    demo = re.search(r"^demo:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert "claims analyze seeds/000_e4a0bdb19bff5182.txt --disputes seeds/disputes.toml" in demo


@pytest.fixture
def workdir(tmp_path):
    """A directory holding the files the README's first examples name."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    (tmp_path / "article.txt").write_text("Moscow denied the allegations. \"We never did it,\" the minister said.\n")
    (tmp_path / "my-disputes.toml").write_text(
        '[[dispute]]\nid = "denial"\ntitle = "Denial"\nproposition = "Russia carried out the attack."\n')
    (tmp_path / "articles.jsonl").write_text(json.dumps({"id": "s", "text": SEED_TEXT.read_text()}) + "\n")
    (tmp_path / "pairs.jsonl").write_text(json.dumps({"id": "p", "target": "Russia carried out the attack.",
                                                      "text": "Moscow denied the allegations."}) + "\n")
    return tmp_path


@pytest.mark.slow
def test_docs_readme_first_examples_run(workdir):
    first = next(b for b in _blocks(ROOT / "README.md") if b.lstrip().startswith("claims analyze"))
    lines = [line.split(" #")[0].strip() for line in first.splitlines() if line.strip()]
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_DISPUTES"}
    for line in lines:
        r = subprocess.run([sys.executable, "-m", "claims", *shlex.split(line)[1:]], capture_output=True,
                           text=True, cwd=workdir, env=env)
        assert r.returncode == 0, (line, r.stderr[-2000:])
        if "--json" in line:
            assert json.loads(r.stdout)["claims"]
    assert json.loads((workdir / "results.jsonl").read_text())["claims"]
    assert json.loads((workdir / "stances.jsonl").read_text())["label"]


@pytest.mark.slow
@pytest.mark.parametrize("n", range(len(_blocks(ROOT / "docs" / "api.md", "python"))))
def test_docs_api_examples_run(n, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CLAIMS_DISPUTES", raising=False)
    code = _blocks(ROOT / "docs" / "api.md", "python")[n]
    if "import spacy" in code:
        pytest.importorskip("spacy", reason="spaCy is not installed (pip install 'claims[spacy]')")
    exec(compile(code, f"docs/api.md example {n + 1}", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@pytest.mark.parametrize("n", range(len(_blocks(ROOT / "README.md", "python"))))
def test_docs_readme_python_examples_run(n, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CLAIMS_DISPUTES", raising=False)
    code = _blocks(ROOT / "README.md", "python")[n]
    if "import spacy" in code:
        pytest.importorskip("spacy", reason="spaCy is not installed (pip install 'claims[spacy]')")
        import claims.spacy_component  # noqa: F401  the entry point of an installed package does this
    exec(compile(code, f"README.md python example {n + 1}", "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip()
