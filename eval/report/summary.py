"""The terminal summary of a report (rich): the headline figures, what is missing, what changed."""

from __future__ import annotations

from .fmt import MISSING, Figures, ci, num

ROLE_NAMES = ("source", "cue", "content")


def _cell(F: Figures, path: tuple, show_ci: bool = True) -> str:
    f = F.get(path)
    if f is None or f.get("value") is None:
        return MISSING
    s = num(f["value"])
    if show_ci and f.get("ci"):
        s += f" [dim]{ci(f)}[/dim]"
    ch = F.change(path)
    if ch:
        text, beyond, direction = ch
        color = {"better": "green", "worse": "red"}.get(direction, "dim")
        s += f" [{color}]{'[bold]' if beyond else ''}{text}{'*[/bold]' if beyond else ''}[/{color}]"
    return s


def print_summary(report: dict, paths: dict | None = None, console=None) -> None:
    """Print the summary tables and the paths of the written files."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    c = console or Console()
    F = Figures(report)
    a = report.get("attribution") or {}
    systems = a.get("systems") or {}
    t = Table(title=f"Attribution, {a.get('n_articles', 0)} articles (F1 %, 95% interval over articles)")
    t.add_column("system")
    cols = [(f"exact {x}", ("exact", x, "f1")) for x in ROLE_NAMES] + [("claim", ("claim", "f1"))]
    for h, _ in cols:
        t.add_column(h, justify="right")
    for name in ("model", "baseline", "human"):
        s = systems.get(name)
        if not s:
            continue
        if not s.get("available"):
            t.add_row(escape(s["name"]), f"[yellow]missing: {escape(s.get('missing', ''))}[/yellow]", *[""] * (len(cols) - 1))
        else:
            t.add_row(escape(s["name"]), *[_cell(F, ("attribution", "systems", name) + p) for _, p in cols])
    c.print(t)
    tc = a.get("threshold_curve") or {}
    if tc.get("available"):
        c.print(f"best claim F1 {_cell(F, ('attribution', 'threshold_curve', 'best_f1'))} at confidence "
                f"threshold {tc['best_threshold']:.2f}")

    sp = report.get("speakers") or {}
    if sp.get("available"):
        for setting, label in (("gold_sources", "resolver on gold sources"), ("matched", "model, matched claims")):
            e = sp.get(setting) or {}
            if e.get("available"):
                kinds = ", ".join(f"{k} {num(v['value'], 0)}% of {v['n']}" for k, v in e["by_kind"].items() if v["n"])
                c.print(f"speaker accuracy, {label}: {_cell(F, ('speakers', setting, 'accuracy'))} ({kinds})")
        for name, e in (sp.get("sets") or {}).items():
            for key, label in (("end_to_end", "end to end"), ("gold_sources", "gold sources")):
                v = e.get(key) or {}
                if e.get("available") and v.get("available"):
                    c.print(f"speakers, {escape(name)}, {label}: strict {num(v['strict']['value'], 1)}%, lenient "
                            f"{_cell(F, ('speakers', 'sets', name, key, 'lenient'))} of {v['n']}")
    else:
        c.print(f"[yellow]speakers missing:[/yellow] {escape(sp.get('missing', ''))}")

    st = report.get("stance") or {}
    if st.get("available"):
        systems_s = [x for x in ("model", "baseline") if (st.get(x) or {}).get("available")]
        t = Table(title="Stance, dev splits (macro-F1 %, 95% interval over targets)")
        t.add_column("dataset")
        t.add_column("pairs", justify="right")
        for x in systems_s:
            t.add_column(f"{x} macro-F1", justify="right")
            t.add_column(f"{x} acc", justify="right")
        for name, d in st["datasets"].items():
            row = [escape(name), str(d["n"])]
            for x in systems_s:
                row += [_cell(F, ("stance", "datasets", name, x, "macro_f1")),
                        _cell(F, ("stance", "datasets", name, x, "accuracy"), False)]
            t.add_row(*row)
        c.print(t)
        for x in ("model", "baseline"):
            if not (st.get(x) or {}).get("available"):
                c.print(f"[yellow]stance {x} missing:[/yellow] {escape((st.get(x) or {}).get('missing', ''))}")
        if (st.get("calibration") or {}).get("available"):
            c.print(f"stance ECE over all dev pairs: {_cell(F, ('stance', 'calibration', 'ece'))}")
        d = st.get("disputes") or {}
        if d.get("available"):
            c.print("seed disputes, accuracy: " + ", ".join(
                f"{escape(k)} {num(v['accuracy']['value'], 0)}% of {v['n']}" for k, v in d["disputes"].items()))
    else:
        c.print(f"[yellow]stance missing:[/yellow] {escape(st.get('missing', ''))}")

    rt = report.get("runtime") or {}
    if rt.get("available") and "articles_per_s" in rt:
        c.print(f"runtime: {num(rt['articles_per_s']['value'], 2)} articles/s, {num(rt['tokens_per_s']['value'], 0)} "
                f"tokens/s, peak RSS {num(rt['peak_rss_mb']['value'], 0)} MB ({rt.get('threads')} threads, "
                f"load {rt.get('load_average')})")
    cmp_ = report.get("compare")
    if cmp_:
        c.print(f"compared with {escape(cmp_['against'])}: [bold]{cmp_['n_beyond']}[/bold] of {len(cmp_['rows'])} "
                "figures moved beyond their interval (* above)")
        if cmp_.get("old_only"):
            c.print(f"[yellow]{len(cmp_['old_only'])} figures of the old report are missing from this one[/yellow]")
        for w in cmp_.get("warnings", []):
            c.print(f"[yellow]warning:[/yellow] {escape(w)}")
    m = report.get("meta") or {}
    if m.get("elapsed_s") is not None:
        c.print(f"built in {m['elapsed_s']:.0f} s")
    for k, p in (paths or {}).items():
        c.print(f"wrote {escape(str(p))}")
