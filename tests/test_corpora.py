"""Corpora read through `datasets`: rows exactly as the file holds them (no type inference), a
cache that notices an edited file, streaming, and a plain error for a missing file."""

import gzip
import json
import time

import pytest

import corpora

ROWS = [{"id": "a1", "date": "2016-03-11", "text": "One.", "attributions": [{"id": "E1", "cue": [[0, 3]]}]},
        {"id": "a2", "date": "2016-03-12", "text": "Two.", "attributions": []}]


def _write(path, rows):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return path


@pytest.mark.parametrize("name", ["train.jsonl", "train.jsonl.gz"])
def test_corpora_dataset_rows_are_the_files(tmp_path, name):
    import datasets
    path = _write(tmp_path / name, ROWS)
    ds = corpora.dataset(path, cache_dir=tmp_path / "cache")
    assert isinstance(ds, datasets.Dataset)
    assert ds.to_list() == list(corpora.read_jsonl(path)) == ROWS      # dates stay strings
    assert list(corpora.dataset(path, streaming=True)) == ROWS
    assert any((tmp_path / "cache").rglob("*.arrow"))
    # an edited file is read again, not served from the cache
    time.sleep(0.01)
    _write(path, ROWS[:1])
    assert corpora.dataset(path, cache_dir=tmp_path / "cache").to_list() == ROWS[:1]


def test_corpora_dataset_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        corpora.dataset(tmp_path / "nope.jsonl")
