"""kill -9 a batch job at random moments, rerun it each time: at the end every input record has
exactly one output record and every line is valid JSON. The job runs in a subprocess with the
stand-in analyzer (eval/standin.py), alternating one and two workers."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from claims.batch.sinks import read_output

pytestmark = pytest.mark.system     # kills running jobs (and their worker processes)

ROOT = Path(__file__).resolve().parents[2]
N = 400


def _input(path: Path) -> set:
    lines = [json.dumps({"id": f"id-{i}", "text": f"Speaker{i} said thing {i}.", "n": i}) for i in range(N)]
    lines[17] = "{torn json"                                   # -> line:18
    lines[101] = json.dumps({"id": "id-101", "text": ""})      # -> an error record with its id
    path.write_text("\n".join(lines) + "\n")
    return {f"id-{i}" for i in range(N) if i != 17} | {"line:18"}


def _group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group: the job and any worker it left."""
    alive = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(d.name))
    return alive


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = _group_alive(pgid)
        if not left:
            return []
        time.sleep(0.1)
    return _group_alive(pgid)


def _job(inp: Path, out: Path, workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "eval.standin", "--delay", "0.004", str(inp), "-o", str(out),
           "--workers", str(workers), "--batch-size", "4", "--part-rows", "25", "--quiet"]
    # a session of its own, so that the test can see whether any worker outlives the killed job
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _check_lines(out: Path, allow_torn_tail: bool) -> None:
    if out.suffix != ".jsonl" or not out.exists():
        return
    lines = out.read_bytes().split(b"\n")
    tail = lines.pop()   # after the last newline: empty, or a record torn by the kill
    assert allow_torn_tail or tail == b""
    for line in lines:
        json.loads(line)


def _written(out: Path) -> int:
    """About how many records the job has written so far (committed parts for Parquet)."""
    if out.suffix == ".jsonl":
        return out.read_bytes().count(b"\n") if out.exists() else 0
    return 25 * len(list(out.glob("part-*.parquet"))) if out.exists() else 0


def _kill_at_random_moment(job: subprocess.Popen, out: Path, rng: random.Random) -> bool:
    """SIGKILL the job at a random point of its progress (not of the clock: this machine's
    speed varies), sometimes before it has written anything. True if it was still running."""
    done = _written(out)
    target = 0 if rng.random() < 0.2 else done + rng.randint(1, max(1, (N - done) // 2))
    deadline = time.monotonic() + 60
    while _written(out) < target and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.3 if target == 0 else 0.05))
    if job.poll() is not None:
        return False
    os.kill(job.pid, signal.SIGKILL)
    return True


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_kill_9_at_random_moments_then_rerun_writes_every_id_once(tmp_path, name):
    inp = tmp_path / "in.jsonl"
    expected = _input(inp)
    out = tmp_path / name
    rng = random.Random(f"kill-{name}")
    kills = 0
    for attempt in range(6):
        job = _job(inp, out, workers=1 + attempt % 2)
        kills += _kill_at_random_moment(job, out, rng)
        job.wait()
        assert _wait_group_gone(job.pid) == [], "a worker outlived the killed job"
        _check_lines(out, allow_torn_tail=True)
    final = _job(inp, out, workers=2)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 1, err.decode()     # two records of the input are errors
    _check_lines(out, allow_torn_tail=False)
    counts = Counter(r["id"] for r in read_output(str(out)))
    assert set(counts) == expected and set(counts.values()) == {1}
    assert kills >= 5, "the job finished before most kills; the test did not test much"
