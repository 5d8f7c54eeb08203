import io

from rich.console import Console

from claims.doc import ArticleResult, Claim, Dispute, Span, Speaker, Stance
from claims.cli.render import print_result

TEXT = "Moscow denies the allegations."


def _result():
    scores = {"favor": 0.1, "against": 0.7, "neutral": 0.15, "unrelated": 0.05}
    claim = Claim("c1", [Span.of(TEXT, 14, 29)], Span.of(TEXT, 7, 13), Span.of(TEXT, 0, 6),
                  Speaker("Russia", "government"), "indirect", 0.93, {"airstrike-targets": Stance("against", scores)})
    return ArticleResult("a1", TEXT, [claim], [Dispute("airstrike-targets", "Russian airstrike targets", "p")])


def _render(width: int) -> str:
    buf = io.StringIO()
    print_result(_result(), Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def test_narrow_table_numbers_disputes_and_keeps_every_field_whole():
    out = _render(80)
    assert "[1] against 0.70" in out and "[1] airstrike-targets = Russian airstrike targets" in out
    for text in ("Russia", "denies", "the allegations", "0.93", "indirect"):
        assert text in out


def test_wide_table_names_disputes():
    out = _render(160)
    assert "airstrike-targets: against 0.70" in out and "[1]" not in out
