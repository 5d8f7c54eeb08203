"""Progress of a batch job (``claims batch``, ``claims stance``): a rich bar on a terminal, a plain log line every few seconds
otherwise (a log file, a CI job), nothing with --quiet.

The bar advances by input position (bytes, or rows for Parquet), so the ETA holds from the start
without counting the input first; the rate shown is of articles written.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

LOG_EVERY_S = 10.0


class Progress:
    """Call ``update`` after each record and ``close`` at the end. ``bar=False`` keeps to plain
    lines even on a terminal (when the records themselves go to the same terminal)."""

    def __init__(self, quiet: bool = False, total: Optional[int] = None, stream: Optional[TextIO] = None,
                 log_every: Optional[float] = None, bar: bool = True, label: str = "claims batch",
                 unit: str = "articles"):
        self.quiet = quiet
        self.label = label
        self.unit = unit
        self.total = total or None
        self.stream = stream or sys.stderr
        self.log_every = LOG_EVERY_S if log_every is None else log_every
        self.last_log = time.monotonic()
        self.last_draw = 0.0
        self.bar = None
        if not quiet and bar and self.stream.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn
        columns = [BarColumn(bar_width=20), TextColumn("{task.percentage:>3.0f}%"),
                   TextColumn("{task.fields[status]}"), TextColumn("ETA"), TimeRemainingColumn()]
        self.bar = RichProgress(*columns, console=Console(file=self.stream), transient=False)
        self.task = self.bar.add_task("batch", total=self.total, status="starting…")
        self.bar.start()

    def status(self, summary, elapsed: float, short: bool = False) -> str:
        """Records written and failed, already done (when the job resumes), and the rate."""
        rate = summary.written / elapsed if elapsed > 0 else 0.0
        if short:    # fits an 80-column terminal beside the bar and the clocks
            return f"{summary.written:,} written, {summary.failed:,} failed, {rate:.2f} {self.unit}/s"
        skipped = getattr(summary, "skipped", None)
        done = f", {skipped:,} already done" if skipped is not None else ""
        return f"{summary.written:,} written ({summary.failed:,} failed){done}, {rate:.2f} {self.unit}/s"

    def update(self, summary, pos: int, elapsed: float) -> None:
        """Show progress after a record; ``pos`` is how far into the input it ended."""
        if self.quiet:
            return
        now = time.monotonic()
        if self.bar is not None:
            if now - self.last_draw > 0.2:   # redrawing per record would cost more than a record
                self.bar.update(self.task, completed=pos, status=self.status(summary, elapsed, short=True))
                self.last_draw = now
        elif now - self.last_log >= self.log_every:
            done = f" {100 * pos / self.total:.1f}% of the input," if self.total else ""
            eta = ""
            if self.total and pos > 0:
                eta = f", ETA {_clock(elapsed * (self.total - pos) / pos)}"
            print(f"{self.label}:{done} {self.status(summary, elapsed)}, {_clock(elapsed)} elapsed{eta}",
                  file=self.stream, flush=True)
            self.last_log = now

    def close(self, finished: bool = True) -> None:
        """Stop the bar (full if the job ``finished``)."""
        if self.bar is not None:
            if finished and self.total:
                self.bar.update(self.task, completed=self.total)
            self.bar.stop()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
