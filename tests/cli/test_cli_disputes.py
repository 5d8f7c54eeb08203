"""Which disputes a command scores: --disputes, else $CLAIMS_DISPUTES, else none (said once on
stderr), never the seed article's disputes behind the user's back."""

import json
import os
import subprocess
import sys

import pytest

from claims import cli
from claims.cli import NO_DISPUTES_NOTE, load_disputes, main
from conftest import ROOT, SEED_TEXT
from eval.standin import StandIn

SEED_DISPUTES = ROOT / "seeds" / "disputes.toml"


def test_no_disputes_file_means_no_disputes_said_once(monkeypatch, capsys):
    monkeypatch.delenv("CLAIMS_DISPUTES", raising=False)
    assert load_disputes(None) == []
    assert capsys.readouterr().err == NO_DISPUTES_NOTE + "\n"


def test_disputes_env_names_the_file(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CLAIMS_DISPUTES", str(SEED_DISPUTES))
    assert [d.id for d in load_disputes(None)] == ["syria-transition", "airstrike-targets", "ukraine-ceasefire"]
    own = tmp_path / "own.toml"
    own.write_text('[[dispute]]\nid = "taxes"\nproposition = "Taxes should rise."\n')
    assert [d.id for d in load_disputes(str(own))] == ["taxes"]        # --disputes wins
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CLAIMS_DISPUTES", str(tmp_path / "missing.toml"))
    with pytest.raises(cli.UserError, match=r"^\$CLAIMS_DISPUTES: disputes file not found"):
        load_disputes(None)


def test_batch_without_disputes_says_so_once_and_scores_none(monkeypatch, capsys, tmp_path):
    import claims.batch
    specs = []

    def spec(job, disputes):
        specs.append(list(disputes))
        return StandIn()
    monkeypatch.setattr(claims.batch.AnalyzerSpec, "from_job", staticmethod(spec))
    monkeypatch.delenv("CLAIMS_DISPUTES", raising=False)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": str(i), "text": f"Said {i}."}) + "\n" for i in range(3)))
    assert main(["batch", str(inp), "-o", str(tmp_path / "out.jsonl")]) == 0
    err = capsys.readouterr().err
    assert err.count(NO_DISPUTES_NOTE) == 1 and specs == [[]]
    monkeypatch.setenv("CLAIMS_DISPUTES", str(SEED_DISPUTES))
    assert main(["batch", str(inp), "-o", str(tmp_path / "out2.jsonl")]) == 0
    assert NO_DISPUTES_NOTE not in capsys.readouterr().err and len(specs[1]) == 3
    # an error before the job starts is the only line
    assert main(["batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_analyze_without_disputes_gives_claims_without_stance():
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_DISPUTES"}
    r = subprocess.run([sys.executable, "-m", "claims", "analyze", str(SEED_TEXT), "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["disputes"] == [] and result["claims"] and all(c["stance"] == {} for c in result["claims"])
    assert r.stderr.count("no disputes file") == 1
    r = subprocess.run([sys.executable, "-m", "claims", "analyze", str(SEED_TEXT), "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=dict(env, CLAIMS_DISPUTES=str(SEED_DISPUTES)))
    result = json.loads(r.stdout)
    assert r.returncode == 0 and len(result["disputes"]) == 3 and "no disputes file" not in r.stderr
