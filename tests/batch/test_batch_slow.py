"""Batch jobs with the real model, through the CLI: worker processes and the Ray engine write
the records that one process writes. Slow (model loads in several processes)."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def articles(tmp_path_factory, seed_text):
    inp = tmp_path_factory.mktemp("batch") / "in.jsonl"
    rows = [{"id": "seed", "text": seed_text, "title": "Seed"},
            {"id": "short", "text": "Moscow denied the allegations. \"We never did it,\" the minister said."},
            {"id": "empty", "text": "  "},
            {"id": "third", "text": "Officials said on Tuesday that talks would resume. Kerry declined to comment.",
             "disputes": [{"id": "talks", "title": "Talks", "proposition": "The peace talks will resume."}]}]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return inp


def _batch(inp, out, *options):
    r = subprocess.run([sys.executable, "-m", "claims", "batch", str(inp), "-o", str(out), "--quiet",
                        "--threads", "1", *options], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1, r.stderr      # the empty article is an error record
    return out.read_bytes()


@pytest.fixture(scope="module")
def one_process(articles, schema):
    out = _batch(articles, articles.parent / "one.jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    for row in rows:
        jsonschema.validate(row, schema)
    assert rows[0]["claims"] and rows[2]["error"]["type"] == "empty_text"
    # no disputes file: no stance, except on the record that brings its own disputes
    assert rows[0]["disputes"] == [] and all(c["stance"] == {} for c in rows[0]["claims"])
    assert [d["id"] for d in rows[3]["disputes"]] == ["talks"] and rows[3]["claims"]
    assert all(set(c["stance"]) == {"talks"} for c in rows[3]["claims"])
    return out


def test_batch_two_workers_write_what_one_process_writes(articles, one_process):
    assert _batch(articles, articles.parent / "two.jsonl", "--workers", "2", "--ordered") == one_process


def test_batch_ray_engine_writes_what_one_process_writes(articles, one_process):
    pytest.importorskip("ray")
    out = _batch(articles, articles.parent / "ray.jsonl", "--engine", "ray", "--workers", "2")
    assert sorted(out.splitlines()) == sorted(one_process.splitlines())
