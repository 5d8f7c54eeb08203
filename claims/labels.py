"""The stance labels, in one table. Everything else that lists them is made from it: the result
types and output (``claims.doc.STANCE_LABELS``), the terminal colours, the review console's keys
1-4 and its explanations (templates and ``console.js`` read them from the page), and the result
JSON Schema's stance enum, which ``tests/test_labels.py`` checks against ``schema_stance()``.
Model files store their label order and are checked against it when loaded."""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    name: str
    meaning: str       # what a reviewer reads on the disputes page
    style: str         # the terminal colour of ``claims analyze``


STANCE = (
    Label("favor", "the speaker supports it", "green"),
    Label("against", "rejects it or asserts its opposite", "red"),
    Label("neutral", "about it without taking a side", "yellow"),
    Label("unrelated", "not about it", "dim"),
)
STANCE_LABELS = tuple(label.name for label in STANCE)
STANCE_STYLE = {label.name: label.style for label in STANCE}


def schema_stance() -> dict:
    """The JSON Schema of one claim's stance toward one dispute (the values of ``stance``)."""
    return {
        "type": "object",
        "required": ["label", "scores"],
        "additionalProperties": False,
        "properties": {
            "label": {"enum": list(STANCE_LABELS)},
            "scores": {
                "type": "object",
                "required": list(STANCE_LABELS),
                "additionalProperties": False,
                "properties": {name: {"type": "number", "minimum": 0, "maximum": 1} for name in STANCE_LABELS},
            },
        },
    }
