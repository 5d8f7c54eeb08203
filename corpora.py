"""Readers for the annotated corpora in ``$CLAIMS_DATA`` (default ``../shared/data``).

The formats are those of the shared data folder (its READMEs): PolNeAR articles as JSONL with
character-offset attributions, and stance pairs as ``{"id", "target", "text", "label"}`` JSONL.
The review console exports corrections in the same formats, so training reads both alike.

The corpora are read through `datasets` (``dataset``): the first read of a file converts it to an
Arrow table in the `datasets` cache (``$HF_DATASETS_CACHE``), later reads map that table from disk,
and ``streaming=True`` reads a file as it goes instead. A file's cache entry is keyed by its path,
size and modification time, so an edited file is read again. ``polnear``/``stance`` return the
rows as plain dicts, exactly as the file holds them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from claims.jsonl import JsonlError, read_jsonl  # noqa: F401  (corpora.read_jsonl: gzip by suffix, file:line errors)

STANCE_DATASETS = ("fnc1", "emergent", "semeval2016_task6", "ibm_claim_stance", "perspectrum", "arc", "vast")


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The shared data folder: the argument, ``$CLAIMS_DATA``, or ``../shared/data`` from the
    project root."""
    if path:
        return Path(path)
    if os.environ.get("CLAIMS_DATA"):
        return Path(os.environ["CLAIMS_DATA"])
    return Path(__file__).resolve().parents[1] / "shared" / "data"


def polnear_path(split: str, root: str | os.PathLike | None = None) -> Path:
    return data_dir(root) / "attribution" / "polnear" / f"{split}.jsonl"


def _rows(path: str, stamp: str) -> Iterator[dict]:
    # ``stamp`` (size and modification time) is only there to key the cache entry
    yield from read_jsonl(path)


def dataset(path: str | os.PathLike, streaming: bool = False, cache_dir: str | os.PathLike | None = None):
    """A JSONL (or ``.jsonl.gz``) file as a `datasets` ``Dataset``, cached as Arrow (in
    ``cache_dir``, default the `datasets` cache), or with ``streaming`` an ``IterableDataset`` that
    reads the file as it is iterated. Values keep their JSON types (no date or number inference):
    rows are those of ``read_jsonl``."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")   # a local file; never a hub
    import datasets
    from datasets.utils import logging as ds_logging

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    st = path.stat()
    kwargs = {"path": str(path.resolve()), "stamp": f"{st.st_size}-{st.st_mtime_ns}"}  # strings: lists would shard
    if streaming:
        return datasets.IterableDataset.from_generator(_rows, gen_kwargs=kwargs)
    bars = ds_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        return datasets.Dataset.from_generator(_rows, gen_kwargs=kwargs,
                                               cache_dir=str(cache_dir) if cache_dir else None)
    finally:
        if bars:
            datasets.enable_progress_bars()


def polnear(split: str, root: str | os.PathLike | None = None, limit: int = 0) -> list[dict]:
    """PolNeAR articles of a split (``train``, ``dev``, ``agreement``), the first ``limit`` if given;
    ``FileNotFoundError`` saying where the data is looked for when the split is not there."""
    path = polnear_path(split, root)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; set --data or $CLAIMS_DATA to the shared data folder")
    articles = dataset(path).to_list()
    return articles[:limit] if limit else articles


def gold_claims(attributions: list[dict]) -> list[dict]:
    """PolNeAR attributions as claim dicts: ``source``/``cue``/``content`` lists of (start, end)."""
    return [{r: [tuple(s) for s in a.get(r) or []] for r in ("source", "cue", "content")}
            | {"id": a.get("id")} for a in attributions]


def stance_path(dataset: str, split: str, root: str | os.PathLike | None = None) -> Path:
    folder = data_dir(root) / "stance" / dataset
    for name in (f"{split}.jsonl", f"{split}.jsonl.gz"):
        if (folder / name).exists():
            return folder / name
    return folder / f"{split}.jsonl"


def stance(name: str, split: str, root: str | os.PathLike | None = None) -> list[dict]:
    """Stance pairs of one data set's split (``STANCE_DATASETS``)."""
    return dataset(stance_path(name, split, root)).to_list()


def disputes_path(split: str, root: str | os.PathLike | None = None) -> Path:
    return data_dir(root) / "disputes" / f"{split}.jsonl"


def disputes(split: str, root: str | os.PathLike | None = None) -> list[dict]:
    """Articles of the dispute-annotated split (attributions with speakers and stances)."""
    return dataset(disputes_path(split, root)).to_list()


def run_command(main, argv: list[str] | None = None) -> int:
    """Run a training or evaluation command's ``main``: a bad data line, a missing file or a model
    that cannot be loaded is one line on stderr and exit code 2, not a traceback."""
    import sys
    from claims.errors import EXIT_ERROR, ModelError

    try:
        return main(argv)
    except (JsonlError, FileNotFoundError, ModelError) as e:
        problem = e
    except Exception as e:  # noqa: BLE001 - `datasets` wraps what its reader raised
        problem = _data_cause(e)
        if problem is None:
            raise
    print(f"error: {problem}", file=sys.stderr)
    return EXIT_ERROR


def _data_cause(e: BaseException) -> JsonlError | None:
    """The bad data line behind an error raised while reading through `datasets`, if any."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, JsonlError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
