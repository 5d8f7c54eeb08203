"""Readable terminal output for one ArticleResult (rich)."""

from __future__ import annotations

from .doc import ArticleResult

STANCE_STYLE = {"favor": "green", "against": "red", "neutral": "yellow", "unrelated": "dim"}


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def print_result(result: ArticleResult, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if result.error:
        console.print(f"[red]error[/red] {result.error['type']}: {result.error['message']}")
        return
    t = Table(title=f"{result.id}: {len(result.claims)} claims", show_lines=True, expand=True)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("speaker", ratio=2)
    t.add_column("cue", ratio=1)
    t.add_column("content", ratio=5)
    t.add_column("form", no_wrap=True)
    t.add_column("conf", justify="right", no_wrap=True)
    if result.disputes:
        t.add_column("stance", ratio=2)
    for c in result.claims:
        speaker = "—"
        if c.speaker:
            speaker = f"[bold]{c.speaker.name}[/bold] [dim]({c.speaker.type})[/dim]"
            if c.source and c.source.text.strip() != c.speaker.name:
                speaker += f"\n[dim]as “{_short(c.source.text, 40)}”[/dim]"
        content = " … ".join(_short(s.text, 160) for s in c.content)
        row = [c.id, speaker, c.cue.text if c.cue else "—", content, c.form, f"{c.confidence:.2f}"]
        if result.disputes:
            parts = []
            for d in result.disputes:
                st = c.stance.get(d.id)
                if st is None:
                    continue
                style = STANCE_STYLE[st.label]
                parts.append(f"{d.id}: [{style}]{st.label}[/{style}] {st.scores[st.label]:.2f}")
            row.append("\n".join(parts))
        t.add_row(*row)
    console.print(t)
    if result.disputes:
        console.print("[dim]disputes: " + "; ".join(f"{d.id} = {d.title}" for d in result.disputes) + "[/dim]")
