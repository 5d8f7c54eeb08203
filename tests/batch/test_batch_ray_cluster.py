"""The Ray engine against a cluster addressed the way a user's is: a head started with
``ray start --head``, a second node joined with ``ray start --address``, and the job run as
``claims batch --engine ray --ray-address HEAD`` (here with the stand-in analyzer of the tests).
The second node is killed mid-job; the job still finishes (resuming from its own output when Ray
fails it for the lost node) and every id is written exactly once.

Every process of this cluster is found by the test's own temporary directory and ports and ended
by its pid at the end, failure or not. (``ray stop --force`` cannot be used: it takes no address
or directory and would end every Ray process of the user on the machine.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
if not Path("/proc/self/cmdline").exists():
    pytest.skip("finds the cluster's processes through /proc", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
N = 60  # articles; the stand-in takes DELAY seconds each
DELAY = 0.4


def _free_ports(n: int, avoid: range = range(0)) -> list[int]:
    """``n`` ports free now, none in ``avoid`` (the worker port ranges, which lie among the
    ephemeral ports the system hands out)."""
    socks, ports = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        if s.getsockname()[1] not in avoid:
            ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _worker_ranges(base: int) -> range:
    """Both nodes' worker ports: the head's from ``base``, the second node's from ``base + 50``."""
    return range(base, base + 100)


def _node_ports(worker_base: int, avoid: range) -> list[str]:
    p = _free_ports(7, avoid)
    return [f"--node-manager-port={p[0]}", f"--object-manager-port={p[1]}", f"--metrics-export-port={p[2]}",
            f"--dashboard-agent-listen-port={p[3]}", f"--dashboard-agent-grpc-port={p[4]}",
            f"--runtime-env-agent-port={p[5]}", f"--min-worker-port={worker_base}",
            f"--max-worker-port={worker_base + 40}"]


def _cluster_processes(marks: list[str]) -> list[int]:
    """Pids of processes whose command line names one of ``marks`` (the temp dir, the ports)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(m in cmd for m in marks):
            out.append(int(d.name))
    return out


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in pids):
        time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def cluster():
    tmp = Path(tempfile.mkdtemp(prefix="rayc", dir="/tmp"))      # short: Ray's socket paths must fit
    base = 30000 + (os.getpid() % 200) * 100
    gcs, dashboard = _free_ports(2, _worker_ranges(base))
    head_ports, node_ports = _node_ports(base, _worker_ranges(base)), _node_ports(base + 50, _worker_ranges(base))
    # no token authentication (Ray turns it on for a head when ~/.ray holds a token): the same for all
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    marks = [str(tmp), f"127.0.0.1:{gcs}", f"gcs-address=127.0.0.1:{gcs}", f"gcs_address=127.0.0.1:{gcs}"]
    address = f"127.0.0.1:{gcs}"
    try:
        common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1",
                  "--object-store-memory=80000000"]
        _start([RAY, "start", "--head", f"--port={gcs}", f"--temp-dir={tmp}", "--include-dashboard=false",
                f"--dashboard-port={dashboard}",
                *common, *head_ports], env, tmp, marks)
        second = node_ports[0].split("=")[1]
        _start([RAY, "start", f"--address={address}", *common, *node_ports], env, tmp,
               [f"node_manager_port={second}", f"node-manager-port={second}"])
        yield {"address": address, "env": env, "tmp": tmp, "marks": marks,
               "second": [f"node_manager_port={second}", f"node-manager-port={second}"]}
    finally:
        _kill(_cluster_processes(marks))
        shutil.rmtree(tmp, ignore_errors=True)
        assert not [p for p in _cluster_processes(marks) if not _zombie(p)], "Ray processes of the test left running"


def _start(cmd: list[str], env: dict, tmp: Path, marks: list[str], tries: int = 3) -> None:
    """``ray start ...``; on a busy machine a node can miss Ray's fixed 30 s start-up wait, so a
    failed start is cleaned up (its processes, by ``marks``) and tried again."""
    out = ""
    for _ in range(tries):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        if r.returncode == 0:
            return
        out = r.stdout[-2000:] + r.stderr[-2000:] + _logs(tmp)
        _kill(_cluster_processes(marks))
    raise AssertionError(f"`{' '.join(cmd[1:3])}` failed {tries} times:\n{out}")


def _logs(tmp: Path) -> str:
    return "".join(f"\n--- {f}\n" + f.read_text(errors="replace")[-1500:]
                   for f in sorted(tmp.glob("session_*/logs/raylet*.err")) + sorted(tmp.glob("session_*/logs/raylet*.out")))


def _nodes_alive(address: str, env: dict) -> int:
    code = ("import ray, logging; ray.init(address=%r, logging_level=logging.ERROR); "
            "print(sum(n['Alive'] for n in ray.nodes()))" % address)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else -1


@pytest.mark.slow
def test_ray_cluster_job_survives_losing_a_node(cluster, tmp_path):
    """Ray Data 2.60 does not always carry a job over the loss of a node: a block held in the
    lost node's object store can fail the job with ``ActorUnavailableError``. Then the job must stop
    with its one-line error, keep what it wrote, and the same command must finish the job on the
    remaining node. Either way every id ends up written exactly once."""
    env, address = cluster["env"], cluster["address"]
    assert _nodes_alive(address, env) == 2
    inp = tmp_path / "in.jsonl"
    ids = [f"a{i}" for i in range(N)]
    inp.write_text("".join(json.dumps({"id": i, "text": f"Speaker {i} said that {i} matters."}) + "\n"
                           for i in ids))
    out, log = tmp_path / "out.jsonl", tmp_path / "analysed"
    command = [sys.executable, "-m", "eval.standin", "--delay", str(DELAY), "--log", str(log),
               str(inp), "-o", str(out), "--quiet", "--engine", "ray", "--ray-address", address,
               "--workers", "2", "--batch-size", "4"]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        # both nodes at work: wait for a quarter of the input to be analysed, then kill the second node
        deadline = time.time() + 600
        while time.time() < deadline and job.poll() is None:
            if log.exists() and len(log.read_text().split()) >= N // 4:
                break
            time.sleep(0.2)
        assert job.poll() is None, job.communicate()
        second = _cluster_processes(cluster["second"])
        assert second, "no processes of the second node found"
        _kill(second)
        stdout, stderr = job.communicate(timeout=900)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, stderr[-3000:]
    written = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(written) == sorted(ids)              # every id, exactly once
    assert _nodes_alive(address, env) == 1             # the second node is gone indeed
