"""A stand-in for the Analyzer: instant, deterministic, and able to fail on cue. The batch tests run
jobs with it, and ``eval.bench`` measures a job's own memory with it (no model).

It returns one claim per article (spans, speaker, stance) built from the text, so that records
have the full result shape. In a text, ``BOOM`` gives a ``model_error`` result (what
``Analyzer.analyze_many`` yields when the model raises), ``RAISE`` makes ``analyze_many`` itself
raise, ``CRASH`` kills the process as a crash in native code would, and ``SLOW`` takes half a
second. ``delay`` seconds per
article give a kill test time to strike mid-job; ``log`` names a file that gets each analysed id.

    python -m eval.standin [--delay S] [--log FILE] [--summary FILE] INPUT -o OUTPUT [batch options]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

from claims.doc import ArticleResult, Claim, Span, Speaker, Stance

MAX_CHARS = 200_000


@dataclass(frozen=True)
class StandIn:
    """An ``AnalyzerSpec`` look-alike: ``build()`` returns the stand-in analyzer."""
    delay: float = 0.0
    log: Optional[str] = None
    disputes: tuple = ()      # the job's disputes, as the Analyzer's own

    def build(self):
        return StandInAnalyzer(self.delay, self.log, list(self.disputes))


class StandInAnalyzer:
    def __init__(self, delay: float = 0.0, log: Optional[str] = None, disputes=None):
        self.delay = delay
        self.log = log
        self.disputes = disputes or []

    def analyze_many(self, items, batch_size=8, disputes=None):
        for rid, text in items:
            if self.log:
                with open(self.log, "a") as f:
                    f.write(f"{rid}\n")
            if self.delay:
                time.sleep(self.delay)
            problem = _check(text)
            if problem:
                yield ArticleResult.failed(rid, *problem)
                continue
            if "CRASH" in text:
                os._exit(3)
            if "RAISE" in text:
                raise RuntimeError("stand-in raised")
            if "SLOW" in text:
                time.sleep(0.5)
            if "BOOM" in text:
                yield ArticleResult.failed(rid, "model_error", "RuntimeError: boom")
                continue
            yield ArticleResult(rid, text, [_claim(text)], list(self.disputes if disputes is None else disputes), {"name": "stand-in", "version": "0"})


def _check(text) -> Optional[tuple[str, str]]:
    # the same kinds as claims.analyzer.check_text, without importing torch into every worker
    if not isinstance(text, str):
        return "not_text", f"text must be a string, got {type(text).__name__}"
    if not text.strip():
        return "empty_text", "the text is empty"
    if len(text) > MAX_CHARS:
        return "too_long", f"the text has {len(text):,} characters"
    return None


def _claim(text: str) -> Claim:
    words = text.split()
    first = text.index(words[0])
    content = Span.of(text, first, len(text.rstrip()))
    source = Span.of(text, first, first + len(words[0]))
    score = (len(text) % 10) / 10
    return Claim("c1", [content], cue=None, source=source,
                 speaker=Speaker(words[0], "person", source), form="indirect", confidence=0.5,
                 stance={"d1": Stance("favor", {"favor": score, "against": 1 - score, "neutral": 0.0,
                                                "unrelated": 0.0})})


def main(argv=None) -> int:
    from claims.batch import BatchJob, run_batch
    from claims.cli import EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED, build_parser
    from claims.errors import BatchError
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--log")
    ap.add_argument("--summary", help="write the job's summary here as JSON")
    own, rest = ap.parse_known_args(argv)
    args = build_parser().parse_args(["batch", *rest])
    try:
        summary = run_batch(BatchJob.from_args(args), [], spec=StandIn(own.delay, own.log))
    except BatchError as e:
        print(f"claims: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    if own.summary:
        with open(own.summary, "w") as f:
            json.dump(summary.to_dict(), f)
    return EXIT_OK if summary.all_failed == 0 else EXIT_SOME_FAILED


if __name__ == "__main__":
    sys.exit(main())
