"""Readers for the annotated corpora in ``$CLAIMS_DATA`` (default ``../shared/data``).

The formats are those of the shared data folder (its READMEs): PolNeAR articles as JSONL with
character-offset attributions, and stance pairs as ``{"id", "target", "text", "label"}`` JSONL.
The review console exports corrections in the same formats, so training reads both alike.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def polnear(split: str, root: str | os.PathLike | None = None) -> list[dict]:
    """PolNeAR articles of a split (``train``, ``dev``, ``agreement``)."""
    return list(read_jsonl(polnear_path(split, root)))


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


def stance(dataset: str, split: str, root: str | os.PathLike | None = None) -> list[dict]:
    return list(read_jsonl(stance_path(dataset, split, root)))
