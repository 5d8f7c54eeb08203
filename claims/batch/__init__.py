"""Batch scoring (``claims batch``): readers, the job's plan, engines and sinks; see ``job``."""

from .job import AnalyzerSpec, Options, Summary, Unit, WINDOW_UNITS, admit, run_batch, score_window, windows
from .readers import BatchError, Record, Source
from .sinks import read_output

__all__ = ["AnalyzerSpec", "BatchError", "Options", "Record", "Source", "Summary", "Unit", "WINDOW_UNITS", "admit",
           "read_output", "run_batch", "score_window", "windows"]
