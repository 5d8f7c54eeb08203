"""The errors a user can cause, and the exit codes the commands give for them.

Every layer raises its own kind; the command line turns each into one line on stderr and an exit
code, the batch job into an error record, the Python API lets it through:

* ``InputError``: an article's text cannot be analysed (not text, empty, too long, binary); its
  ``kind`` is the error type of a batch error record.
* ``ModelError``: a model directory is missing or unreadable; ``EncoderError``, one of them, an
  encoder directory that cannot serve as the trunk and tops.
* ``BatchError``: a batch job cannot start (unreadable input, bad output path, another job's output);
  ``EngineLost``, one of them, a Ray job whose cluster lost a node (the job resumes by itself).
* ``UserError``: anything else a user can fix on the command line; one line, exit code 2.
"""

from __future__ import annotations

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130

MAX_CHARS = 200_000  # the longest article accepted by default: about 30,000 words, far beyond any news article


class InputError(ValueError):
    """Input a user can fix: ``kind`` is a short machine-readable name."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class ModelError(RuntimeError):
    """A model directory that is missing or unreadable."""


class EncoderError(ModelError, ValueError):
    """An encoder directory that cannot serve as the trunk and tops."""


class BatchError(Exception):
    """The job cannot start (unreadable input, bad output path, unknown format)."""


class EngineLost(BatchError):
    """The engine lost part of its cluster mid-job (a node, and the results it held): what was
    written is kept, and the job can resume from it."""


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""
