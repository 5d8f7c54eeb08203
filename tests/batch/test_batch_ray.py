"""The Ray engine on a local Ray instance: one small job with the stand-in analyzer, resumed from
a cut output, must write exactly the records the local engine writes (up to order)."""

import json
from pathlib import Path

import pytest

from eval.standin import StandIn
from tests.batch.test_batch import MIXED, _run, _write_jsonl

pytestmark = pytest.mark.system     # starts a Ray instance

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray():
    # small and quiet; workers find eval.standin through PYTHONPATH
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}}, logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_engine_resumes_and_writes_what_the_local_engine_writes(tmp_path, local_ray):
    # texts of news size, so that the rows fill several Ray blocks
    rows = MIXED + [{"id": f"n{i}", "text": f"Speaker{i} said {i}. " + "More words. " * 400,
                     "date": "2016-02-0%d" % (i % 9 + 1)} for i in range(40)]
    rows[20]["disputes"] = [{"id": "own", "title": "Own", "proposition": "A record's own dispute."}]
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    local = tmp_path / "local.jsonl"
    _run(inp, local, include_text=True)
    lines = local.read_bytes().splitlines(keepends=True)
    out = tmp_path / "ray.jsonl"
    out.write_bytes(b"".join(lines[:12]) + lines[12][:30])        # a run killed mid-write
    log = tmp_path / "seen"
    s = _run(inp, out, StandIn(log=str(log)), engine="ray", workers=2, include_text=True)
    assert sorted(out.read_bytes().splitlines()) == sorted(line.rstrip(b"\n") for line in lines)
    assert s.skipped == 12 and s.written == len(rows) - 12 and s.engine == "ray"
    analysed = log.read_text().split()
    done_ids = {json.loads(line)["id"] for line in lines[:12]}
    assert not done_ids & set(analysed)                            # nothing done twice
    assert [d["id"] for r in map(json.loads, out.read_bytes().splitlines()) if r["id"] == rows[20]["id"]
            for d in r["disputes"]] == ["own"]


def test_ray_actor_that_cannot_load_the_model_stops_the_job_with_its_message(tmp_path, local_ray):
    from claims.batch.readers import BatchError
    from tests.batch.test_batch import _Broken
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "Text."}])
    with pytest.raises(BatchError, match="^no attribution model at /nowhere$"):
        _run(inp, tmp_path / "out.jsonl", _Broken(), engine="ray", workers=1)
