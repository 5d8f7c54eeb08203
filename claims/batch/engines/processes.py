"""Several worker processes on one machine (``claims batch --workers N``).

Each worker is a spawned process that builds its own Analyzer and runs torch on ``--threads``
threads (1 by default, so N workers use N cores without fighting over them). The parent reads
the input, hands one window of articles at a time to each idle worker, and writes every record
itself (one writer, the same resume and error semantics as a single process).

Memory stays flat: a worker holds one window, and the parent reads ahead at most a few windows
per worker; with ``--ordered`` finished windows wait for older ones only within that span.

A worker that dies (a crash in native code, the kernel's OOM killer) takes only its window with
it: the window is tried again one article at a time on a fresh worker, and an article that
kills a worker on its own gets a ``worker_died`` error record. If the parent is killed, each
worker notices its closed pipe and exits after the article it is on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Iterable, Iterator, Optional

from ..job import Options, Summary, Unit, peak_rss_mb, score_window, window_outputs, work_items
from ...doc import ArticleResult
from ..readers import BatchError

AHEAD_PER_WORKER = 4     # windows read ahead of the writer, per worker
STOP_TIMEOUT_S = 5.0


def _worker_main(spec, threads: int, conn) -> None:
    """A worker process: build the analyzer, then score windows until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        analyzer = spec.build()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which stops the job
        conn.send(("fatal", str(e) if isinstance(e, BatchError) else f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return                      # the parent is gone
        if msg is None:
            return
        items, batch_size = msg
        results = score_window(analyzer, items, batch_size)
        try:
            conn.send(("done", results, peak_rss_mb(), time.process_time()))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx, spec, threads: int, index: int):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(spec, threads, child), daemon=True,
                                name=f"claims-worker-{index}")
        self.proc.start()
        child.close()   # so that the worker's death reads as end-of-file here
        self.ready = False
        self.job: Optional[_Job] = None
        self.pid = self.proc.pid

    def exit_code(self) -> Optional[int]:
        self.proc.join(timeout=1.0)
        return self.proc.exitcode

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self.proc.join(timeout=STOP_TIMEOUT_S)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=STOP_TIMEOUT_S)
        self.conn.close()


@dataclass
class _Job:
    seq: int                       # the window it belongs to
    slots: list[int]               # which of the window's articles these are
    items: list[tuple[str, str]]


@dataclass
class _Window:
    units: list[Unit]
    results: list
    missing: int


def score_in_processes(wins: Iterable[list[Unit]], spec, opts: Options, summary: Summary) -> Iterator[tuple]:
    """The multi-process engine: yields (position, record or None) like ``batch.score_here``,
    in input order with ``opts.ordered``, else as windows finish."""
    n = opts.workers or 1
    threads = opts.threads or 1
    ctx = mp.get_context("spawn")
    summary.workers = n
    workers = [_Worker(ctx, spec, threads, i) for i in range(n)]
    queue: deque[_Job] = deque()
    pending: dict[int, _Window] = {}
    finished: dict[int, list] = {}      # seq -> outputs, waiting for older windows (ordered)
    out: deque = deque()                # outputs ready to yield
    next_out = 0                        # ordered: the next window to yield
    next_seq = 0
    source = iter(wins)
    exhausted = False

    def complete(seq: int, outputs: list) -> None:
        nonlocal next_out
        if not opts.ordered:
            out.extend(outputs)
            return
        finished[seq] = outputs
        while next_out in finished:
            out.extend(finished.pop(next_out))
            next_out += 1

    def fill(job: _Job, results: list) -> None:
        win = pending[job.seq]
        for slot, result in zip(job.slots, results):
            win.results[slot] = result
        win.missing -= len(job.slots)
        if win.missing == 0:
            del pending[job.seq]
            complete(job.seq, window_outputs(win.units, win.results, opts.include_text))

    def room() -> bool:
        ahead = (next_seq - next_out) if opts.ordered else len(pending)
        return ahead < AHEAD_PER_WORKER * n and len(queue) < n

    def died(i: int) -> None:
        w = workers[i]
        code = w.exit_code()
        w.conn.close()
        if not w.ready:
            raise BatchError(f"a worker process exited while loading the model (exit code {code})")
        job = w.job
        if job is not None:
            if len(job.items) > 1:
                # which article killed it is unknown: try each one alone
                for slot, item in reversed(list(zip(job.slots, job.items))):
                    queue.appendleft(_Job(job.seq, [slot], [item]))
            else:
                rid = job.items[0][0]
                fill(job, [ArticleResult.failed(rid, "worker_died", f"the worker process exited (code {code}) "
                                                "while analysing this article").to_dict()])
        workers[i] = _Worker(ctx, spec, threads, i)

    try:
        while True:
            while not exhausted and room():
                window = next(source, None)
                if window is None:
                    exhausted = True
                    break
                seq, next_seq = next_seq, next_seq + 1
                items = work_items(window)
                if not items:
                    complete(seq, window_outputs(window, [], opts.include_text))
                    continue
                pending[seq] = _Window(window, [None] * len(items), len(items))
                queue.append(_Job(seq, list(range(len(items))), items))
            while out:
                yield out.popleft()
            if exhausted and not pending and not queue:
                return
            for i, w in enumerate(workers):
                if w.ready and w.job is None and queue:
                    job = queue.popleft()
                    try:
                        w.conn.send((job.items, opts.batch_size))
                        w.job = job
                    except (BrokenPipeError, OSError):
                        queue.appendleft(job)
                        died(i)
            by_conn = {w.conn: i for i, w in enumerate(workers)}
            for conn in wait(list(by_conn), timeout=5.0):
                i = by_conn[conn]
                w = workers[i]
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    died(i)
                    continue
                if msg[0] == "ready":
                    w.ready = True
                elif msg[0] == "fatal":
                    raise BatchError(msg[1])
                else:
                    _, results, rss, cpu = msg
                    job, w.job = w.job, None
                    summary.worker_rss_mb[f"worker-{w.pid}"] = rss
                    summary.worker_cpu_s[f"worker-{w.pid}"] = cpu
                    fill(job, results)
    finally:
        for w in workers:
            w.stop()
        for w in workers:
            w.close()
