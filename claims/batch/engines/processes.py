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

from ..plan import Options, Summary, Unit, peak_rss_mb, score_window, window_outputs, work_items
from ...doc import ArticleResult
from ...errors import BatchError

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
    """The multi-process engine: yields (position, record or None) like ``engines.local.score_here``,
    in input order with ``opts.ordered``, else as windows finish."""
    pool = _Pool(spec, opts, summary)
    try:
        yield from pool.run(iter(wins))
    finally:
        pool.close()


class _Pool:
    """The workers of one job and the windows in flight: windows are read ahead while there is
    room, cut into jobs, handed to idle workers, and their outputs released when whole."""

    def __init__(self, spec, opts: Options, summary: Summary):
        self.spec, self.opts, self.summary = spec, opts, summary
        self.n = opts.workers or 1
        self.threads = opts.threads or 1
        self.ctx = mp.get_context("spawn")
        summary.workers = self.n
        self.workers = [_Worker(self.ctx, spec, self.threads, i) for i in range(self.n)]
        self.queue: deque[_Job] = deque()
        self.pending: dict[int, _Window] = {}
        self.finished: dict[int, list] = {}      # seq -> outputs, waiting for older windows (ordered)
        self.out: deque = deque()                # outputs ready to yield
        self.next_out = 0                        # ordered: the next window to yield
        self.next_seq = 0

    def run(self, source: Iterator[list[Unit]]) -> Iterator[tuple]:
        exhausted = False
        while True:
            exhausted = exhausted or self.read_ahead(source)
            while self.out:
                yield self.out.popleft()
            if exhausted and not self.pending and not self.queue:
                return
            self.dispatch()
            self.receive()

    def read_ahead(self, source: Iterator[list[Unit]]) -> bool:
        """Take windows while there is room; True once the input is exhausted."""
        while self.room():
            window = next(source, None)
            if window is None:
                return True
            seq, self.next_seq = self.next_seq, self.next_seq + 1
            items = work_items(window)
            if not items:
                self.complete(seq, window_outputs(window, [], self.opts.include_text))
                continue
            self.pending[seq] = _Window(window, [None] * len(items), len(items))
            self.queue.append(_Job(seq, list(range(len(items))), items))
        return False

    def room(self) -> bool:
        ahead = (self.next_seq - self.next_out) if self.opts.ordered else len(self.pending)
        return ahead < AHEAD_PER_WORKER * self.n and len(self.queue) < self.n

    def complete(self, seq: int, outputs: list) -> None:
        if not self.opts.ordered:
            self.out.extend(outputs)
            return
        self.finished[seq] = outputs
        while self.next_out in self.finished:
            self.out.extend(self.finished.pop(self.next_out))
            self.next_out += 1

    def fill(self, job: _Job, results: list) -> None:
        win = self.pending[job.seq]
        for slot, result in zip(job.slots, results):
            win.results[slot] = result
        win.missing -= len(job.slots)
        if win.missing == 0:
            del self.pending[job.seq]
            self.complete(job.seq, window_outputs(win.units, win.results, self.opts.include_text))

    def dispatch(self) -> None:
        """Hand a queued job to each idle worker."""
        for i, w in enumerate(self.workers):
            if w.ready and w.job is None and self.queue:
                job = self.queue.popleft()
                try:
                    w.conn.send((job.items, self.opts.batch_size))
                    w.job = job
                except (BrokenPipeError, OSError):
                    self.queue.appendleft(job)
                    self.died(i)

    def receive(self) -> None:
        """Wait up to 5 s for the workers' messages and take them."""
        by_conn = {w.conn: i for i, w in enumerate(self.workers)}
        for conn in wait(list(by_conn), timeout=5.0):
            i = by_conn[conn]
            w = self.workers[i]
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                self.died(i)
                continue
            if msg[0] == "ready":
                w.ready = True
            elif msg[0] == "fatal":
                raise BatchError(msg[1])
            else:
                _, results, rss, cpu = msg
                job, w.job = w.job, None
                self.summary.worker_rss_mb[f"worker-{w.pid}"] = rss
                self.summary.worker_cpu_s[f"worker-{w.pid}"] = cpu
                self.fill(job, results)

    def died(self, i: int) -> None:
        """Worker i is gone: retry its window one article at a time on a new worker, or record the
        article that killed it on its own."""
        w = self.workers[i]
        code = w.exit_code()
        w.conn.close()
        if not w.ready:
            raise BatchError(f"a worker process exited while loading the model (exit code {code})")
        job = w.job
        if job is not None:
            if len(job.items) > 1:
                # which article killed it is unknown: try each one alone
                for slot, item in reversed(list(zip(job.slots, job.items))):
                    self.queue.appendleft(_Job(job.seq, [slot], [item]))
            else:
                rid = job.items[0][0]
                self.fill(job, [ArticleResult.failed(rid, "worker_died", f"the worker process exited (code {code}) "
                                                     "while analysing this article").to_dict()])
        self.workers[i] = _Worker(self.ctx, self.spec, self.threads, i)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        for w in self.workers:
            w.close()
