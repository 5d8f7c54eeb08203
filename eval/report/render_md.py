"""``report.md``: the report as GitHub-flavoured Markdown for pull requests. The same figures as
the HTML page, as tables; plots stay in report.html. Text from data is escaped so that it can
neither break a table nor inject markup."""

from __future__ import annotations

import re

from claims.doc import FORMS, STANCE_LABELS

from .collect import SET_KINDS, SET_SETTINGS, SPEAKER_KINDS
from .fmt import MISSING, Figures, ci, num

ROLE_NAMES = ("source", "cue", "content")
GALLERY_ITEMS = 5
# every character that can start markup here; parentheses are safe once brackets are escaped
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+|~&])")


def md(text: str, strip: bool = True) -> str:
    """Text safe inside Markdown, one line: markup characters backslash-escaped, whitespace
    collapsed (paragraph breaks become ¶); ``strip=False`` keeps one space at either end, for
    pieces of a longer text."""
    text = re.sub(r"\n\s*\n", " ¶ ", str(text))
    text = re.sub(r"\s+", " ", text)
    return _SPECIAL.sub(r"\\\1", text.strip() if strip else text)


def _fig(F: Figures, path: tuple, show_ci: bool = True, digits: int = 1) -> str:
    f = F.get(path)
    if f is None or f.get("value") is None:
        return MISSING
    out = num(f["value"], digits)
    if show_ci and f.get("ci"):
        out += " " + ci(f)
    ch = F.change(path)
    if ch:
        text, beyond, _ = ch
        out += f" **Δ{text}**" if beyond else f" Δ{text}"
    return out


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    align = ["---" if i < left else "---:" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _missing(msg: str) -> str:
    return f"> **Missing:** {md(msg)}\n"


def _header(r: dict) -> list[str]:
    m = r.get("meta", {})
    out = [f"# {md(m.get('title', 'Evaluation report'))}: {md(str(m.get('name', '')))}", ""]
    for k in ("attribution", "stance"):
        info = (m.get("models") or {}).get(k) or {}
        out.append(f"- **{k} model**: `{info.get('path') or 'none'}`"
                   + (f" (version {md(info['version'])})" if info.get("version") else "")
                   + (f", weights `{info['sha256']}`" if info.get("sha256") else ""))
    out.append(f"- **attribution gold**: `{m.get('attribution_data')}`" + (f" (first {m['limit']} articles)" if m.get("limit") else ""))
    out.append(f"- **stance gold**: `{m.get('stance_data')}`"
               + (f" (first {m['stance_limit']} pairs per dataset)" if m.get("stance_limit") else ""))
    out.append(f"- **seed** {m.get('seed')}, **bootstrap** {m.get('bootstrap')} resamples, **generated** {m.get('generated')}"
               + (f" in {m['elapsed_s']:.0f} s" if m.get("elapsed_s") is not None else "")
               + (f", **code** `{m['git']}`" if m.get("git") else ""))
    out.append("")
    out.append("Figures are percentages with 95% bootstrap intervals in brackets. Plots: `report.html`.")
    out.append("")
    return out


def _summary(r: dict, F: Figures) -> list[str]:
    out = ["## Summary", ""]
    rows = []
    a = (r.get("attribution") or {}).get("systems") or {}
    for label, path in [("claim F1", ("claim", "f1"))] + [(f"exact {x} F1", ("exact", x, "f1")) for x in ROLE_NAMES]:
        rows.append([label] + [_fig(F, ("attribution", "systems", s) + path) if (a.get(s) or {}).get("available")
                               else MISSING for s in ("model", "baseline", "human")])
    out.append(_table(["attribution", "model", "rule baseline", "human"], rows))
    sp = r.get("speakers") or {}
    st = r.get("stance") or {}
    lines = []
    for setting, label in (("matched", "speaker accuracy, matched claims"), ("gold_sources", "speaker accuracy, gold sources")):
        if (sp.get(setting) or {}).get("available"):
            lines.append(f"- {label}: {_fig(F, ('speakers', setting, 'accuracy'))}")
    if (st.get("model") or {}).get("available"):
        for name, d in (st.get("datasets") or {}).items():
            lines.append(f"- stance macro-F1, {md(name)}: {_fig(F, ('stance', 'datasets', name, 'model', 'macro_f1'))} "
                         f"(baseline {num((d.get('baseline') or {}).get('macro_f1', {}).get('value'))})")
        lines.append(f"- stance ECE: {_fig(F, ('stance', 'calibration', 'ece'))}")
    else:
        lines.append(f"- stance model: missing ({md((st.get('model') or {}).get('missing', ''))})")
    rt = r.get("runtime") or {}
    if rt.get("available") and "articles_per_s" in rt:
        lines.append(f"- runtime: {_fig(F, ('runtime', 'articles_per_s'), digits=2)} articles/s, "
                     f"{_fig(F, ('runtime', 'tokens_per_s'), digits=0)} tokens/s, "
                     f"peak RSS {_fig(F, ('runtime', 'peak_rss_mb'), digits=0)} MB")
    if r.get("compare"):
        c = r["compare"]
        lines.append(f"- changes beyond their interval: **{c['n_beyond']}** of {len(c['rows'])} figures")
    return out + lines + [""]


def _attribution(r: dict, F: Figures) -> list[str]:
    a = r.get("attribution")
    out = ["## Attribution", ""]
    if not a or not a.get("available", True):
        return out + [_missing((a or {}).get("missing", "no attribution gold data"))]
    out.append(f"{a['n_articles']} articles, {a['n_gold_claims']} gold attributions "
               f"({', '.join(f'{v} {k}' for k, v in a['gold_by_form'].items())}). Intervals over articles.")
    out.append("")
    systems = a["systems"]
    others = [n for n in ("baseline", "human") if n in systems]
    rows = []
    for label, path in [(f"exact {x}", ("exact", x)) for x in ROLE_NAMES] + \
            [(f"overlap {x}", ("overlap", x)) for x in ROLE_NAMES] + [("claim", ("claim",))]:
        rows.append([label] + [_fig(F, ("attribution", "systems", "model") + path + (m,)) for m in ("p", "r", "f1")]
                    + [_fig(F, ("attribution", "systems", n) + path + ("f1",)) for n in others])
    out.append(_table(["metric", "model P", "model R", "model F1"] + [f"{n} F1" for n in others], rows))
    for n, s in systems.items():
        if not s.get("available"):
            out.append(f"{md(s['name'])}: missing ({md(s.get('missing', ''))}).\n")
    if (a["systems"].get("human") or {}).get("note"):
        out.append(f"Human: {md(a['systems']['human']['note'])}.\n")
    out.append("Published exact-match F1 (PolNeAR *test*, docs/DESIGN.md section 5; places our dev figures, not the same measurement):\n")
    out.append(_table(["system", "source", "cue", "content"],
                      [[md(p["system"])] + [num(p[x]) for x in ROLE_NAMES] for p in a["published"]]))
    tc = a.get("threshold_curve") or {}
    out.append("### Precision and recall against the confidence threshold\n")
    if tc.get("available"):
        out.append(f"Best claim F1 {_fig(F, ('attribution', 'threshold_curve', 'best_f1'))} at threshold "
                   f"{tc['best_threshold']:.2f}.\n")
        out.append(_table(["threshold", "claims kept", "P", "R", "F1"],
                          [[f"{p['threshold']:.2f}", str(p["n_pred"]), f"{num(p['p'])} {ci({'ci': p['p_ci']})}",
                            f"{num(p['r'])} {ci({'ci': p['r_ci']})}", f"{num(p['f1'])} {ci({'ci': p['f1_ci']})}"]
                           for p in tc["points"] if round(p["threshold"] * 100) % 10 == 0], left=0))
    else:
        out.append(_missing(tc.get("missing", "no model")))
    for key, title, order in (("by_form", "By form (gold form from quotation marks)", list(FORMS)),
                              ("by_cue", "By cue word", list(next(iter((a.get("by_cue") or {}).values()), {})))):
        data = a.get(key) or {}
        systems = [s for s in ("model", "baseline") if s in data]
        out.append(f"### {title}\n")
        rows = []
        for k in order:
            n_gold = next((data[s][k]["n_gold"] for s in systems if k in data[s]), 0)
            rows.append([md(k), str(n_gold)] + [_fig(F, ("attribution", key, s, k, m)) for s in systems
                                                 for m in ("p", "r", "f1")])
        out.append(_table([key[3:], "gold"] + [f"{s} {m}" for s in systems for m in ("P", "R", "F1")], rows))
    data = a.get("by_publisher") or {}
    systems = [s for s in ("model", "baseline") if s in data]
    out.append("### By publisher\n")
    rows = []
    for p in sorted(next(iter(data.values()), {})):
        rows.append([md(p), str(data[systems[0]][p]["n_articles"])]
                    + [_fig(F, ("attribution", "by_publisher", s, p) + path) for s in systems
                       for path in [("exact", x, "f1") for x in ROLE_NAMES] + [("claim", "f1")]])
    out.append(_table(["publisher", "articles"] + [f"{s} {m}" for s in systems
                                                   for m in ("exact source F1", "exact cue F1", "exact content F1", "claim F1")], rows))
    return out


def _speakers(r: dict, F: Figures) -> list[str]:
    s = r.get("speakers") or {}
    out = ["## Speakers", ""]
    if not s.get("available"):
        return out + [_missing(s.get("missing", "no speaker data"))]
    out.append("Accuracy of the resolved speaker on the hand-checked speaker set, by kind of source; intervals over articles.\n")
    rows = []
    for setting, label in (("gold_sources", "resolver on gold sources"), ("matched", "model, matched claims")):
        e = s.get(setting) or {}
        if not e.get("available"):
            rows.append([f"{label} (missing: {md(e.get('missing', ''))})"] + [MISSING] * (1 + len(SPEAKER_KINDS)))
            continue
        rows.append([label, f"{_fig(F, ('speakers', setting, 'accuracy'))} (n={e['n']})"]
                    + [f"{_fig(F, ('speakers', setting, 'by_kind', k))} (n={e['by_kind'][k]['n']})" for k in SPEAKER_KINDS])
    out.append(_table(["setting", "all"] + list(SPEAKER_KINDS), rows))
    out += _speaker_sets(s, F)
    return out


def _speaker_sets(s: dict, F: Figures) -> list[str]:
    sets = s.get("sets") or {}
    if not sets:
        return []
    out = ["", "### Speaker sets", "",
           "Strict / lenient accuracy (%) on the disputes dev set and the hand-checked sets (`python -m eval.speakers "
           "--split dev`), overall (attributions with a gold speaker, 95% interval over articles) and by kind of "
           "source mention; lenient also takes a surname, a title, a middle name, an alias, % for percent, a "
           "coordination in any order.\n"]
    rows = []
    for name, e in sets.items():
        if not e.get("available"):
            rows.append([f"{md(name)} (missing: {md(e.get('missing', ''))})"] + [MISSING] * (1 + len(SET_KINDS)))
            continue
        for key, label in SET_SETTINGS:
            v = e.get(key) or {}
            if not v.get("available"):
                rows.append([f"{md(name)}, {label} (missing: {md(v.get('missing', ''))})"] + [MISSING] * (1 + len(SET_KINDS)))
                continue
            base = ("speakers", "sets", name, key)
            cells = [f"{md(name)}, {label}",
                     f"{_fig(F, base + ('strict',), show_ci=False)} / {_fig(F, base + ('lenient',))} (n={v['n']})"]
            for k in SET_KINDS:
                kv = v["by_kind"].get(k)
                cells.append(f"{num(kv['strict']['value'], 0)} / {num(kv['lenient']['value'], 0)} "
                             f"(n={kv['lenient']['n']})" if kv else MISSING)
            rows.append(cells)
    out.append(_table(["set, setting", "all"] + list(SET_KINDS), rows))
    return out


def _stance(r: dict, F: Figures) -> list[str]:
    s = r.get("stance") or {}
    out = ["## Stance", ""]
    if not s.get("available"):
        return out + [_missing(s.get("missing", "no stance data"))]
    if not (s.get("model") or {}).get("available"):
        out.append(_missing(f"stance model: {(s.get('model') or {}).get('missing', '')}; the TF-IDF baseline is shown alone"))
    if not (s.get("baseline") or {}).get("available"):
        out.append(_missing(f"TF-IDF baseline: {(s.get('baseline') or {}).get('missing', '')}"))
    out.append("Macro-F1 over favor/against/neutral present in the gold, accuracy, FNC-1 score where there are "
               "unrelated pairs; intervals over targets.\n")
    systems = [x for x in ("model", "baseline") if (s.get(x) or {}).get("available")]
    rows = []
    for name, d in s["datasets"].items():
        row = [md(name), str(d["n"]), str(d["n_targets"])]
        for x in systems:
            p = ("stance", "datasets", name, x)
            row += [_fig(F, p + ("macro_f1",)), _fig(F, p + ("accuracy",)),
                    _fig(F, p + ("fnc_score",)) if "fnc_score" in d.get(x, {}) else ""]
        if "model" in systems:
            row.append(_fig(F, ("stance", "datasets", name, "model", "ece"), False))
        rows.append(row)
    out.append(_table(["dataset", "pairs", "targets"] + [f"{x} {m}" for x in systems
                                                        for m in ("macro-F1", "accuracy", "FNC score")]
                      + (["model ECE"] if "model" in systems else []), rows))
    cal = s.get("calibration") or {}
    if cal.get("available"):
        out.append(f"Expected calibration error over all {cal['n']} dev pairs: {_fig(F, ('stance', 'calibration', 'ece'))} "
                   "(reliability diagram in report.html).\n")
    out.append("### Confusion matrices (rows gold, columns predicted)\n")
    for name, d in s["datasets"].items():
        for x in systems:
            out.append(f"**{md(name)} · {x}**\n")
            out.append(_table(["gold \\ predicted"] + list(STANCE_LABELS),
                              [[l] + [str(v) for v in row] for l, row in zip(STANCE_LABELS, d[x]["confusion"])]))
    out.append("### Per target (most frequent targets; intervals over pairs)\n")
    for name, d in s["datasets"].items():
        rows = [[md(t[:120]), str(te["n"])] + [_fig(F, ("stance", "datasets", name, "targets", t, x, m))
                                               for x in systems for m in ("macro_f1", "accuracy")]
                for t, te in d["targets"].items()]
        out.append(f"**{md(name)}**\n")
        out.append(_table(["target", "pairs"] + [f"{x} {m}" for x in systems for m in ("macro-F1", "accuracy")], rows))
    d = s.get("disputes") or {}
    out.append("### Per dispute (seed gold)\n")
    if d.get("available"):
        out.append(f"Stance of each gold claim of `{d['source']}` toward each of its disputes; a prediction among the "
                   "accepted labels is right.\n")
        out.append(_table(["dispute", "claims", "accuracy", "macro-F1"],
                          [[md(k), str(e["n"]), _fig(F, ("stance", "disputes", "disputes", k, "accuracy")),
                            _fig(F, ("stance", "disputes", "disputes", k, "macro_f1"))] for k, e in d["disputes"].items()]))
    else:
        out.append(_missing(d.get("missing", "no seed gold")))
    out += _disputes_set(s)
    return out


def _disputes_set(s: dict) -> list[str]:
    from .run import DISPUTES_SET_HEAD, disputes_set_rows
    d = s.get("disputes_set") or {}
    out = ["### Disputes set (`python -m eval.disputes`)\n"]
    if not d.get("available"):
        return out + [_missing(d.get("missing", "no disputes set"))]
    out.append(f"{d['n_articles']} articles of `{d['source']}`, each with its own disputes; sided = favor/against, "
               "intervals over articles.\n")
    out.append(_table(DISPUTES_SET_HEAD, disputes_set_rows(d), left=2))
    if "gold" in d:
        out.append(f"ECE on gold attributions {d['gold']['ece']:.1f}%; sides on claims matching no gold attribution: "
                   f"{d.get('spurious_sides_on_unmatched_claims', 0)}.\n")
    return out


def excerpt_md(ex: dict, layer: str) -> str:
    """The excerpt with the spans of one layer (``pred`` or ``gold``) in bold brackets, each
    followed by its role."""
    text, pos, parts = ex["text"], 0, []
    for m in ex["marks"]:
        if m["layer"] != layer or m["start"] < pos:
            continue
        parts.append(md(text[pos:m["start"]], strip=False))
        parts.append(f"**\\[{md(text[m['start']:m['end']])}\\]**<sub>{m['role']}</sub>")
        pos = m["end"]
    parts.append(md(text[pos:], strip=False))
    body = "".join(parts).strip()
    return "> " + ("… " if ex.get("cut_left") else "") + body + (" …" if ex.get("cut_right") else "")


def _gallery(r: dict) -> list[str]:
    g = r.get("gallery") or {}
    out = ["## Error gallery", ""]
    if not g.get("available"):
        return out + [_missing(g.get("missing", "no model predictions"))]
    out.append(f"The {GALLERY_ITEMS} worst of each kind; more, with gold and model spans side by side, in report.html.\n")
    out.append(f"### Most confident false positives ({g['n_false_positives']} in all)\n")
    for it in g["false_positives"][:GALLERY_ITEMS]:
        out.append(f"- `{it['article']}`, confidence {it['confidence']:.2f}"
                   + (f", gold nearby: {md(it['gold_nearby'][0]['content'][:100])}" if it["gold_nearby"] else "") + "\n")
        out.append("  " + excerpt_md(it["excerpt"], "pred") + "\n")
    out.append(f"### Misses ({g['n_misses']} in all)\n")
    for it in g["misses"][:GALLERY_ITEMS]:
        out.append(f"- `{it['article']}`, {'partly overlapped' if it['touched'] else 'untouched'}\n")
        out.append("  " + excerpt_md(it["excerpt"], "gold") + "\n")
    return out


def _runtime(r: dict, F: Figures) -> list[str]:
    rt = r.get("runtime") or {}
    out = ["## Runtime", ""]
    if not rt.get("available"):
        return out + [_missing(rt.get("missing", "no model was run"))]
    rows = []
    if "articles_per_s" in rt:
        out.append(f"Extraction pass of this report: {rt['articles']} articles, {rt['tokens']:,} tokens, "
                   f"{rt['seconds']:.1f} s, {rt.get('threads')} threads, load average {rt.get('load_average')}.\n")
        rows += [["articles / s", _fig(F, ("runtime", "articles_per_s"), digits=2)],
                 ["tokens / s", _fig(F, ("runtime", "tokens_per_s"), digits=0)],
                 ["peak RSS (MB)", _fig(F, ("runtime", "peak_rss_mb"), digits=0)]]
    for k, v in (rt.get("bench") or {}).items():
        rows.append([f"bench: {md(k)}", _fig(F, ("runtime", "bench", k), digits=3) if isinstance(v, dict) else md(str(v))])
    out.append(_table(["figure", "value"], rows))
    return out


def _changes(r: dict) -> list[str]:
    c = r.get("compare")
    out = ["## Changes", ""]
    if not c:
        return out + ["No comparison (`--compare reports/OLD/metrics.json`).", ""]
    out.append(f"Against `{c['against']}`: **{c['n_beyond']}** of {len(c['rows'])} figures moved by more than their "
               "interval (old value outside the new 95% interval; bold). Not a paired test.\n")
    for w in c.get("warnings", []):
        out.append(f"> **Note:** the reports differ in setup: {md(w)}\n")
    rows = []
    for row in sorted(c["rows"], key=lambda x: (not x["beyond"], -abs(x["delta"] or 0))):
        d = MISSING if row["delta"] is None else f"{row['delta']:+.2f}"
        rows.append([md(" › ".join(row["path"])), num(row["old"], 2), num(row["new"], 2),
                     f"**{d}**" if row["beyond"] else d, ci({"ci": row["ci"]}, 2) if row["ci"] else "",
                     {True: "beyond", False: "within", None: "n/a"}[row["beyond"]]])
    out.append(_table(["figure", "old", "new", "change", "new interval", "vs interval"], rows))
    if c["new_only"] or c["old_only"]:
        out.append(f"Only in this report: {len(c['new_only'])} figures; only in the old one: {len(c['old_only'])} "
                   "(e.g. a model that ran in one of them only).\n")
    return out


def render_md(report: dict) -> str:
    """The whole Markdown document."""
    F = Figures(report)
    lines = _header(report) + _summary(report, F) + _attribution(report, F) + _speakers(report, F) + \
        _stance(report, F) + _gallery(report) + _runtime(report, F) + _changes(report)
    return "\n".join(lines).rstrip() + "\n"
