"""Batch scoring: many articles in, one result record per input record out (``claims batch``).

    claims batch articles.jsonl -o results.jsonl                 # resumes if results.jsonl exists
    claims batch articles.csv -o results.parquet --workers 2     # two processes, Parquet parts
    claims batch articles.jsonl -o results.jsonl --engine ray    # Ray Data, local or a cluster

The job is the same on every engine:

    Source (readers.py) ──► admit: skip what is done, flag duplicates and bad records
        ──► windows of up to --batch-size articles ──► score (engines/: this process, worker
        processes, or a Ray actor pool) ──► result records ──► one writer (sinks.py), resumable

Only the scoring step differs between engines; admission, windows, the result and error records
(plan.py) and the writer are the same for all of them. This module runs the job: it checks that
an existing output belongs to the same job, picks the engine and writes what it returns. Every failure is an error record for that
item (``"error": {"type", "message"}``) and the job goes on; the exit code says whether any
record of the output is an error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time

from ..doc import Dispute
from ..errors import BatchError, EngineLost
from ..progress import Progress
from .engines.local import score_here
from .engines.processes import score_in_processes
from .plan import AnalyzerSpec, BatchJob, Summary, admit, check_options, peak_rss_mb, windows
from .readers import Source
from .sinks import open_sink, read_job, write_job


# ------------------------------------------------------------------------------ the job's identity

INPUT_HEAD_BYTES = 1 << 16
RESUMES_AFTER_LOSS = 3   # a Ray job whose cluster lost a node resumes from its output this often
# option -> how a user names it, for the message that refuses to resume a different job
OPTION_NAMES = {"format": "--format", "id_field": "--id-field", "text_field": "--text-field",
                "max_chars": "--max-chars", "include_text": "--include-text", "model": "--model",
                "stance_model": "--stance-model", "no_stance": "--no-stance", "min_confidence": "--min-confidence",
                "disputes": "the disputes"}


def job_description(job: BatchJob, source: Source, spec) -> dict:
    """What makes two runs the same job: the options that decide the records, and a hash of the
    input's first 64 KiB (an input that grew at the end is the same job, so resuming an input
    that more lines were appended to works)."""
    options = {"format": source.format, "id_field": job.id_field, "text_field": job.text_field,
               "max_chars": job.max_chars, "include_text": job.options.include_text}
    if hasattr(spec, "fingerprint"):
        options.update(spec.fingerprint())
    head = source.head(INPUT_HEAD_BYTES)
    return {"version": 1, "options": options,
            "input": {"name": job.input, "head_bytes": len(head), "sha256": hashlib.sha256(head).hexdigest()}}


def check_same_job(output: str, old: dict, new: dict, source: Source) -> None:
    """Raise ``BatchError`` if ``old`` (kept with the output) describes another job than ``new``."""
    differ = [OPTION_NAMES.get(k, k) for k in sorted(set(old.get("options", {})) | set(new["options"]))
              if old.get("options", {}).get(k) != new["options"].get(k)]
    head = old.get("input", {})
    n = head.get("head_bytes")
    if not isinstance(n, int) or hashlib.sha256(source.head(n)).hexdigest() != head.get("sha256"):
        differ.insert(0, f"the input (was {head.get('name')!r})")
    if differ:
        raise BatchError(f"{output}: holds the output of another job ({', '.join(differ)} differ); rerun "
                         f"with --overwrite to start it again, or write to another -o")


def run_batch(job: BatchJob, disputes: list[Dispute], spec=None) -> Summary:
    """Run a batch job; returns the summary (printed unless ``job.quiet``). ``spec`` builds the
    analyzer (default: ``AnalyzerSpec`` from the job and the disputes)."""
    opts = check_options(job.options)
    source = Source(job.input, job.format, job.id_field, job.text_field, job.max_chars)
    source.check()
    if job.engine == "ray" and job.input == "-":
        raise BatchError("--engine ray reads the input from a file; save stdin to a file first")
    spec = spec if spec is not None else AnalyzerSpec.from_job(job, disputes)
    if job.note and not job.quiet:
        print(job.note, file=sys.stderr)
    # a cluster job that lost a node resumes from its own output, as a rerun would (not on stdout)
    resumes = RESUMES_AFTER_LOSS if job.engine == "ray" and job.output != "-" else 0
    done_before = None
    while True:
        summary = Summary(engine=job.engine)
        try:
            _attempt(job, source, spec, opts, summary)
        except EngineLost as e:
            if resumes == 0:
                raise
            resumes -= 1
            if not job.quiet:
                print(f"{e}; resuming from the {summary.written} records written", file=sys.stderr)
            done_before = summary if done_before is None else _joined(done_before, summary)
            job = dataclasses.replace(job, overwrite=False)     # what is written stays
            continue
        break
    if done_before is not None:
        summary = _joined(done_before, summary)
    if not job.quiet:
        print(summary.line(), file=sys.stderr)
    return summary


def _attempt(job: BatchJob, source: Source, spec, opts, summary: Summary) -> None:
    """One pass over the input into the output, counting into ``summary`` as it goes."""
    sink = _open_output(job, source, spec)
    summary.failed_before = sink.done.failed
    t0 = time.monotonic()
    progress = None
    finished = False
    outputs = iter(())
    try:
        # records on a terminal's stdout would tear a bar drawn on the same terminal
        progress = Progress(quiet=job.quiet, total=source.size(), bar=not (job.output == "-" and sys.stdout.isatty()))
        outputs = _engine_outputs(job.engine, source, sink.done, spec, opts, summary)
        for pos, record in outputs:
            summary.total += 1
            if record is None:
                summary.skipped += 1
            else:
                sink.write(record)
                summary.written += 1
                summary.failed += record.get("error") is not None
                if summary.first_write is None:
                    summary.first_write = time.monotonic() - t0
            progress.update(summary, pos, time.monotonic() - t0)
        finished = True
    finally:
        if hasattr(outputs, "close"):
            outputs.close()     # stop the workers now, not when the generator is collected
        sink.close()
        summary.elapsed = time.monotonic() - t0
        summary.parent_rss_mb = peak_rss_mb()
        summary.parent_cpu_s = time.process_time()
        if progress is not None:
            progress.close(finished)


def _joined(first: Summary, then: Summary) -> Summary:
    """One summary for a pass that was cut short and the pass that resumed it: what the second
    pass skipped because the first had written it counts as written, not as already done."""
    out = dataclasses.replace(then)
    out.written = first.written + then.written
    out.failed = first.failed + then.failed
    out.skipped = max(0, then.skipped - first.written)
    out.failed_before = first.failed_before
    out.elapsed = first.elapsed + then.elapsed
    out.first_write = first.first_write if first.first_write is not None else then.first_write
    out.worker_rss_mb = {**first.worker_rss_mb, **then.worker_rss_mb}
    out.worker_cpu_s = {**first.worker_cpu_s, **then.worker_cpu_s}
    out.parent_rss_mb = max(first.parent_rss_mb, then.parent_rss_mb)
    return out


def _open_output(job: BatchJob, source: Source, spec):
    """The sink, after checking that an output it resumes was written by the same job (another
    input whose ids match would otherwise be skipped as done)."""
    sink = open_sink(job.output, overwrite=job.overwrite, part_rows=job.part_rows)
    if job.output == "-":
        return sink
    try:
        new = job_description(job, source, spec)
        old = read_job(job.output)
        if old is not None and sink.done.records and not job.overwrite:
            check_same_job(job.output, old, new, source)
        if old != new:
            write_job(job.output, new)
    except BaseException:
        sink.close()
        raise
    return sink


def _engine_outputs(engine: str, source: Source, done, spec, opts, summary: Summary):
    """(position, record or None) for every input record, from the engine the job asked for."""
    if engine == "ray":
        from .engines.ray import score_on_ray     # Ray is an optional dependency
        return score_on_ray(source, done, spec, opts, summary)
    if (opts.workers or 1) > 1:
        return score_in_processes(windows(admit(source, done), opts.batch_size), spec, opts, summary)
    return score_here(windows(admit(source, done), opts.batch_size), spec, opts, summary)
