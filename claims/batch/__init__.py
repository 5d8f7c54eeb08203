"""Batch scoring (``claims batch``): readers, the job's plan, engines and sinks; see ``job``."""

from .job import run_batch
from .plan import AnalyzerSpec, BatchJob, Options, Summary, Unit, WINDOW_UNITS, admit, score_window, windows
from ..errors import BatchError
from .readers import Record, Source
from .sinks import read_output

__all__ = ["AnalyzerSpec", "BatchError", "BatchJob", "Options", "Record", "Source", "Summary", "Unit", "WINDOW_UNITS", "admit",
           "read_output", "run_batch", "score_window", "windows"]
