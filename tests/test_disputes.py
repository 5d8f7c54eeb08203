import pytest

from claims import disputes
from claims.disputes import DisputeError

from conftest import ROOT

GOOD = '''
[[dispute]]
id = "a-1"
title = "A"
proposition = "The sky is green."

[[dispute]]
id = "b"
proposition = "Water is dry."
aliases = ["dry water"]
'''


def test_disputes_parse_good_file():
    ds = disputes.parse(GOOD)
    assert [d.id for d in ds] == ["a-1", "b"]
    assert ds[1].title == "b" and ds[1].aliases == ["dry water"]


@pytest.mark.parametrize("text,message", [
    ('[[dispute]]\nid = "x"\nproposition = "p"\n[[dispute]]\nid = "x"\nproposition = "q"\n', "duplicate id 'x'"),
    ('[[dispute]]\nid = "Bad Id"\nproposition = "p"\n', "must match [a-z0-9-]+"),
    ('[[dispute]]\nid = "x"\nproposition = "  "\n', "empty proposition"),
    ('[[dispute]]\nid = "x"\nproposition = "p"\ncolour = "red"\n', "unknown key(s) ['colour']"),
    ('[[dispute]]\nid = "x"\nproposition = "p\n', "invalid TOML"),
    ('[[dispute]]\nid = "x"\n', "missing 'proposition'"),
    ('title = "no tables"\n', "unknown top-level key"),
    ('', "no [[dispute]] entries"),
])
def test_disputes_errors_say_what_is_wrong(text, message):
    with pytest.raises(DisputeError) as e:
        disputes.parse(text, "f.toml")
    assert message in str(e.value)
    assert str(e.value).startswith("f.toml")


def test_disputes_invalid_toml_names_the_line():
    with pytest.raises(DisputeError) as e:
        disputes.parse('[[dispute]]\nid = "x"\nproposition = "p\n', "f.toml")
    assert "line 3" in str(e.value)


def test_disputes_missing_file(tmp_path):
    with pytest.raises(DisputeError, match="not found"):
        disputes.load(tmp_path / "nope.toml")


def test_disputes_round_trip_through_dumps():
    ds = disputes.parse(GOOD)
    assert disputes.parse(disputes.dumps(ds)) == ds


def test_seed_disputes_file_is_the_packaged_default():
    assert disputes.load(ROOT / "seeds" / "disputes.toml") == disputes.default()
    assert {d.id for d in disputes.default()} == {"syria-transition", "airstrike-targets", "ukraine-ceasefire"}
