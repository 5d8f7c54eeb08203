"""The console benchmark runs and its generated article is sound (timings are reported, never asserted)."""

from eval.console_bench import generate_article, main


def test_console_bench_article_spans_match_text():
    result, words = generate_article()
    assert words >= 2000 and len(result.claims) == 60
    for cl in result.claims:
        for s in cl.spans():
            assert result.text[s.start:s.end] == s.text


def test_console_bench_small_run_loses_nothing(capsys):
    assert main(["--repeat", "2", "--reviewers", "3", "--edits", "2"]) == 0
    assert "lost edits 0" in capsys.readouterr().out
