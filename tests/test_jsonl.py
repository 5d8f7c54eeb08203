"""claims.jsonl: the one JSON Lines reader (line numbers, blank lines, gzip, bad lines) under the
batch reader, claims stance, the console importer and corpora.read_jsonl."""

import gzip
import io

import pytest

from claims import jsonl
from claims.jsonl import JsonlError, json_lines, read_jsonl


def _lines(data: bytes, **kw):
    return list(json_lines(io.BytesIO(data), **kw))


def test_blank_lines_are_skipped_but_counted():
    got = _lines(b'{"a": 1}\n\n   \n\t\r\n{"a": 2}\n')
    assert [(l.number, l.value) for l in got] == [(1, {"a": 1}), (5, {"a": 2})]
    assert all(l.ok for l in got)


def test_end_is_the_byte_offset_after_each_line():
    data = b'{"a": 1}\n\n{"a": "\xc3\xa9"}'      # no newline at the end
    got = _lines(data)
    assert [l.end for l in got] == [9, len(data)]
    assert got[1].value == {"a": "\u00e9"}


def test_a_bad_line_is_reported_with_its_number_and_reading_goes_on():
    got = _lines(b'{"a": 1}\n{"a": \n\xff\xfe\n[1, 2]\n')
    assert [(l.number, l.kind) for l in got] == [(1, None), (2, "bad_json"), (3, "not_utf8"), (4, None)]
    assert got[1].message == "invalid JSON (Expecting value at column 7)" and got[1].value is None
    assert got[2].message == "not UTF-8"
    assert got[3].value == [1, 2]


def test_a_line_past_the_limit_is_skipped_unread_and_the_next_one_keeps_its_number():
    long = b'{"id": "x", "text": "' + b"w" * 500 + b'"}\n'
    got = _lines(b'{"id": 1}\n' + long + b'{"id": 3}\n', max_line_bytes=64)
    assert [(l.number, l.kind) for l in got] == [(1, None), (2, "too_long"), (3, None)]
    assert got[1].head == long[:64] and got[1].end == 10 + len(long)
    assert got[2].value == {"id": 3}


def test_loads_errors_keep_their_own_message():
    def strict(text):
        if "NaN" in text:
            raise ValueError("contains a non-finite number")
        return int(text)
    got = _lines(b"1\nNaN\n", loads=strict)
    assert [(l.value, l.message) for l in got] == [(1, None), (None, "contains a non-finite number")]


def test_read_jsonl_reads_plain_and_gzip_alike(tmp_path):
    data = b'{"id": "a"}\n\n{"id": "b"}\n'
    (tmp_path / "x.jsonl").write_bytes(data)
    with gzip.open(tmp_path / "x.jsonl.gz", "wb") as f:
        f.write(data)
    assert list(read_jsonl(tmp_path / "x.jsonl")) == list(read_jsonl(tmp_path / "x.jsonl.gz")) == [{"id": "a"}, {"id": "b"}]


@pytest.mark.parametrize("data, message", [
    (b'{"id": "a"}\n\n{"id": \n', ":3: invalid JSON (Expecting value at column 8)"),
    (b'{"id": "a"}\n"just a string"\n', ":2: expected a JSON object, got str"),
    (b'{"id": "caf\xe9"}\n', ":1: not UTF-8"),
])
def test_read_jsonl_stops_at_a_bad_line_naming_file_and_line(tmp_path, data, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    with pytest.raises(JsonlError) as e:
        list(read_jsonl(path))
    assert str(e.value) == f"{path}{message}"


def test_read_jsonl_gzip_line_numbers_and_a_corrupt_gzip(tmp_path):
    with gzip.open(tmp_path / "x.jsonl.gz", "wb") as f:
        f.write(b'{"id": "a"}\n{oops}\n')
    with pytest.raises(JsonlError, match=r"x\.jsonl\.gz:2: invalid JSON"):
        list(read_jsonl(tmp_path / "x.jsonl.gz"))
    (tmp_path / "y.jsonl.gz").write_bytes(b'{"id": "a"}\n')      # named .gz, not gzip
    with pytest.raises(JsonlError, match=r"y\.jsonl\.gz: not a readable gzip file"):
        list(read_jsonl(tmp_path / "y.jsonl.gz"))


def test_corpora_reads_through_the_same_reader(tmp_path):
    import corpora
    assert corpora.read_jsonl is jsonl.read_jsonl
    (tmp_path / "c.jsonl").write_bytes(b'{"id": 1}\nnope\n')
    with pytest.raises(corpora.JsonlError, match=r"c\.jsonl:2: "):
        list(corpora.read_jsonl(tmp_path / "c.jsonl"))
