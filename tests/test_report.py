"""Evaluation reports (eval.report): each section's figures on hand-made fixtures with injected
predictions, the comparison, the renderers, and the command end to end without a model."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from eval.report import collect, compare, gallery, svg
from eval.report.render_html import excerpt_html, render_html
from eval.report.render_md import md, render_md
from report_fixtures import (STANCE_DEV, TEXT_C, agreement, at, articles, predictions, results_jsonl, stance_dir,
                             stance_probs, write_jsonl)

N_BOOT = 200


def value(fig):
    return None if fig["value"] is None else round(fig["value"], 2)


@pytest.fixture(scope="module")
def attribution():
    return collect.attribution_section(articles(), predictions(), agreement=agreement(), n_boot=N_BOOT)


# -- attribution -------------------------------------------------------------------------------

def test_report_attribution_main_figures(attribution):
    m = attribution["systems"]["model"]
    # claims: 3 of 5 predictions right, 3 of 6 gold claims found
    assert (value(m["claim"]["p"]), value(m["claim"]["r"]), value(m["claim"]["f1"])) == (60.0, 50.0, 54.55)
    # sources: one shared source in a1; "Critics <b>&</b> others" missed, "Moscow" extra
    assert [value(m["exact"]["source"][k]) for k in ("p", "r", "f1")] == [80.0, 80.0, 80.0]
    assert [value(m["exact"]["cue"][k]) for k in ("p", "r", "f1")] == [80.0, 66.67, 72.73]
    # contents: b1's second fragment is a gold span of its own
    assert [value(m["exact"]["content"][k]) for k in ("p", "r", "f1")] == [80.0, 57.14, 66.67]
    for fig in (m["claim"]["f1"], m["exact"]["cue"]["r"]):
        assert fig["ci"][0] <= fig["value"] <= fig["ci"][1]
    assert attribution["n_gold_claims"] == 6
    assert attribution["gold_by_form"] == {"direct": 2, "indirect": 4, "mixed": 0}


def test_report_attribution_breakdowns(attribution):
    form = attribution["by_form"]["model"]
    assert [value(form["direct"][k]) for k in ("p", "r", "f1")] == [50.0, 50.0, 50.0]
    assert [value(form["indirect"][k]) for k in ("p", "r", "f1")] == [66.67, 50.0, 57.14]
    # no mixed claims on either side: undefined, not zero
    assert form["mixed"]["p"]["value"] is None and form["mixed"]["f1"]["value"] is None
    pub = attribution["by_publisher"]["model"]
    assert pub["alpha"]["n_articles"] == 1 and pub["beta"]["n_articles"] == 2
    assert (value(pub["alpha"]["claim"]["p"]), value(pub["alpha"]["claim"]["r"])) == (100.0, 50.0)
    assert value(pub["beta"]["claim"]["f1"]) == 50.0
    cue = attribution["by_cue"]["model"]
    assert list(cue) == ["said", "added", "(other)"]
    assert (value(cue["said"]["p"]), value(cue["said"]["r"])) == (75.0, 60.0)
    assert cue["added"]["p"]["value"] is None and value(cue["added"]["r"]) == 0.0
    assert value(cue["(other)"]["p"]) == 0.0 and cue["(other)"]["r"]["value"] is None


def test_report_threshold_curve(attribution):
    points = {p["threshold"]: p for p in attribution["threshold_curve"]["points"]}
    assert (points[0.0]["p"], points[0.0]["r"]) == (60.0, 50.0)
    # at 0.75: a1's claim, c1's right claim and its false positive are kept
    assert points[0.75]["n_pred"] == 3
    assert (round(points[0.75]["p"], 2), round(points[0.75]["r"], 2)) == (66.67, 33.33)


def test_report_baseline_and_human_rows(attribution):
    systems = attribution["systems"]
    assert systems["baseline"]["available"] and "claim" in systems["baseline"]
    human = systems["human"]
    # two annotators, one agreeing on one of two claims: both directions give 2 of 3
    assert (human["n_articles"], human["n_pairs"]) == (1, 2)
    assert [value(human["claim"][k]) for k in ("p", "r", "f1")] == [66.67, 66.67, 66.67]


def test_report_attribution_without_model_reports_no_model_figures():
    sec = collect.attribution_section(articles(), None, model_missing="no model here", n_boot=50)
    assert sec["systems"]["model"] == {"name": "claims (this model)", "available": False, "missing": "no model here"}
    assert "model" not in sec["by_form"] and sec["threshold_curve"]["available"] is False
    assert sec["systems"]["baseline"]["available"]


# -- speakers ----------------------------------------------------------------------------------

def test_report_speaker_accuracy_by_kind():
    rec = [{"article": "a", "kind": "name", "setting": "gold_sources", "ok": True},
           {"article": "a", "kind": "name", "setting": "gold_sources", "ok": True},
           {"article": "a", "kind": "pronoun", "setting": "gold_sources", "ok": False},
           {"article": "b", "kind": "description", "setting": "gold_sources", "ok": True},
           {"article": "b", "kind": "pronoun", "setting": "gold_sources", "ok": True}]
    sec = collect.speaker_section(rec, n_boot=N_BOOT, matched_missing="no model")
    g = sec["gold_sources"]
    assert value(g["accuracy"]) == 80.0 and g["n"] == 5
    assert value(g["by_kind"]["name"]) == 100.0 and value(g["by_kind"]["pronoun"]) == 50.0
    assert g["by_kind"]["metonymy"] == {"value": None, "ci": None, "n": 0}
    # resampling the two articles: a alone 2/3, b alone 2/2
    assert 66.6 <= g["accuracy"]["ci"][0] and g["accuracy"]["ci"][1] <= 100.0
    assert sec["matched"] == {"available": False, "missing": "no model"}


def test_report_speaker_outcomes_of_matched_claims():
    from eval.attribution import speaker_outcomes
    arts = articles()[:1]
    preds = predictions()[:1]
    preds[0][0]["speaker"] = "John Smith"
    spk = {("a1", "E1"): {"attribution": "E1", "accept": ["John Smith", "Smith"], "kind": "name"},
           ("a1", "E2"): {"attribution": "E2", "accept": ["Jane Doe"], "kind": "name"}}
    rec = speaker_outcomes(arts, preds, spk)
    matched = [r for r in rec if r["setting"] == "matched"]
    assert matched == [{"article": "a1", "attribution": "E1", "kind": "name", "setting": "matched", "ok": True}]
    assert len([r for r in rec if r["setting"] == "gold_sources"]) == 2
    preds[0][0]["speaker"] = "Smithers"
    assert [r["ok"] for r in speaker_outcomes(arts, preds, spk) if r["setting"] == "matched"] == [False]


def _set_records():
    r = lambda art, kind, setting, strict, lenient, name="disputes dev": {  # noqa: E731
        "set": name, "article": art, "kind": kind, "setting": setting, "strict": strict, "lenient": lenient}
    return [r("a", "name", "gold sources", True, True), r("a", "pronoun", "gold sources", False, True),
            r("b", "description", "gold sources", False, False), r("b", "empty source", "gold sources", True, True),
            r("a", "name", "end to end", False, True), r("a", "name", "gold sources", True, True, "hand-checked main")]


def test_report_speaker_sets_strict_and_lenient_by_kind():
    sec = collect.speaker_sets_section(_set_records(), missing={"hand-checked main/end_to_end": "no model"},
                                       n_boot=N_BOOT)
    g = sec["disputes dev"]["gold_sources"]
    # the empty source is its own kind, outside the overall figure
    assert g["n"] == 3 and value(g["strict"]) == pytest.approx(100 / 3, abs=0.01) \
        and value(g["lenient"]) == pytest.approx(200 / 3, abs=0.01)
    assert value(g["by_kind"]["pronoun"]["strict"]) == 0.0 and value(g["by_kind"]["pronoun"]["lenient"]) == 100.0
    assert value(g["by_kind"]["empty source"]["lenient"]) == 100.0 and "metonymy" not in g["by_kind"]
    e = sec["disputes dev"]["end_to_end"]
    assert e["n"] == 1 and value(e["strict"]) == 0.0 and value(e["lenient"]) == 100.0
    assert sec["hand-checked main"]["end_to_end"] == {"available": False, "missing": "no model"}
    report = {"meta": {"title": "t", "name": "n", "seed": 0, "bootstrap": N_BOOT},
              "speakers": dict(collect.speaker_section(
                  [{"article": "a", "kind": "name", "setting": "gold_sources", "ok": True}], n_boot=N_BOOT), sets=sec)}
    text, html = render_md(report), render_html(report)
    assert "### Speaker sets" in text and "| disputes dev, gold sources | 33.3 / 66.7" in text
    assert "hand-checked main, end to end (missing: no model)" in text
    assert "<h3>Speaker sets</h3>" in html and "disputes dev, end to end" in html


# -- stance ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stance():
    base = {"toy": ["favor", "favor", "favor", "unrelated", "favor", "against"]}
    return collect.stance_section(STANCE_DEV, stance_probs(), base, model_info={"version": "test"}, n_boot=N_BOOT)


def test_report_stance_dataset_figures(stance):
    m = stance["datasets"]["toy"]["model"]
    # favor F1 2/3, against 2/3, neutral 0; 4 of 6 right; FNC 3.75 of 5.25
    assert value(m["macro_f1"]) == 44.44 and value(m["accuracy"]) == 66.67
    assert value(m["fnc_score"]) == 71.43
    assert m["confusion"][2] == [1, 0, 0, 0]
    b = stance["datasets"]["toy"]["baseline"]
    assert value(b["accuracy"]) == 66.67   # t0, t3, t4, t5
    assert stance["datasets"]["toy"]["n_targets"] == 2


def test_report_stance_per_target_and_calibration(stance):
    targets = stance["datasets"]["toy"]["targets"]
    assert list(targets) == ["taxes should rise", "walls work"]
    assert value(targets["taxes should rise"]["model"]["accuracy"]) == 75.0
    assert value(targets["walls work"]["model"]["accuracy"]) == 50.0
    cal = stance["calibration"]
    # |1-.7| + 2 |1-.8| + |0-.5| + |1-.9| + |0-.6| over 6 pairs
    assert value(cal["ece"]) == 31.67 and cal["n"] == 6
    assert cal["ece"]["ci"][0] <= cal["ece"]["value"] <= cal["ece"]["ci"][1]


def test_report_stance_without_model_keeps_the_baseline():
    sec = collect.stance_section(STANCE_DEV, None, {"toy": ["favor"] * 6}, model_missing="none trained", n_boot=50)
    assert sec["model"] == {"available": False, "missing": "none trained"}
    assert "model" not in sec["datasets"]["toy"] and "baseline" in sec["datasets"]["toy"]
    assert sec["calibration"]["available"] is False


def test_report_disputes_accept_any_accepted_label():
    rec = [{"dispute": "d1", "accept": ["against"], "pred": "against"},
           {"dispute": "d1", "accept": ["unrelated", "neutral"], "pred": "neutral"},
           {"dispute": "d1", "accept": ["favor"], "pred": "against"},
           {"dispute": "d2", "accept": ["unrelated", "neutral"], "pred": "unrelated"}]
    sec = collect.dispute_section(rec, {"d1": "Dispute one"}, n_boot=N_BOOT)
    d1 = sec["disputes"]["d1"]
    assert value(d1["accuracy"]) == 66.67
    # gold: against, neutral, favor; predicted: against, neutral, against
    assert value(d1["macro_f1"]) == round((0 + 200 / 3 + 100) / 3, 2)
    assert d1["title"] == "Dispute one"
    assert value(sec["disputes"]["(all disputes)"]["accuracy"]) == 75.0
    assert collect.dispute_section(None, missing="no model")["available"] is False


# -- gallery -----------------------------------------------------------------------------------

def test_report_gallery_orders_errors_and_marks_spans():
    g = gallery.error_gallery(articles(), predictions(), n=10)
    fps = g["false_positives"]
    assert [(x["article"], x["confidence"]) for x in fps] == [("c1", 0.95), ("b1", 0.7)]
    assert fps[0]["predicted"]["cue"] == "denies"
    # misses: the untouched one first, then the longest content
    assert [(x["article"], x["touched"]) for x in g["misses"]] == [("c1", False), ("b1", True), ("a1", True)]
    for item, layer in [(x, "pred") for x in fps] + [(x, "gold") for x in g["misses"]]:
        ex = item["excerpt"]
        marked = {ex["text"][m["start"]:m["end"]] for m in ex["marks"] if m["layer"] == layer}
        wanted = {t for r, t in (item["predicted"] if layer == "pred" else item["gold"]).items() if t and "…" not in t}
        assert wanted <= marked
    assert len(gallery.error_gallery(articles(), predictions(), n=10, per_article=1)["false_positives"]) == 2
    assert gallery.error_gallery(articles(), None, missing="none")["available"] is False


def test_report_excerpt_html_escapes_and_never_nests():
    from html import escape, unescape
    src = at(TEXT_C, "Critics <b>&</b> others")
    inner = at(TEXT_C, "<b>&</b> oth")
    ex = gallery.excerpt(TEXT_C, {"source": [src], "cue": [], "content": []},
                         {"pred": [{"source": [src], "cue": [], "content": []}],
                          "gold": [{"source": [inner], "cue": [], "content": []}]})
    html = excerpt_html(ex)
    assert "<b>" not in html and "</b>" not in html
    # without the highlight tags, the excerpt is the escaped text
    assert unescape(re.sub(r"</?(div|span)[^>]*>", "", html)) == ex["text"]
    assert escape(ex["text"]) == re.sub(r"</?(div|span)[^>]*>", "", html)
    # overlapping predicted and gold spans become runs with both classes, never nested tags
    assert '<span class="g-source p-source">&lt;b&gt;&amp;&lt;/b&gt; oth</span>' in html
    assert "<span><span" not in html


# -- compare -----------------------------------------------------------------------------------

def test_report_compare_flags_changes_beyond_the_interval():
    new = {"meta": {}, "a": {"x": collect.figure(50, (45, 55)), "y": collect.figure(10, (9, 11))},
           "rt": collect.figure(5), "only_new": collect.figure(1, (0, 2))}
    old = {"meta": {}, "a": {"x": collect.figure(52, (47, 57)), "y": collect.figure(12, (11, 13))},
           "rt": collect.figure(4), "only_old": collect.figure(1, (0, 2))}
    c = compare.compare(new, old, "old.json")
    rows = {tuple(r["path"]): r for r in c["rows"]}
    assert rows[("a", "x")]["delta"] == -2 and rows[("a", "x")]["beyond"] is False
    assert rows[("a", "y")]["delta"] == -2 and rows[("a", "y")]["beyond"] is True
    assert rows[("rt",)]["delta"] == 1 and rows[("rt",)]["beyond"] is None
    assert c["n_beyond"] == 1 and c["new_only"] == [["only_new"]] and c["old_only"] == [["only_old"]]


# -- svg ---------------------------------------------------------------------------------------

def test_report_svg_charts_are_well_formed_and_escaped():
    charts = [
        svg.line_chart([{"name": "a<b", "color": "#000", "points": [(0, 1), (1, 2)], "band": [(0, 0, 2), (1, 1, 3)]}],
                       title="t & t", x_label="x", y_label="y"),
        svg.heatmap([[1, 2], [0, 0]], ["g<1", "g2"], ["p1", "p2"], title="h"),
        svg.reliability_diagram(collect.ece_figure(np.array([[0.9, 0.1, 0, 0]]), np.array([0]))["bins"], title="r"),
        svg.interval_plot([{"label": "x", "value": 5, "lo": 1, "hi": 9}, {"label": "m", "value": None}], title="i"),
    ]
    for c in charts:
        root = ET.fromstring(c)
        assert root.tag == "svg"
    assert "a&lt;b" in charts[0] and "t &amp; t" in charts[0] and "g&lt;1" in charts[1]


# -- the whole report --------------------------------------------------------------------------

SECTION_IDS = ["summary", "attribution", "speakers", "stance", "gallery", "runtime", "changes", "method"]
SUBSECTIONS = ["Published reference points", "Precision and recall against the confidence threshold", "By form",
               "By publisher", "By cue word", "Confusion matrices", "Calibration", "Per target",
               "Per dispute (seed gold)", "Most confident false positives", "Misses"]


@pytest.fixture(scope="module")
def full_report(attribution, stance):
    rec = [{"article": "a1", "kind": "name", "setting": s, "ok": True} for s in ("gold_sources", "matched")]
    report = {
        "meta": {"title": "claims evaluation report", "name": "fixture", "seed": 0, "bootstrap": N_BOOT},
        "attribution": attribution,
        "speakers": collect.speaker_section(rec, n_boot=N_BOOT),
        "gallery": gallery.error_gallery(articles(), predictions()),
        "stance": dict(stance, disputes=collect.dispute_section(
            [{"dispute": "d1", "accept": ["favor"], "pred": "favor"}], n_boot=N_BOOT)),
        "runtime": collect.runtime_section({"articles": 3, "tokens": 120, "seconds": 2.0, "peak_rss_mb": 300.0,
                                            "threads": 2, "load_average": [1.0, 1.0, 1.0]}),
    }
    old = json.loads(json.dumps(report))
    # an old claim F1 5 points below the new interval
    old["attribution"]["systems"]["model"]["claim"]["f1"]["value"] = attribution["systems"]["model"]["claim"]["f1"]["ci"][0] - 5
    report["compare"] = compare.compare(report, old, "reports/old/metrics.json")
    return report


def test_report_html_contains_every_section(full_report):
    html = render_html(full_report)
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in html
    for title in SUBSECTIONS:
        assert title in html, title
    assert html.count("<svg") >= 6   # interval plot, 2 threshold plots, 2 heatmaps, reliability
    assert "54.5" in html and "44.4" in html
    # the compared claim F1 moved beyond its interval, and only that figure
    f1 = full_report["attribution"]["systems"]["model"]["claim"]["f1"]
    delta = f"{f1['value'] - (f1['ci'][0] - 5):+.1f}"
    assert re.search(r'class="d better beyond"[^>]*>' + re.escape(delta) + "<", html)
    assert html.count("d better beyond") == html.count(" beyond\"") == 3    # summary, table, full table
    assert full_report["compare"]["n_beyond"] == 1


def test_report_html_is_self_contained_and_escaped(full_report):
    html = render_html(full_report)
    for ref in ("<script", "http:", "https:", "src=", "url(", "@import", "<link"):
        assert ref not in html
    assert "Critics <b>&</b> others" not in html
    assert "Critics &lt;b&gt;&amp;&lt;/b&gt; others" in html


def test_report_markdown_contains_every_section_and_escapes(full_report):
    text = render_md(full_report)
    for title in ["## Summary", "## Attribution", "## Speakers", "## Stance", "## Error gallery", "## Runtime",
                  "## Changes", "### By form", "### By publisher", "### By cue word", "### Per dispute (seed gold)",
                  "Precision and recall against the confidence threshold", "Confusion matrices", "Per target"]:
        assert title in text, title
    assert "<b>&</b>" not in text and r"\<b\>\&\</b\>" in text
    assert md("a | b\n\nc *d*") == r"a \| b ¶ c \*d\*"
    # every table row has as many cells as its header
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in block.strip().split("\n")}
        assert len(widths) == 1, block


def test_report_missing_sections_say_so():
    report = {"meta": {}, "attribution": collect.attribution_section(articles(), None, model_missing="no model at x",
                                                                     n_boot=50),
              "speakers": collect.speaker_section([]), "gallery": gallery.error_gallery(articles(), None, missing="no model at x"),
              "stance": {"available": False, "missing": "no stance dev data"},
              "runtime": collect.runtime_section(None, missing="no model at x")}
    html, text = render_html(report), render_md(report)
    for out in (html, text):
        assert out.count("no model at x") >= 3 and "no stance dev data" in out
    assert "Missing:" in html and "**Missing:**" in text


# -- the command -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return {"gold": write_jsonl(root / "gold.jsonl", articles()),
            "agreement": write_jsonl(root / "agreement.jsonl", agreement()),
            "stance": stance_dir(root), "results": results_jsonl(root / "results.jsonl"), "root": root}


def run_report(files, out, *extra):
    from eval.__main__ import main
    return main(["report", "--attribution", str(files["gold"]), "--agreement", str(files["agreement"]),
                 "--stance", str(files["stance"]), "--predictions", str(files["results"]),
                 "--stance-model", str(files["root"] / "no-stance-model"), "--seed-gold",
                 "--bootstrap", "100", "--quiet", "--out", str(out), *extra])


def test_report_command_end_to_end(fixture_files, tmp_path, capsys):
    assert run_report(fixture_files, tmp_path / "r1") == 0
    out = tmp_path / "r1"
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "metrics.json"}
    m = json.loads((out / "metrics.json").read_text())
    assert round(m["attribution"]["systems"]["model"]["claim"]["f1"]["value"], 2) == 54.55
    assert m["stance"]["model"]["available"] is False and "no stance model" in m["stance"]["model"]["missing"]
    assert m["stance"]["baseline"]["available"] and m["stance"]["baseline"]["n_train"] == 24
    assert m["stance"]["disputes"]["available"] is False
    assert m["runtime"]["available"] is False      # predictions were read, no model ran
    html = (out / "report.html").read_text()
    assert "no stance model" in html and 'id="gallery"' in html
    printed = capsys.readouterr().out
    assert "Attribution" in printed and "wrote" in printed


def test_report_command_is_deterministic_and_compares(fixture_files, tmp_path):
    assert run_report(fixture_files, tmp_path / "a") == 0
    assert run_report(fixture_files, tmp_path / "b", "--compare", str(tmp_path / "a" / "metrics.json")) == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    c = b.pop("compare")
    for r in (a, b):
        r.pop("meta"), r.pop("runtime")
    assert a == b
    assert c["rows"] and c["n_beyond"] == 0 and all(r["delta"] == 0 for r in c["rows"] if r["delta"] is not None)
    assert "Changes" in (tmp_path / "b" / "report.md").read_text()


def test_report_command_without_model(fixture_files, tmp_path):
    from eval.__main__ import main
    # --stance may also name the folder of one dataset
    assert main(["report", "--attribution", str(fixture_files["gold"]), "--agreement", "none", "--stance",
                 str(fixture_files["stance"] / "toy"), "--no-model", "--no-baseline", "--seed-gold", "--bootstrap", "50",
                 "--quiet", "--out", str(tmp_path / "r")]) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["attribution"]["systems"]["model"]["available"] is False
    assert "exact" not in m["attribution"]["systems"]["model"]
    assert m["attribution"]["systems"]["human"]["available"] is False
    assert m["stance"]["datasets"]["toy"].keys() >= {"n", "targets"} and "model" not in m["stance"]["datasets"]["toy"]


def test_report_command_bad_input(tmp_path, capsys):
    from eval.__main__ import main
    assert main(["report", "--attribution", str(tmp_path / "nope.jsonl"), "--no-model", "--quiet",
                 "--out", str(tmp_path / "r")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["report", "--compare", str(tmp_path / "old.json"), "--out", str(tmp_path / "r")]) == 2
    assert main(["unknown"]) == 2


def test_report_stance_sample_is_seeded_and_in_file_order(fixture_files):
    from eval.report.run import _sample
    from eval.stance import load_dir
    rows = load_dir(fixture_files["stance"], "dev")["toy"]
    a, b = _sample(rows, 3, seed=1), _sample(rows, 3, seed=1)
    assert a == b and len(a) == 3
    assert [rows.index(r) for r in a] == sorted(rows.index(r) for r in a)
    assert _sample(rows, 0, seed=1) == rows
    # train splits keep at most unrelated_cap unrelated pairs
    train = load_dir(fixture_files["stance"], "train", unrelated_cap=2)["toy"]
    assert sum(r["label"] == "unrelated" for r in train) == 2 and len(train) == 20


@pytest.mark.parametrize("command", ["attribution", "stance", "bench", "report"])
def test_report_eval_dispatches_every_command(command, capsys):
    from eval.__main__ import main
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and "usage" in capsys.readouterr().out


# -- on the shared data and the real model -----------------------------------------------------

@pytest.mark.data
def test_report_on_polnear_dev_without_model(tmp_path):
    from eval.__main__ import main
    assert main(["report", "--limit", "14", "--no-model", "--no-baseline", "--stance-limit", "30", "--seed-gold",
                 "--bootstrap", "100", "--quiet", "--out", str(tmp_path / "r")]) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    human = m["attribution"]["systems"]["human"]
    # the data README's rough agreement is 0.80 on attribution (cue match); ours matches claims
    assert 70 < human["claim"]["f1"]["value"] < 90 and human["n_articles"] == 22
    # the hand-checked speakers cover these articles; the resolver runs without a model
    assert m["speakers"]["gold_sources"]["n"] > 100
    # and the speaker sets: the disputes dev articles among the first 14, strict and lenient
    sets = m["speakers"]["sets"]
    assert set(sets) >= {"disputes dev", "hand-checked main"}
    for name, e in sets.items():
        if e["available"]:
            g = e["gold_sources"]
            assert g["n"] > 0 and g["strict"]["value"] <= g["lenient"]["value"]
            assert e["end_to_end"] == {"available": False, "missing": "not run (--no-model)"}
    assert set(m["stance"]["datasets"]) >= {"fnc1", "vast"}


@pytest.mark.slow
@pytest.mark.data
def test_report_with_the_attribution_model(tmp_path):
    from eval.__main__ import main
    assert main(["report", "--limit", "2", "--no-baseline", "--stance-limit", "20", "--bootstrap", "50",
                 "--quiet", "--out", str(tmp_path / "r")]) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    model = m["attribution"]["systems"]["model"]
    assert model["available"] and 0 < model["claim"]["f1"]["value"] <= 100
    assert m["runtime"]["articles"] == 2 and m["runtime"]["tokens_per_s"]["value"] > 0
    assert m["gallery"]["available"]


def test_report_command_rejects_malformed_files(fixture_files, tmp_path, capsys):
    from eval.__main__ import main
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a1", "text": "x", "attributions": []}\n{not json\n')
    assert main(["report", "--attribution", str(bad), "--no-model", "--quiet", "--out", str(tmp_path / "r")]) == 2
    assert f"error: {bad}:2: invalid JSON (" in capsys.readouterr().err
    partial = write_jsonl(tmp_path / "partial.jsonl", [json.loads(fixture_files["results"].read_text().splitlines()[0])])
    assert main(["report", "--attribution", str(fixture_files["gold"]), "--predictions", str(partial), "--quiet",
                 "--no-baseline", "--stance", str(fixture_files["stance"]), "--out", str(tmp_path / "r")]) == 2
    assert "no result for 2 of 3 articles" in capsys.readouterr().err


def test_report_markdown_excerpt_marks_one_layer():
    from eval.report.render_md import excerpt_md
    ex = {"text": "Moscow denies it, he said.", "cut_left": True, "cut_right": False, "marks": [
        {"start": 0, "end": 6, "role": "source", "layer": "pred"},
        {"start": 7, "end": 13, "role": "cue", "layer": "pred"},
        {"start": 7, "end": 16, "role": "content", "layer": "gold"},
        {"start": 14, "end": 16, "role": "content", "layer": "pred"}]}
    assert excerpt_md(ex, "pred") == (r"> … **\[Moscow\]**<sub>source</sub> **\[denies\]**<sub>cue</sub> "
                                      r"**\[it\]**<sub>content</sub>, he said.")
    assert excerpt_md(ex, "gold") == r"> … Moscow **\[denies it\]**<sub>content</sub>, he said."


def test_report_model_fingerprint_changes_with_the_weights(tmp_path):
    from eval.report.run import fingerprint
    (tmp_path / "config.json").write_text('{"version": "same"}')
    (tmp_path / "tagger.safetensors").write_bytes(b"weights one")
    first = fingerprint(tmp_path)
    assert first == fingerprint(tmp_path) and len(first) == 12
    (tmp_path / "tagger.safetensors").write_bytes(b"weights two")
    assert fingerprint(tmp_path) != first


def test_report_change_direction_knows_lower_is_better():
    from eval.report.fmt import Figures
    report = {"compare": {"rows": [
        {"path": ["a", "f1"], "delta": 2.0, "beyond": True},
        {"path": ["a", "ece"], "delta": 2.0, "beyond": False},
        {"path": ["runtime", "peak_rss_mb"], "delta": -50.0, "beyond": None},
        {"path": ["a", "p"], "delta": 0.01, "beyond": False}]}}
    F = Figures(report)
    assert F.change(("a", "f1")) == ("+2.0", True, "better")
    assert F.change(("a", "ece")) == ("+2.0", False, "worse")
    assert F.change(("runtime", "peak_rss_mb")) == ("-50.0", None, "better")
    assert F.change(("a", "p")) == ("+0.0", False, "")
    assert F.change(("a", "r")) is None


def test_disputes_set_section_renders_rows_and_says_why_when_missing():
    from eval.report import render_html, render_md
    from eval.report.run import disputes_set_rows
    e = {"sided": {"p": 36.3, "r": 25.3, "f1": 29.8, "f1_ci": (24.4, 34.6)}, "related": {"f1": 61.7}}
    d = {"available": True, "source": "dev.jsonl", "n_articles": 46, "spurious_sides_on_unmatched_claims": 51,
         "e2e": {"strict": {"custom": e, "catalog": e}}, "gold": {"strict": {"custom": e}, "ece": 3.2}}
    rows = disputes_set_rows(d)
    assert rows[0] == ["end to end", "custom", "36.3", "25.3", "29.8 [24.4, 34.6]", "61.7"]
    assert len(rows) == 3
    text = "\n".join(render_md._disputes_set({"disputes_set": d}))
    assert "29.8 [24.4, 34.6]" in text and "ECE on gold attributions 3.2%" in text
    assert "not found" in "\n".join(render_md._disputes_set({"disputes_set": {"available": False,
                                                                             "missing": "x: not found"}}))
    assert "29.8 [24.4, 34.6]" in render_html._disputes_set({"disputes_set": d})
