"""The Ray engine (``claims batch --engine ray``): the same job as a Ray Data pipeline.

    read ──► map_batches(actor pool, each actor holding one Analyzer) ──► this process writes

Read: one Ray task, placed on this machine (the input is a local file here), runs the same
reader and admission as the local engines (``batch.admit``: resume skips, duplicate ids, error
records for bad lines) and streams windows of rows into Ray Data. Admission is one pass in input
order, which is what makes its decisions identical to a local run; reading is never the slow
part (the model is, by three to four orders of magnitude).

Score: ``map_batches`` with an actor pool, one actor per ``--threads`` CPUs of the cluster (or
``--workers`` actors), each building its own Analyzer from the ``AnalyzerSpec``; actors run
``batch.score_window`` and send back the result dict, not the text.

Write: the results stream back here and go through the same record builder and writer as the
local engines, so resume, torn-line repair and Parquet parts behave the same. ``--ordered`` asks
Ray Data to preserve input order.

A local Ray instance is started unless ``--ray-address`` (or ``RAY_ADDRESS``) names a cluster;
run the job on a node of that cluster, since the input and output files stay on this machine.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import warnings
from typing import Iterator

from ..plan import Options, Summary, Unit, admit, peak_rss_mb, score_window, window_outputs, windows
from ...errors import BatchError, EngineLost
from ..readers import Record, Source
from ..sinks import DoneIds, dumps

# Ray Data merges small outputs into blocks of up to this size; small blocks keep the actors
# evenly busy and the results flowing back while the job runs (the default is 128 MiB).
BLOCK_BYTES = 64 * 1024
ACTOR_RESTARTS = 3   # an actor that crashes is restarted this often before the job stops


def _schema():
    import pyarrow as pa
    # Text travels as UTF-8 bytes (surrogatepass), since Arrow strings refuse what JSON allows.
    return pa.schema([("kind", pa.string()), ("count", pa.int64()), ("pos", pa.int64()), ("line", pa.int64()),
                      ("id", pa.binary()), ("text", pa.binary()), ("extra", pa.binary()),
                      ("record", pa.binary()), ("worker", pa.string()), ("rss", pa.float64()),
                      ("cpu", pa.float64()), ("disputes", pa.binary())])


def _enc(s):
    return None if s is None else s.encode("utf-8", "surrogatepass")


def _dec(b):
    return None if b is None else b.decode("utf-8", "surrogatepass")


def _disputes(b):
    """A record's own disputes back from a row (None: the job's)."""
    from ...doc import Dispute
    return None if b is None else tuple(Dispute(**d) for d in json.loads(_dec(b)))


def unit_rows(window: list[Unit]) -> list[dict]:
    """A window as Arrow rows; runs of skipped records travel as one row with a count."""
    rows: list[dict] = []
    for u in window:
        if u.kind == "skip" and rows and rows[-1]["kind"] == "skip":
            rows[-1]["count"] += 1
            rows[-1]["pos"] = u.rec.pos
            continue
        rows.append({"kind": u.kind, "count": 1, "pos": u.rec.pos, "line": u.rec.line, "id": _enc(u.rec.id),
                     "text": _enc(u.rec.text) if u.kind == "work" else None,
                     "extra": _enc(dumps(u.rec.extra)) if u.kind == "work" else None,
                     "record": _enc(dumps(u.record)) if u.record is not None else None,
                     "worker": None, "rss": None, "cpu": None,
                     "disputes": _enc(dumps([d.to_dict() for d in u.rec.disputes]))
                     if u.kind == "work" and u.rec.disputes is not None else None})
    return rows


def row_outputs(row: dict, include_text: bool = False) -> list[tuple]:
    """The (position, record or None) outputs of one row that came back from the actors (which
    send the text back only when it goes into the record)."""
    if row["kind"] == "skip":
        return [(row["pos"], None)] * row["count"]
    rec = Record(row["line"], _dec(row["id"]), _dec(row["text"]), pos=row["pos"])
    if row["kind"] == "ready":
        return window_outputs([Unit("ready", rec, json.loads(_dec(row["record"])))], [])
    rec.extra = json.loads(_dec(row["extra"]))
    return window_outputs([Unit("work", rec)], [json.loads(_dec(row["record"]))], include_text)


def _read(batch, source: Source, done_ref: list, batch_size: int):
    """The read step (a generator, so Ray Data streams its windows as they are made)."""
    import pyarrow as pa
    import ray
    done = ray.get(done_ref[0])
    schema = _schema()
    for window in windows(admit(source, done), batch_size):
        yield pa.Table.from_pylist(unit_rows(window), schema=schema)


class _Scorer:
    """A Ray actor holding one Analyzer."""

    def __init__(self, spec, threads: int, batch_size: int, include_text: bool = False):
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        self.analyzer = spec.build()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.batch_size = batch_size
        self.include_text = include_text
        self.name = f"ray-{os.uname().nodename}-{os.getpid()}"

    def __call__(self, table):
        import pyarrow as pa
        rows = table.to_pylist()
        work = [r for r in rows if r["kind"] == "work"]
        results = score_window(self.analyzer, [(_dec(r["id"]), _dec(r["text"]), _disputes(r["disputes"]))
                                               for r in work], self.batch_size)
        for row, result in zip(work, results):
            row["record"] = _enc(dumps(result))
            if not self.include_text:
                row["text"] = None
        rss, cpu = peak_rss_mb(), time.process_time()
        for row in rows:
            row["worker"], row["rss"], row["cpu"] = self.name, rss, cpu
        return pa.Table.from_pylist(rows, schema=_schema())


def _connect(address):
    """Connect to the cluster at ``address``, or start a local instance; True if started here."""
    try:
        import ray
    except ImportError:
        raise BatchError("--engine ray needs Ray: pip install 'claims[ray]'") from None
    if ray.is_initialized():
        return False
    kwargs = {"logging_level": logging.ERROR}   # Ray's notices would bury the job's own lines
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["include_dashboard"] = False    # a local instance for this job only
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise BatchError(f"cannot reach the Ray cluster at {address}: {e}") from None
    return True


def _job_error(e: Exception) -> BatchError:
    """One clear line for a failed Ray job. A remote BatchError (an actor that cannot load the
    model) arrives only as text inside Ray's error, so its message is taken from there. A lost node
    gives ``EngineLost``, which the job resumes from its output."""
    text = str(e)
    found = re.findall(r"BatchError: (.+)", text)
    if found:
        return BatchError(found[-1].strip())
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    kind = EngineLost if _lost_part_of_cluster(e) else BatchError
    return kind(f"the Ray job failed ({type(e).__name__}: {first}); what was written is kept, "
                      f"rerun to resume")


_LOSS = re.compile(r"ActorUnavailable|ActorDied|RayActorError|NodeDied|ObjectLost|OwnerDied|ObjectReconstruction")


def _lost_part_of_cluster(e: Exception) -> bool:
    """A failure of the cluster (an actor, a node or the blocks it held gone), not of the job's own
    code: resuming from the output can finish the job."""
    from ray.exceptions import RayError, RayTaskError
    if isinstance(e, RayError) and not isinstance(e, RayTaskError):
        return True
    return bool(_LOSS.search(f"{type(e).__name__}: {e}"))


def _quiet_ray_data() -> None:
    # Ray Data logs each execution plan to the console; keep its log file, quiet the console.
    for handler in logging.getLogger("ray.data").handlers:
        if "File" not in type(handler).__name__:
            handler.setLevel(logging.ERROR)
    # a small input makes fewer blocks than actors; that is expected, not worth a warning
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)


def score_on_ray(source: Source, done: DoneIds, spec, opts: Options, summary: Summary) -> Iterator[tuple]:
    """The Ray engine: yields (position, record or None) like the local engines."""
    started = _connect(opts.ray_address)
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    ctx = DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.target_max_block_size, ctx.enable_progress_bars)
    _quiet_ray_data()
    try:
        ctx.execution_options.preserve_order = opts.ordered
        ctx.target_max_block_size = BLOCK_BYTES
        ctx.enable_progress_bars = False          # the job draws its own
        threads = opts.threads or 1
        n = opts.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        summary.workers = n
        # the Source crosses to a Ray worker: give it an absolute path
        source.path = os.path.abspath(source.path)
        node = ray.get_runtime_context().get_node_id()
        ds = ray.data.from_items([{"shard": 0}])
        ds = ds.map_batches(_read, fn_kwargs={"source": source, "done_ref": [ray.put(done)],
                                              "batch_size": opts.batch_size},
                            batch_size=None, batch_format="pyarrow", num_cpus=0,
                            label_selector={"ray.io/node-id": node})
        with warnings.catch_warnings():
            # restarts are only settable through the deprecated ray_remote_args in Ray 2.60-2.63
            warnings.simplefilter("ignore")
            ds = ds.map_batches(_Scorer, fn_constructor_kwargs={"spec": spec, "threads": threads,
                                                                "batch_size": opts.batch_size,
                                                                "include_text": opts.include_text},
                                batch_size=None, batch_format="pyarrow", compute=ActorPoolStrategy(size=n),
                                num_cpus=threads, max_restarts=ACTOR_RESTARTS, max_task_retries=ACTOR_RESTARTS)
        try:
            for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in table.to_pylist():
                    if row["worker"] is not None:
                        name = row["worker"]
                        summary.worker_rss_mb[name] = max(row["rss"], summary.worker_rss_mb.get(name, 0.0))
                        summary.worker_cpu_s[name] = max(row["cpu"], summary.worker_cpu_s.get(name, 0.0))
                    yield from row_outputs(row, opts.include_text)
        except Exception as e:  # noqa: BLE001 - Ray wraps what failed remotely in several types
            raise _job_error(e) from None
    finally:
        ctx.execution_options.preserve_order, ctx.target_max_block_size, ctx.enable_progress_bars = saved
        if started:
            ray.shutdown()
