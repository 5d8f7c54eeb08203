"""``report.html``: one self-contained page (inline CSS and SVG, no script, no external
reference) rendered from the metrics.json dictionary. All text from data is escaped."""

from __future__ import annotations

from html import escape

from claims.doc import FORMS, STANCE_LABELS

from . import svg
from .collect import SET_KINDS, SET_SETTINGS, SPEAKER_KINDS
from .fmt import MISSING, Figures, ci, num

ROLE_NAMES = ("source", "cue", "content")
SECTIONS = [("summary", "Summary"), ("attribution", "Attribution"), ("speakers", "Speakers"),
            ("stance", "Stance"), ("gallery", "Error gallery"), ("runtime", "Runtime"),
            ("changes", "Changes"), ("method", "How to read this")]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#222;max-width:1180px;margin:0 auto;padding:0 20px 60px}
h1{margin:24px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}h3{margin-top:26px}
nav a{margin-right:14px}.meta{color:#555;font-size:13px}.meta code{font-size:12px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f5f5f5}td.l,th.l{text-align:left}tr.sys-model td{background:#f2f8fc}
.ci{color:#777;font-size:11px;white-space:nowrap}.d{font-size:11px;margin-left:3px;white-space:nowrap}
.d.better{color:#1a7f37}.d.worse{color:#b42318}.d.beyond{font-weight:700;border:1px solid currentColor;border-radius:3px;padding:0 2px}
.missing{background:#fff6e5;border-left:4px solid #E69F00;padding:8px 12px;margin:10px 0}
.note{color:#555;font-size:13px}.grid{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:10px 0}
.big{font-size:22px;font-weight:600}.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.kpi .lab{color:#555;font-size:12px}
.ex{font-family:Georgia,serif;font-size:14px;line-height:1.7;white-space:pre-wrap;background:#fafafa;padding:8px 10px;border-radius:4px}
.p-source{background:#cfe5f6}.p-cue{background:#ffdf9e}.p-content{background:#d5efd9}
.g-source{text-decoration:underline 3px #0072B2}.g-cue{text-decoration:underline 3px #E69F00}.g-content{text-decoration:underline 3px #009E73}
.legend span{padding:1px 5px;margin-right:6px}
details summary{cursor:pointer;color:#0072B2;margin:6px 0}
"""


def _fig_html(F: Figures, path: tuple, show_ci: bool = True, digits: int = 1) -> str:
    f = F.get(path)
    if f is None or f.get("value") is None:
        return MISSING
    out = escape(num(f["value"], digits))
    if show_ci and f.get("ci"):
        out += f' <span class="ci">{escape(ci(f))}</span>'
    ch = F.change(path)
    if ch:
        text, beyond, cls = ch
        title = "old value outside the new 95% interval" if beyond else "within the interval"
        out += f' <span class="d {cls}{" beyond" if beyond else ""}" title="{title}">{escape(text)}</span>'
    return out


def _missing(msg: str) -> str:
    return f'<div class="missing"><b>Missing:</b> {escape(msg)}</div>'


def _warning(msg: str) -> str:
    return f'<div class="missing"><b>Note:</b> {escape(msg)}</div>'


def _table(head: list[str], rows: list[list[str]], left: int = 1, row_classes: list[str] | None = None) -> str:
    """Cells are HTML already (escape before); the first ``left`` columns align left."""
    h = "".join(f'<th class="l">{c}</th>' if i < left else f"<th>{c}</th>" for i, c in enumerate(head))
    body = []
    for k, r in enumerate(rows):
        cls = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        body.append(f"<tr{cls}>" + "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>"
                                           for i, c in enumerate(r)) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# -- sections ----------------------------------------------------------------------------------

def _header(r: dict) -> str:
    m = r.get("meta", {})
    models = m.get("models", {})
    lines = []
    for k in ("attribution", "stance"):
        info = models.get(k) or {}
        desc = f"{info.get('path') or 'none'}" + (f" (version {info['version']})" if info.get("version") else "") \
            + (f", weights {info['sha256']}" if info.get("sha256") else "")
        lines.append(f"<b>{k} model</b>: <code>{escape(desc)}</code>")
    lines.append(f"<b>attribution gold</b>: <code>{escape(str(m.get('attribution_data')))}</code>"
                 + (f" (first {m['limit']} articles)" if m.get("limit") else ""))
    lines.append(f"<b>stance gold</b>: <code>{escape(str(m.get('stance_data')))}</code>"
                 + (f" (first {m['stance_limit']} pairs per dataset)" if m.get("stance_limit") else ""))
    lines.append(f"<b>seed</b> {escape(str(m.get('seed')))}, <b>bootstrap</b> {escape(str(m.get('bootstrap')))} "
                 f"resamples; <b>generated</b> {escape(str(m.get('generated')))}"
                 + (f" in {m['elapsed_s']:.0f} s" if m.get("elapsed_s") is not None else "")
                 + (f"; <b>code</b> <code>{escape(str(m['git']))}</code>" if m.get("git") else ""))
    if m.get("command"):
        lines.append(f"<b>command</b>: <code>{escape(m['command'])}</code>")
    nav = "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS)
    return (f"<h1>{escape(m.get('title', 'Evaluation report'))}: {escape(str(m.get('name', '')))}</h1>"
            f'<div class="meta">{"<br>".join(lines)}</div><nav>{nav}</nav>')


def _kpi(label: str, value: str, sub: str = "") -> str:
    return f'<div class="kpi"><div class="lab">{escape(label)}</div><div class="big">{value}</div>' \
           f'<div class="note">{sub}</div></div>'


def _summary(r: dict, F: Figures) -> str:
    out = ['<h2 id="summary">Summary</h2><div class="kpis">']
    a = r.get("attribution") or {}
    sysm = (a.get("systems") or {}).get("model") or {}
    if sysm.get("available"):
        out.append(_kpi("claim F1 (model)", _fig_html(F, ("attribution", "systems", "model", "claim", "f1")),
                        _vs(F, ("attribution", "systems", "{}", "claim", "f1"))))
        for role in ROLE_NAMES:
            out.append(_kpi(f"exact {role} F1", _fig_html(F, ("attribution", "systems", "model", "exact", role, "f1")),
                            _vs(F, ("attribution", "systems", "{}", "exact", role, "f1"))))
    else:
        out.append(_kpi("attribution model", "missing", escape(sysm.get("missing", ""))))
    sp = (r.get("speakers") or {}).get("matched") or {}
    if sp.get("available"):
        out.append(_kpi("speaker accuracy (matched claims)", _fig_html(F, ("speakers", "matched", "accuracy"))))
    sg = (r.get("speakers") or {}).get("gold_sources") or {}
    if sg.get("available"):
        out.append(_kpi("speaker accuracy (gold sources)", _fig_html(F, ("speakers", "gold_sources", "accuracy"))))
    st = r.get("stance") or {}
    if (st.get("model") or {}).get("available"):
        for name, d in (st.get("datasets") or {}).items():
            if "model" in d:
                out.append(_kpi(f"stance macro-F1, {name}", _fig_html(F, ("stance", "datasets", name, "model", "macro_f1"), False),
                                f"baseline {num((d.get('baseline') or {}).get('macro_f1', {}).get('value'))}"))
        out.append(_kpi("stance ECE (all dev pairs)", _fig_html(F, ("stance", "calibration", "ece"))))
    else:
        out.append(_kpi("stance model", "missing", escape((st.get("model") or {}).get("missing", ""))))
    rt = r.get("runtime") or {}
    if rt.get("available") and "articles_per_s" in rt:
        out.append(_kpi("articles / s", _fig_html(F, ("runtime", "articles_per_s"), digits=2),
                        f"{num(rt['tokens_per_s']['value'], 0)} tokens/s, peak RSS {num(rt['peak_rss_mb']['value'], 0)} MB"))
    c = r.get("compare")
    if c:
        out.append(_kpi("changes beyond interval", str(c["n_beyond"]), f"of {len(c['rows'])} figures compared"))
    out.append("</div>")
    return "".join(out)


def _vs(F: Figures, pattern: tuple) -> str:
    parts = []
    for sysname, lab in (("baseline", "baseline"), ("human", "human")):
        f = F.get(tuple(x.format(sysname) if x == "{}" else x for x in pattern))
        if f and f.get("value") is not None:
            parts.append(f"{lab} {num(f['value'])}")
    return escape(", ".join(parts))


def _attribution(r: dict, F: Figures) -> str:
    a = r.get("attribution")
    out = ['<h2 id="attribution">Attribution</h2>']
    if not a or not a.get("available", True):
        return out[0] + _missing((a or {}).get("missing", "no attribution gold data"))
    out.append(f'<p class="note">{a["n_articles"]} articles, {a["n_gold_claims"]} gold attributions '
               f'({", ".join(f"{v} {k}" for k, v in a["gold_by_form"].items())}). '
               "Exact: predicted span boundaries equal a gold span's, in words. Overlap: at least half of the "
               "characters shared. Claim: content overlaps half of the gold content and the cues overlap. "
               "Intervals: 95% bootstrap over articles.</p>")
    systems = a["systems"]
    out.append(_main_table(systems, F))
    notes = [f"<b>{escape(s['name'])}</b>: " + escape(s.get("note") or f"missing: {s.get('missing', '')}")
             for s in systems.values() if s.get("note") or not s.get("available")]
    if notes:
        out.append('<p class="note">' + "<br>".join(notes) + "</p>")
    out.append("<details><summary>Precision and recall of every system</summary>" + _full_table(systems, F)
               + "</details>")
    plot_rows = []
    for name in ("model", "baseline", "human"):
        s = systems.get(name) or {}
        for metric, path in [(f"exact {x}", ("exact", x, "f1")) for x in ROLE_NAMES] + [("claim", ("claim", "f1"))]:
            f = F.get(("attribution", "systems", name) + path) if s.get("available") else None
            plot_rows.append({"label": f"{metric} · {name}", "value": f["value"] if f else None,
                              "lo": f["ci"][0] if f and f.get("ci") else None,
                              "hi": f["ci"][1] if f and f.get("ci") else None, "color": svg.COLORS[name]})
    order = [f"exact {x}" for x in ROLE_NAMES] + ["claim"]
    plot_rows.sort(key=lambda x: order.index(x["label"].split(" · ")[0]))
    out.append(svg.interval_plot(plot_rows, title="F1 with 95% intervals (model, baseline, human)"))
    out.append("<h3>Published reference points</h3><p class=\"note\">Exact-match F1 on the PolNeAR <i>test</i> "
               "compartment (docs/DESIGN.md section 5); our figures above are on the dev articles, so these place them "
               "rather than measure the same thing.</p>")
    out.append(_table(["system", "source", "cue", "content"],
                      [[escape(p["system"])] + [num(p[x]) for x in ROLE_NAMES] for p in a["published"]]))
    out.append(_threshold(a, F))
    out.append(_by_form(a, F))
    out.append(_by_publisher(a, F))
    out.append(_by_cue(a, F))
    return "".join(out)


METRIC_ROWS = [(f"exact {x}", ("exact", x)) for x in ROLE_NAMES] + \
    [(f"overlap {x}", ("overlap", x)) for x in ROLE_NAMES] + [("claim", ("claim",))]


def _main_table(systems: dict, F: Figures) -> str:
    """Rows = metrics; the model's P/R/F1, then the F1 of the baseline and of the human ceiling."""
    others = [n for n in ("baseline", "human") if n in systems]
    head = ["metric", "model P", "model R", "model F1"] + [f"{n} F1" for n in others]
    rows = []
    for label, path in METRIC_ROWS:
        cells = [escape(label)]
        for m in ("p", "r", "f1"):
            cells.append(_fig_html(F, ("attribution", "systems", "model") + path + (m,)))
        cells += [_fig_html(F, ("attribution", "systems", n) + path + ("f1",)) for n in others]
        rows.append(cells)
    return _table(head, rows)


def _full_table(systems: dict, F: Figures) -> str:
    head = ["metric"] + [f"{escape(n)} {m}" for n in systems for m in ("P", "R", "F1")]
    rows = [[escape(label)] + [_fig_html(F, ("attribution", "systems", n) + path + (m,))
                               for n in systems for m in ("p", "r", "f1")] for label, path in METRIC_ROWS]
    return _table(head, rows)


def _threshold(a: dict, F: Figures) -> str:
    tc = a.get("threshold_curve") or {}
    out = ["<h3>Precision and recall against the confidence threshold</h3>"]
    if not tc.get("available"):
        return out[0] + _missing(tc.get("missing", "no model"))
    pts = tc["points"]

    def ok(p, k):
        return p[k] is not None and None not in p[f"{k}_ci"]
    series = [{"name": n, "color": svg.COLORS[k], "points": [(p["threshold"], p[k]) for p in pts if ok(p, k)],
               "band": [(p["threshold"], *p[f"{k}_ci"]) for p in pts if ok(p, k)]}
              for k, n in (("p", "precision"), ("r", "recall"), ("f1", "F1"))]
    out.append(f'<p class="note">Claim level, keeping claims with confidence ≥ threshold (matching redone at each). '
               f'Best F1 {_fig_html(F, ("attribution", "threshold_curve", "best_f1"))} at threshold '
               f'{tc["best_threshold"]:.2f}. Shaded: 95% intervals.</p>')
    out.append('<div class="grid">')
    out.append(svg.line_chart(series, title="Claim P / R / F1 by confidence threshold", x_label="threshold",
                              y_label="%", x_domain=(0.0, 1.0), fmt_x=lambda v: f"{v:.1f}"))
    # in threshold order: raising the threshold walks the curve from high recall to high precision
    pr = [(p["r"], p["p"]) for p in pts if p["r"] is not None and p["p"] is not None]
    out.append(svg.line_chart([{"name": "model", "color": svg.COLORS["model"], "points": pr}],
                              title="Precision–recall (claim level)", x_label="recall %", y_label="precision %",
                              x_domain=(0.0, 100.0), fmt_x=lambda v: f"{v:.0f}", width=440))
    out.append("</div>")
    rows = [[f"{p['threshold']:.2f}", str(p["n_pred"]), num(p["p"]), num(p["r"]), num(p["f1"])]
            for p in pts if round(p["threshold"] * 100) % 10 == 0]
    out.append(_table(["threshold", "claims kept", "P", "R", "F1"], rows, left=0))
    return "".join(out)


def _slice_table(a: dict, F: Figures, key: str, order: list[str], what: str) -> str:
    data = a.get(key) or {}
    systems = [s for s in ("model", "baseline") if s in data]
    head = [what, "gold"] + [f"{s} {m}" for s in systems for m in ("P", "R", "F1")]
    rows = []
    for k in order:
        n_gold = next((data[s][k]["n_gold"] for s in systems if k in data[s]), 0)
        cells = [escape(k), str(n_gold)]
        for s in systems:
            cells += [_fig_html(F, ("attribution", key, s, k, m)) for m in ("p", "r", "f1")]
        rows.append(cells)
    return _table(head, rows)


def _by_form(a: dict, F: Figures) -> str:
    return ("<h3>By form</h3><p class=\"note\">Gold form from quotation marks in the content (the rule of "
            "<code>claims/nlp/form.py</code>): all words quoted = direct, some = mixed, none = indirect. Claims are "
            "matched over the whole article; precision counts predictions of that form, recall gold claims of "
            "that form.</p>" + _slice_table(a, F, "by_form", list(FORMS), "form"))


def _by_cue(a: dict, F: Figures) -> str:
    data = a.get("by_cue") or {}
    any_sys = next(iter(data.values()), {})
    order = list(any_sys)
    return ("<h3>By cue word</h3><p class=\"note\">The most frequent gold cues (lowercased); every other cue is "
            "(other), for predictions and gold alike.</p>" + _slice_table(a, F, "by_cue", order, "cue"))


def _by_publisher(a: dict, F: Figures) -> str:
    data = a.get("by_publisher") or {}
    systems = [s for s in ("model", "baseline") if s in data]
    head = ["publisher", "articles"] + [f"{s} {m}" for s in systems
                                        for m in ("exact source F1", "exact cue F1", "exact content F1", "claim F1")]
    pubs = sorted(next(iter(data.values()), {}))
    rows = []
    for p in pubs:
        cells = [escape(p), str(data[systems[0]][p]["n_articles"])]
        for s in systems:
            base = ("attribution", "by_publisher", s, p)
            cells += [_fig_html(F, base + ("exact", x, "f1")) for x in ROLE_NAMES] + [_fig_html(F, base + ("claim", "f1"))]
        rows.append(cells)
    return "<h3>By publisher</h3><p class=\"note\">Intervals over the articles of each publisher (few, so wide).</p>" \
        + _table(head, rows)


def _speakers(r: dict, F: Figures) -> str:
    s = r.get("speakers") or {}
    out = ['<h2 id="speakers">Speakers</h2>']
    if not s.get("available"):
        return out[0] + _missing(s.get("missing", "no speaker data"))
    out.append('<p class="note">Accuracy of the resolved speaker name on the hand-checked speaker set '
               '(<code>eval/data/speakers_dev.jsonl</code>): a name is right when it is one of the accepted names. '
               '<b>gold sources</b>: the resolver alone, given every gold source span; <b>matched claims</b>: '
               'the speaker of the model\'s claim matched to the gold attribution (extraction and resolution '
               'together). Intervals over articles.</p>')
    head = ["setting", "all"] + list(SPEAKER_KINDS)
    rows = []
    for setting, label in (("gold_sources", "resolver on gold sources"), ("matched", "model, matched claims")):
        e = s.get(setting) or {}
        if not e.get("available"):
            rows.append([escape(label) + f'<div class="note">missing: {escape(e.get("missing", ""))}</div>']
                        + [MISSING] * (len(head) - 1))
            continue
        cells = [escape(label), _fig_html(F, ("speakers", setting, "accuracy")) + f'<div class="note">n={e["n"]}</div>']
        for k in SPEAKER_KINDS:
            f = e["by_kind"][k]
            cells.append(_fig_html(F, ("speakers", setting, "by_kind", k)) + f'<div class="note">n={f["n"]}</div>')
        rows.append(cells)
    out.append(_table(head, rows))
    out.append(_speaker_sets(s, F))
    return "".join(out)


def _speaker_sets(s: dict, F: Figures) -> str:
    sets = s.get("sets") or {}
    if not sets:
        return ""
    out = ['<h3>Speaker sets</h3><p class="note">Strict / lenient accuracy (%) on the disputes dev set and the '
           'hand-checked sets (<code>python -m eval.speakers --split dev</code>), overall (attributions with a gold '
           'speaker, 95% interval over articles) and by kind of source mention; lenient also takes a surname, a '
           'title, a middle name, an alias, % for percent, a coordination in any order.</p>']
    head = ["set, setting", "all"] + list(SET_KINDS)
    rows = []
    for name, e in sets.items():
        if not e.get("available"):
            rows.append([escape(name) + f'<div class="note">missing: {escape(e.get("missing", ""))}</div>']
                        + [MISSING] * (len(head) - 1))
            continue
        for key, label in SET_SETTINGS:
            v = e.get(key) or {}
            if not v.get("available"):
                rows.append([escape(f"{name}, {label}") + f'<div class="note">missing: {escape(v.get("missing", ""))}</div>']
                            + [MISSING] * (len(head) - 1))
                continue
            base = ("speakers", "sets", name, key)
            cells = [escape(f"{name}, {label}"),
                     _fig_html(F, base + ("strict",)) + " / " + _fig_html(F, base + ("lenient",))
                     + f'<div class="note">n={v["n"]}</div>']
            for k in SET_KINDS:
                kv = v["by_kind"].get(k)
                cells.append(f"{num(kv['strict']['value'], 0)} / {num(kv['lenient']['value'], 0)}"
                             f'<div class="note">n={kv["lenient"]["n"]}</div>' if kv else MISSING)
            rows.append(cells)
    out.append(_table(head, rows))
    return "".join(out)


def _stance(r: dict, F: Figures) -> str:
    s = r.get("stance") or {}
    out = ['<h2 id="stance">Stance</h2>']
    if not s.get("available"):
        return out[0] + _missing(s.get("missing", "no stance data"))
    model, base = s.get("model") or {}, s.get("baseline") or {}
    if not model.get("available"):
        out.append(_missing(f"stance model: {model.get('missing', '')}. The TF-IDF baseline is shown alone; "
                            "no model figures are reported."))
    if not base.get("available"):
        out.append(_missing(f"TF-IDF baseline: {base.get('missing', '')}"))
    out.append('<p class="note">Macro-F1 over favor / against / neutral (the labels present in that dataset\'s '
               'gold; unrelated is left out of the average and kept in the confusion matrix), accuracy, and FNC-1\'s '
               'weighted score where there are unrelated pairs. Intervals: 95% bootstrap over targets, so that a '
               'topic counts once. Baseline: TF-IDF of target and text and their cosine, logistic regression, '
               f'fitted on the train splits{" (" + str(base["n_train"]) + " pairs)" if base.get("n_train") else ""}.</p>')
    systems = [x for x in ("model", "baseline") if (s.get(x) or {}).get("available")]
    head = ["dataset", "pairs", "targets"] + [f"{x} {m}" for x in systems for m in ("macro-F1", "accuracy", "FNC score")]
    if "model" in systems:
        head.append("model ECE")
    rows = []
    for name, d in s["datasets"].items():
        cells = [escape(name), str(d["n"]), str(d["n_targets"])]
        for x in systems:
            base_p = ("stance", "datasets", name, x)
            cells += [_fig_html(F, base_p + ("macro_f1",)), _fig_html(F, base_p + ("accuracy",)),
                      _fig_html(F, base_p + ("fnc_score",)) if "fnc_score" in d.get(x, {}) else ""]
        if "model" in systems:
            cells.append(_fig_html(F, ("stance", "datasets", name, "model", "ece"), False))
        rows.append(cells)
    out.append(_table(head, rows))
    out.append("<h3>Confusion matrices</h3><p class=\"note\">Rows gold, columns predicted; shade = share of the "
               "gold row. One row per dataset, the model beside the baseline.</p>")
    for name, d in s["datasets"].items():
        out.append('<div class="grid">' + "".join(
            svg.heatmap(d[x]["confusion"], list(STANCE_LABELS), list(STANCE_LABELS), title=f"{name} · {x}")
            for x in systems) + "</div>")
    cal = s.get("calibration") or {}
    out.append("<h3>Calibration</h3>")
    if cal.get("available"):
        out.append(f'<p class="note">Top-label probability against accuracy over all {cal["n"]} dev pairs, 15 '
                   f'equal-width bins. Expected calibration error {_fig_html(F, ("stance", "calibration", "ece"))} '
                   f'(percentage points; interval over pairs).</p>')
        out.append(svg.reliability_diagram(cal["bins"], title=f"Reliability, ECE {num(cal['ece']['value'])}%"))
    else:
        out.append(_missing(cal.get("missing", "no stance model")))
    out.append("<h3>Per target</h3><p class=\"note\">The targets with the most pairs in each dataset (headlines, "
               "topics, debate claims); intervals over the pairs of that target.</p>")
    for name, d in s["datasets"].items():
        rows = []
        for t, te in d["targets"].items():
            cells = [escape(t), str(te["n"])]
            for x in systems:
                cells += [_fig_html(F, ("stance", "datasets", name, "targets", t, x, m)) for m in ("macro_f1", "accuracy")]
            rows.append(cells)
        out.append(f"<h4>{escape(name)}</h4>" + _table(["target", "pairs"] + [f"{x} {m}" for x in systems
                                                                             for m in ("macro-F1", "accuracy")], rows))
    out.append(_disputes(s, F))
    out.append(_disputes_set(s))
    return "".join(out)


def _disputes(s: dict, F: Figures) -> str:
    d = s.get("disputes") or {}
    out = ["<h3>Per dispute (seed gold)</h3>"]
    if not d.get("available"):
        return out[0] + _missing(d.get("missing", "no seed gold"))
    out.append(f'<p class="note">The stance the model gives each gold claim of <code>{escape(d["source"])}</code> '
               'toward each dispute of that file. A prediction is right when it is one of the labels the annotator '
               'accepts; for macro-F1, an accepted prediction is its own gold label. Few claims: read the '
               'intervals.</p>')
    rows = []
    for k, e in d["disputes"].items():
        rows.append([escape(k) + (f'<div class="note">{escape(e["title"])}</div>' if e.get("title") else ""),
                     str(e["n"]), _fig_html(F, ("stance", "disputes", "disputes", k, "accuracy")),
                     _fig_html(F, ("stance", "disputes", "disputes", k, "macro_f1"))])
    out.append(_table(["dispute", "claims", "accuracy", "macro-F1"], rows))
    return "".join(out)


def _disputes_set(s: dict) -> str:
    from .run import DISPUTES_SET_HEAD, disputes_set_rows
    d = s.get("disputes_set") or {}
    out = ["<h3>Disputes set</h3>"]
    if not d.get("available"):
        return out[0] + _missing(d.get("missing", "no disputes set"))
    out.append(f'<p class="note">{d["n_articles"]} articles of <code>{escape(d["source"])}</code>, each with its own '
               'disputes (custom ones written for one article, catalog ones recurring); sided = favor / against; '
               '95% intervals over articles; <code>python -m eval.disputes</code> gives the rest.</p>')
    out.append(_table(DISPUTES_SET_HEAD, [[escape(c) for c in r] for r in disputes_set_rows(d)], left=2))
    return "".join(out)


def excerpt_html(ex: dict) -> str:
    """The excerpt with marks as runs of spans, one run per stretch of identical marks (so that
    overlapping predicted and gold spans never need nested tags)."""
    text = ex["text"]
    cuts = {0, len(text)}
    for m in ex["marks"]:
        cuts.update((m["start"], m["end"]))
    cuts = sorted(c for c in cuts if 0 <= c <= len(text))
    parts = ["…" if ex.get("cut_left") else ""]
    for a, b in zip(cuts, cuts[1:]):
        classes = sorted({f"{'p' if m['layer'] == 'pred' else 'g'}-{m['role']}"
                          for m in ex["marks"] if m["start"] <= a and b <= m["end"]})
        chunk = escape(text[a:b])
        parts.append(f'<span class="{" ".join(classes)}">{chunk}</span>' if classes else chunk)
    parts.append("…" if ex.get("cut_right") else "")
    return f'<div class="ex">{"".join(parts)}</div>'


LEGEND = ('<p class="legend note">Model: <span class="p-source">source</span><span class="p-cue">cue</span>'
          '<span class="p-content">content</span> · Gold (underlined): <span class="g-source">source</span>'
          '<span class="g-cue">cue</span><span class="g-content">content</span></p>')


def _roles_line(d: dict) -> str:
    return " · ".join(f"<b>{r}</b> “{escape(d[r])}”" for r in ROLE_NAMES if d.get(r))


def _gallery(r: dict) -> str:
    g = r.get("gallery") or {}
    out = ['<h2 id="gallery">Error gallery</h2>']
    if not g.get("available"):
        return out[0] + _missing(g.get("missing", "no model predictions"))
    out.append(LEGEND)
    out.append(f'<h3>Most confident false positives ({len(g["false_positives"])} of {g["n_false_positives"]})</h3>'
               '<p class="note">Predicted claims that match no gold attribution, most confident first (at most two '
               'per article). Some are annotation gaps rather than errors: the gold spans around them are shown.</p>')
    for it in g["false_positives"]:
        near = "".join(f'<div class="note">gold here: {_roles_line(x)}</div>' for x in it["gold_nearby"])
        out.append(f'<div class="card"><div class="note">{escape(it["article"])} · confidence '
                   f'{it["confidence"]:.2f}{" · " + escape(it["form"]) if it.get("form") else ""}</div>'
                   f'<div>{_roles_line(it["predicted"])}</div>{near}{excerpt_html(it["excerpt"])}</div>')
    out.append(f'<h3>Misses ({len(g["misses"])} of {g["n_misses"]})</h3><p class="note">Gold attributions no '
               'predicted claim matches; first those the model did not touch at all, then the longest.</p>')
    for it in g["misses"]:
        near = "".join(f'<div class="note">model here: {_roles_line(x)}</div>' for x in it["predicted_nearby"])
        out.append(f'<div class="card"><div class="note">{escape(it["article"])} · '
                   f'{"partly overlapped by a prediction" if it["touched"] else "no predicted span overlaps it"}</div>'
                   f'<div>{_roles_line(it["gold"])}</div>{near}{excerpt_html(it["excerpt"])}</div>')
    return "".join(out)


def _runtime(r: dict, F: Figures) -> str:
    rt = r.get("runtime") or {}
    out = ['<h2 id="runtime">Runtime</h2>']
    if not rt.get("available"):
        return out[0] + _missing(rt.get("missing", "no model was run")) + _steps(r)
    rows = []
    if "articles_per_s" in rt:
        out.append(f'<p class="note">The report\'s own extraction pass (the batched analyzer, no stance): '
                   f'{rt["articles"]} articles, {rt["tokens"]:,} subword tokens in {rt["seconds"]:.1f} s, '
                   f'{rt.get("threads")} torch threads, load average at start '
                   f'{escape(str(rt.get("load_average")))}. Timings depend on the machine and on what else runs.</p>')
        rows += [["articles / s", _fig_html(F, ("runtime", "articles_per_s"), digits=2)],
                 ["tokens / s", _fig_html(F, ("runtime", "tokens_per_s"), digits=0)],
                 ["peak RSS (MB)", _fig_html(F, ("runtime", "peak_rss_mb"), digits=0)]]
    for k, v in (rt.get("bench") or {}).items():
        rows.append([f"bench: {escape(k)}", _fig_html(F, ("runtime", "bench", k), digits=3) if isinstance(v, dict)
                     else escape(str(v))])
    out.append(_table(["figure", "value"], rows))
    return "".join(out) + _steps(r)


def _steps(r: dict) -> str:
    steps = (r.get("meta") or {}).get("step_seconds") or {}
    if not steps:
        return ""
    rows = [[escape(k), f"{v:.1f}"] for k, v in steps.items()]
    return ("<details><summary>Where the report's own time went (seconds)</summary>"
            + _table(["step", "seconds"], rows) + "</details>")


def _changes(r: dict) -> str:
    c = r.get("compare")
    out = ['<h2 id="changes">Changes</h2>']
    if not c:
        return out[0] + '<p class="note">No comparison: run with <code>--compare reports/OLD/metrics.json</code>.</p>'
    om = c.get("old_meta") or {}
    out.append(f'<p class="note">Against <code>{escape(c["against"])}</code> ({escape(str(om.get("name")))}, '
               f'{escape(str(om.get("generated")))}). {c["n_beyond"]} of {len(c["rows"])} figures changed by more '
               'than their interval (the old value lies outside the new 95% interval; marked with a box). This is '
               'a reading aid, not a paired test.</p>')
    for w in c.get("warnings", []):
        out.append(_warning(f"the reports differ in setup: {w}"))
    rows = []
    for row in sorted(c["rows"], key=lambda x: (not x["beyond"], -abs(x["delta"] or 0))):
        d = MISSING if row["delta"] is None else f"{row['delta']:+.2f}"
        flag = {True: "beyond", False: "within", None: "n/a"}[row["beyond"]]
        rows.append([escape(" › ".join(row["path"])), num(row["old"], 2), num(row["new"], 2),
                     f"<b>{d}</b>" if row["beyond"] else d, escape(ci({"ci": row["ci"]}, 2)) if row["ci"] else "", flag])
    out.append(_table(["figure", "old", "new", "change", "new interval", "vs interval"], rows))
    if c["new_only"] or c["old_only"]:
        out.append(f'<p class="note">Only in this report: {len(c["new_only"])} figures; only in the old one: '
                   f'{len(c["old_only"])}.</p>')
    return "".join(out)


def _method() -> str:
    return ('<h2 id="method">How to read this</h2><ul class="note">'
            "<li>All figures are percentages; <span class=\"ci\">[lo, hi]</span> is a 95% bootstrap percentile "
            "interval (attribution and speakers: over articles; stance: over targets; per target or dispute: over "
            "pairs). Resampling is seeded, so the same inputs and seed give the same report.</li>"
            "<li>The human ceiling is the agreement of trained annotators with each other on other articles; a model "
            "near it is as good as the data can show.</li>"
            "<li>A section marked <b>Missing</b> had no model or no data; no figure is invented for it.</li>"
            "<li>With <code>--compare</code>, each figure shows its change; a boxed change means the old value lies "
            "outside the new interval.</li></ul>")


def render_html(report: dict) -> str:
    """The whole page."""
    F = Figures(report)
    title = escape(f"{report.get('meta', {}).get('title', 'Evaluation report')}: {report.get('meta', {}).get('name', '')}")
    body = [_header(report), _summary(report, F), _attribution(report, F), _speakers(report, F), _stance(report, F),
            _gallery(report), _runtime(report, F), _changes(report), _method()]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")
