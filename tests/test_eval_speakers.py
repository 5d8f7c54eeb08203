import pytest

from eval.speakers import lenient_match, mention_kind, strict_match


@pytest.mark.parametrize("pred,accept,strict,lenient", [
    ("Jane Smith", ["Jane Smith"], True, True),
    ("the acme times", ["The Acme Times"], True, True),
    ("Smith", ["Jane Smith"], False, True),                  # surname alone
    ("Jane Q. Smith", ["Jane Smith"], False, True),          # middle initial
    ("Sen. Jane Smith", ["Jane Smith"], False, True),        # title
    ("Moscow", ["Russia"], False, True),                     # alias table
    ("Jane Smith spokesman", ["Smith's spokesman"], False, True),  # possessive, surname
    ("Jane Smith", ["Jane Smith Jr."], False, True),
    ("John Smith", ["Jane Smith"], False, False),            # another person of the same surname
    ("Smith Tower", ["Jane Smith"], False, False),
    ("Jane", ["Jane Smith"], False, False),
    (None, ["Jane Smith"], False, False),
    ("22 percent of voters", ["22% of voters"], False, True),          # "%" for "percent"
    ("Tom Vik and Ana Ruiz", ["Ana Ruiz and Tom Vik"], False, True),   # members in any order
    ("Vik, Ruiz and Lee", ["Ana Ruiz, Tom Vik and Jo Lee"], False, True),
    ("Tom Vik and Ana Ruiz", ["Ana Ruiz, Tom Vik and Jo Lee"], False, False),  # one member missing
    ("Tom Vik and Jo Lee", ["Ana Ruiz and Tom Vik"], False, False),
    ("United States government", ["United States"], False, True),     # a country for its government
    ("Acme government", ["Acme"], False, False),                       # only for countries
    ("Jane Smith campaign", ["Jane Smith"], False, False),             # a person's campaign is not the person
])
def test_speaker_match(pred, accept, strict, lenient):
    assert strict_match(pred, accept) == strict
    assert lenient_match(pred, accept) == lenient


@pytest.mark.parametrize("source,typ,kind", [
    ("", None, "empty source"),
    ("she", "person", "pronoun"),
    ("who", "person", "relative pronoun"),
    ("Jane Smith, a lawyer,", "person", "name"),
    ("the spokesman", "person", "description"),
    ("One of the two candidates", "person", "description"),
    ("The report", "document", "document"),
    ("the Kremlin", "government", "metonymy"),
])
def test_mention_kind(source, typ, kind):
    assert mention_kind(source, typ) == kind
