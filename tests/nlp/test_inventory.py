"""The entity inventory of an article (claims.nlp.inventory), on its own."""

import pytest

from claims.nlp.inventory import AliasTable, Inventory
from claims.nlp.segment import segment


def inventory(text: str, aliases: AliasTable | None = None) -> Inventory:
    return Inventory(segment(text), aliases)


def test_full_name_and_surname_are_one_entity():
    inv = inventory("Secretary of State John Kerry arrived in Geneva. Kerry met reporters.")
    ent = inv.entity("Kerry")
    assert ent is not None and ent.name == "John Kerry" and ent.type == "person"
    assert len(ent.mentions) == 2
    assert "secretary of state" in ent.descriptions


def test_honorific_gender_keeps_two_people_apart():
    inv = inventory("Mrs. Smith spoke first at the meeting. Then Mr. Smith answered her.")
    assert sorted(e.gender for e in inv.people("Smith")) == ["f", "m"]


def test_surname_first_name_shortened_to_its_first_word():
    inv = inventory("Finance Minister Lou Jiwei met reporters on Monday. On Tuesday, Mr. Lou left for Beijing.")
    assert inv.entity("Lou") is inv.entity("Lou Jiwei") is not None


def test_a_building_named_after_someone_is_no_person():
    inv = inventory("Donald Trump spoke to his supporters at Trump Tower on the evening of the vote.")
    assert inv.entity("Trump Tower").type == "other"
    assert inv.entity("Donald Trump").type == "person"


@pytest.mark.parametrize("text,name,typ", [
    ("The Justice Department declined to comment.", "Justice Department", "government"),
    ("Shares of Acme Corp. fell after the report.", "Acme Corp", "organization"),
])
def test_types_from_the_lexicon(text, name, typ):
    assert inventory(text).entity(name).type == typ


def test_aliases_and_acronyms_from_the_alias_table(tmp_path):
    f = tmp_path / "aliases.toml"
    f.write_text('[[entity]]\nname = "Acme News Service"\ntype = "media"\naliases = ["ANS"]\n')
    inv = inventory("ANS reported the vote on Monday.", AliasTable.load(f))
    ent = inv.entity("ANS")
    assert ent is not None and ent.name == "Acme News Service" and ent.type == "media"


def test_entity_at_gives_the_last_name_in_a_range():
    text = "Jane Roe of the Brookings Institution said it."
    seg = segment(text)
    inv = Inventory(seg)
    last = seg.word_range(0, text.index(" said"))[1]
    assert inv.entity_at(0, last).name == "Brookings Institution"
    assert inv.entity_at(0, 1).name == "Jane Roe"


def test_an_acronym_joins_the_name_it_abbreviates():
    inv = inventory("The Federal Election Commission met on Monday. A lawyer said the FEC would rule in May.")
    assert inv.entity("FEC") is inv.entity("Federal Election Commission") is not None
    inv = inventory("The Federal Election Commission met on Monday. A lawyer said the ABC would rule in May.")
    assert inv.entity("ABC") is not inv.entity("Federal Election Commission")
