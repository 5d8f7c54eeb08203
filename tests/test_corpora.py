"""Corpora read through `datasets`: rows exactly as the file holds them (no type inference), a
cache that notices an edited file, streaming, and a plain error for a missing file."""

import gzip
import json
import time
from pathlib import Path

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


def test_a_command_reading_bad_data_says_so_in_one_line(capsys):
    from claims.errors import ModelError
    from claims.jsonl import JsonlError

    def bad_line(argv):
        raise JsonlError("data/train.jsonl:2: invalid JSON (Expecting value at column 1)")

    def wrapped(argv):     # as `datasets` raises it: the reader's error as the cause
        try:
            bad_line(argv)
        except JsonlError as e:
            raise RuntimeError("An error occurred while generating the dataset") from e

    for main in (bad_line, wrapped):
        assert corpora.run_command(main) == 2
        assert capsys.readouterr().err == "error: data/train.jsonl:2: invalid JSON (Expecting value at column 1)\n"

    def no_model(argv):
        raise ModelError("no polarity model at x")

    assert corpora.run_command(no_model) == 2 and "no polarity model" in capsys.readouterr().err
    assert corpora.run_command(lambda argv: 0) == 0

    def bug(argv):
        raise KeyError("a bug is not a data problem")

    with pytest.raises(KeyError):
        corpora.run_command(bug)


@pytest.mark.slow
def test_training_on_a_bad_data_file_exits_with_one_line(tmp_path):
    import subprocess
    import sys

    (tmp_path / "disputes").mkdir()
    (tmp_path / "disputes" / "train.jsonl").write_text('{"id": "a", "text": "x", "attributions": [], "disputes": []}\n'
                                                        "{not json\n")
    r = subprocess.run([sys.executable, "-m", "training.polarity", "--data", str(tmp_path), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                       timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "train.jsonl:2:" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_missing_split_says_where_the_data_is_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"polnear/dev\.jsonl not found; set --data or \$CLAIMS_DATA"):
        corpora.polnear("dev", tmp_path)
