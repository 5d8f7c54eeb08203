"""The single-process engine: this process holds the model and scores each window in turn."""

from __future__ import annotations

from typing import Iterable, Iterator

from ..plan import Options, Summary, Unit, peak_rss_mb, score_window, window_outputs, work_items


def score_here(wins: Iterable[list[Unit]], spec, opts: Options, summary: Summary) -> Iterator[tuple]:
    """The single-process engine: this process holds the model and scores each window in turn."""
    analyzer = None
    for window in wins:
        items = work_items(window)
        if items and analyzer is None:   # load the model only when something needs it
            if opts.threads:
                import torch
                torch.set_num_threads(opts.threads)
            analyzer = spec.build()
        results = score_window(analyzer, items, opts.batch_size) if items else []
        summary.worker_rss_mb["main"] = peak_rss_mb()
        yield from window_outputs(window, results, opts.include_text)
