"""One table of stance labels (claims/labels.py): the schema, the result types, the terminal
colours and the review console all agree with it."""

import json
import re

from conftest import ROOT

from claims.doc import STANCE_LABELS
from claims.labels import STANCE, STANCE_STYLE, schema_stance


def test_schema_stance_is_the_table():
    schema = json.loads((ROOT / "claims" / "schema" / "result.schema.json").read_text())
    stance = schema["$defs"]["claim"]["properties"]["stance"]["additionalProperties"]
    assert stance == schema_stance()
    assert stance["properties"]["label"]["enum"] == list(STANCE_LABELS)


def test_result_types_and_colours_follow_the_table():
    assert STANCE_LABELS == tuple(label.name for label in STANCE) == ("favor", "against", "neutral", "unrelated")
    assert set(STANCE_STYLE) == set(STANCE_LABELS)


def test_console_reads_the_labels_from_the_page():
    js = (ROOT / "claims" / "console" / "static" / "console.js").read_text()
    assert not [name for name in STANCE_LABELS if re.search(rf"[\"']{name}[\"']", js)], "labels spelled out in console.js"
    assert 'meta[name="stance-labels"]' in js
    for page in ("base.html", "disputes.html"):
        html = (ROOT / "claims" / "console" / "templates" / page).read_text()
        assert "favor, against" not in html and "<b>favor</b>" not in html


def test_console_pages_carry_the_table():
    from claims.console.app import _templates
    env = _templates()
    base = env.get_template("base.html").render(user=None)
    assert f'<meta name="stance-labels" content="{" ".join(STANCE_LABELS)}">' in base
    class Reader:    # a signed-in reviewer, as far as the page asks
        name, role, is_admin, csrf_token = "ann", "reviewer", False, "token"
    disputes = env.get_template("disputes.html").render(user=Reader(), path="/disputes", data={"disputes": [], "rescoring": None,
                                                                             "stance_available": True})
    for label in STANCE:
        assert f"<b>{label.name}</b>: {label.meaning}" in disputes
