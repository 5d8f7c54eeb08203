import pytest

from claims.doc import Span
from claims.resolve import AliasTable, normalize, resolve_sources
from claims.segment import segment


def resolve(text: str, *sources: str) -> list:
    """Resolve the given source phrases (first occurrence after the previous one)."""
    seg = segment(text)
    spans, pos = [], 0
    for s in sources:
        i = text.index(s, pos)
        spans.append(Span.of(text, i, i + len(s)))
        pos = i + len(s)
    return resolve_sources(seg, spans)


@pytest.mark.parametrize("text,sources,expected", [
    # fullest name the article gives
    ("Secretary of State John Kerry arrived. Kerry said talks went well.", ["Kerry said"[:5]], ["John Kerry"]),
    # pronoun to the previous speaker, not to the last name mentioned
    ("Kerry said: “We met Lavrov.” He added that talks would go on.", ["Kerry", "He"], ["Kerry", "Kerry"]),
    # gender from first names
    ("Hillary Clinton met Donald Trump on stage. She said the debate went well.", ["She"], ["Hillary Clinton"]),
    # metonymy through the alias table
    ("Moscow denies the allegations.", ["Moscow"], ["Russia"]),
    ("The Kremlin said nothing.", ["The Kremlin"], ["Russia"]),
    ("Washington said the talks failed.", ["Washington"], ["United States"]),
    # "it" goes to a non-person
    ("Russia has been carrying out airstrikes it says target extremists.", ["it"], ["Russia"]),
    # relative pronoun to the noun phrase before it
    ("The meeting of opposition groups, who agreed to unite, ended.", ["who"], ["opposition groups"]),
    # appositive after a name
    ("Michael McFaul, a senior fellow at the Hoover Institution, said it was wrong.",
     ["Michael McFaul, a senior fellow at the Hoover Institution,"], ["Michael McFaul"]),
    # coordinated names
    ("China and Russia vetoed the resolution.", ["China and Russia"], ["China and Russia"]),
    # a description the article attached to a name
    ("Indiana Gov. Mike Pence spoke first. The Indiana governor said he was proud.",
     ["The Indiana governor"], ["Mike Pence"]),
    # a possessive description
    ("Donald Trump rallied. Trump's campaign said the polls were wrong.", ["Trump's campaign"],
     ["Donald Trump campaign"]),
    # an unresolvable description stays itself, without its determiner
    ("A campaign aide said the numbers were fine.", ["A campaign aide"], ["campaign aide"]),
])
def test_resolve_sources(text, sources, expected):
    got = resolve(text, *sources)
    assert [normalize(s.name) for s in got] == [normalize(e) for e in expected]


def test_resolve_mention_points_at_the_named_antecedent():
    text = "Kerry said talks went well. He added that more would follow."
    he = resolve(text, "Kerry", "He")[1]
    assert he.mention is not None and text[he.mention.start:he.mention.end] == "Kerry"


def test_resolve_types():
    text = "The Associated Press reported it. Russia said no. The poll found support."
    got = resolve(text, "The Associated Press", "Russia", "The poll")
    assert [s.type for s in got] == ["media", "government", "document"]


def test_resolve_no_source_gives_no_speaker():
    assert resolve_sources(segment("Nothing here."), [None]) == [None]


def test_alias_table_extra_file_overrides(tmp_path):
    extra = tmp_path / "aliases.toml"
    extra.write_text('[[entity]]\nname = "Acme Corporation"\ntype = "organization"\naliases = ["Acme"]\n')
    table = AliasTable.load(extra)
    assert table.get("the Acme") == ("Acme Corporation", "organization")
    assert table.get("Moscow") == ("Russia", "government")
