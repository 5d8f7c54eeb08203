import json

import pytest

from claims.cli import main

pytestmark = pytest.mark.slow


def test_stance_cli_keeps_input_order_and_records_bad_lines(tmp_path):
    from claims.nlp.stance import DEFAULT_STANCE_DIR
    if not (DEFAULT_STANCE_DIR / "config.json").exists():
        pytest.skip("no stance model installed")
    inp = tmp_path / "pairs.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "a", "target": "Taxes should rise.", "text": "The senator said taxes must rise."}),
        "{broken",
        json.dumps({"id": "c", "target": "Taxes should rise.", "text": ""}),
        json.dumps({"id": "d", "target": "Taxes should rise.", "text": "The mayor denied that taxes must rise."}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["stance", str(inp), "-o", str(out)]) == 1  # two lines failed
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "line:2", "c", "d"]
    assert "error" in rows[1] and "error" in rows[2]
    for r in (rows[0], rows[3]):
        assert r["label"] in ("favor", "against", "neutral", "unrelated")
        assert abs(sum(r["scores"].values()) - 1) < 1e-3


def test_stance_cli_output_dash_is_stdout(tmp_path, capsys, monkeypatch):
    from claims.nlp.stance import DEFAULT_STANCE_DIR
    if not (DEFAULT_STANCE_DIR / "config.json").exists():
        pytest.skip("no stance model installed")
    inp = tmp_path / "pairs.jsonl"
    inp.write_text(json.dumps({"id": "a", "target": "Taxes should rise.", "text": "The senator said taxes must rise."})
                   + "\n")
    monkeypatch.chdir(tmp_path)
    assert main(["stance", str(inp), "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["id"] == "a" and "1 pairs scored" in err
    assert not (tmp_path / "-").exists()


def test_stance_cli_shows_progress_like_batch(tmp_path, capsys, monkeypatch):
    from claims.nlp.stance import DEFAULT_STANCE_DIR
    if not (DEFAULT_STANCE_DIR / "config.json").exists():
        pytest.skip("no stance model installed")
    monkeypatch.setattr("claims.progress.LOG_EVERY_S", 0.0)    # a log line after every batch
    inp = tmp_path / "pairs.jsonl"
    inp.write_text("".join(json.dumps({"id": str(i), "target": "Taxes should rise.",
                                       "text": f"Senator {i} said taxes must rise."}) + "\n" for i in range(4)))
    assert main(["stance", str(inp), "-o", str(tmp_path / "out.jsonl"), "--batch-size", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("claims stance: ") and "% of the input" in err[0] and "pairs/s" in err[0]
    assert "100.0% of the input, 4 written (0 failed)" in err[1] and err[-1].startswith("4 pairs scored")
    assert main(["stance", str(inp), "-o", str(tmp_path / "out.jsonl"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
