"""Readable terminal output for one ArticleResult (rich)."""

from __future__ import annotations

from ..doc import ArticleResult
from ..labels import STANCE_LABELS, STANCE_STYLE



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
    # on a narrow screen (or a pipe: 80 columns) disputes are numbered, the cue sits under the
    # speaker and the form under the confidence, so that names and labels stay readable
    narrow = console.width < 140
    t = Table(title=f"{result.id}: {len(result.claims)} claims", show_lines=True, expand=True)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("speaker\n[italic]cue[/italic]" if narrow else "speaker", ratio=2, overflow="fold")
    if not narrow:
        t.add_column("cue", ratio=1, overflow="fold")
    t.add_column("content", ratio=4)
    if not narrow:
        t.add_column("form", no_wrap=True)
    t.add_column("conf", justify="right", no_wrap=True)
    if result.disputes:
        key_width = 3 if narrow else max(len(d.id) for d in result.disputes) + 1   # "[1]" or "<id>:"
        t.add_column("stance", no_wrap=True, width=key_width + len(f" {max(STANCE_LABELS, key=len)} 0.00"))
    for c in result.claims:
        speaker = "—"
        if c.speaker:
            speaker = f"[bold]{c.speaker.name}[/bold] [dim]({c.speaker.type})[/dim]"
            if c.source and c.source.text.strip() != c.speaker.name:
                speaker += f"\n[dim]as “{_short(c.source.text, 40)}”[/dim]"
        content = " … ".join(_short(s.text, 160) for s in c.content)
        cue = c.cue.text if c.cue else "—"
        row = [c.id, f"{speaker}\n[italic]{cue}[/italic]", content] if narrow else [c.id, speaker, cue, content]
        row += [f"{c.confidence:.2f}\n[dim]{c.form}[/dim]"] if narrow else [c.form, f"{c.confidence:.2f}"]
        if result.disputes:
            parts = []
            for k, d in enumerate(result.disputes, 1):
                st = c.stance.get(d.id)
                if st is None:
                    continue
                style = STANCE_STYLE[st.label]
                key = f"[{k}]" if narrow else f"{d.id}:"
                parts.append(f"{key} [{style}]{st.label}[/{style}] {st.scores[st.label]:.2f}")
            row.append("\n".join(parts))
        t.add_row(*row)
    console.print(t)
    if result.disputes:
        console.print("[dim]disputes: " + "; ".join(f"{f'[{k}] ' if narrow else ''}{d.id} = {d.title}"
                                                    for k, d in enumerate(result.disputes, 1)) + "[/dim]")
