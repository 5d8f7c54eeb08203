"""Input a user can get wrong: one clear line on stderr and exit code 2, before any model loads."""

import subprocess
import sys

import pytest

from claims.cli import main


@pytest.mark.parametrize("content,message", [
    (b"", "the text is empty"),
    (b"   \n\t\n", "only whitespace"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("caf\xe9 au lait".encode("latin-1"), "not UTF-8"),
])
def test_analyze_bad_file_content(tmp_path, capsys, content, message):
    f = tmp_path / "a.txt"
    f.write_bytes(content)
    assert main(["analyze", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_analyze_missing_file(capsys):
    assert main(["analyze", "/no/such/file.txt"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_analyze_directory(tmp_path, capsys):
    assert main(["analyze", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_analyze_one_megabyte_article(tmp_path, capsys):
    f = tmp_path / "big.txt"
    f.write_text("He said it was fine. " * 50_000)
    assert main(["analyze", str(f)]) == 2
    assert "limit" in capsys.readouterr().err


def test_analyze_bad_disputes_file(tmp_path, capsys):
    f = tmp_path / "a.txt"
    f.write_text("Kerry said talks went well.")
    d = tmp_path / "d.toml"
    d.write_text('[[dispute]]\nid = "Bad"\nproposition = "x"\n')
    assert main(["analyze", str(f), "--disputes", str(d)]) == 2
    assert "must match" in capsys.readouterr().err


@pytest.mark.system
def test_cli_runs_as_a_program():
    out = subprocess.run([sys.executable, "-m", "claims", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("claims ")


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "high"])
def test_min_confidence_outside_0_1_is_refused(tmp_path, capsys, value):
    f = tmp_path / "a.txt"
    f.write_text("Kerry said talks went well.")
    with pytest.raises(SystemExit) as e:
        main(["analyze", str(f), "--min-confidence", value])
    assert e.value.code == 2 and "not a probability between 0 and 1" in capsys.readouterr().err


def test_min_confidence_reaches_the_batch_workers():
    from claims.batch import AnalyzerSpec, BatchJob
    from claims.cli import build_parser
    args = build_parser().parse_args(["batch", "in.jsonl", "-o", "out.jsonl", "--min-confidence", "0.8"])
    assert AnalyzerSpec.from_job(BatchJob.from_args(args), []).min_confidence == 0.8


@pytest.mark.slow
def test_min_confidence_leaves_out_less_confident_claims(capsys):
    from conftest import SEED_TEXT
    import json
    assert main(["analyze", str(SEED_TEXT), "--json", "--no-stance"]) == 0
    every = json.loads(capsys.readouterr().out)["claims"]
    cut = sorted(c["confidence"] for c in every)[len(every) // 2]
    assert main(["analyze", str(SEED_TEXT), "--json", "--no-stance", "--min-confidence", str(cut)]) == 0
    kept = json.loads(capsys.readouterr().out)["claims"]
    assert 0 < len(kept) < len(every) and all(c["confidence"] >= cut for c in kept)
