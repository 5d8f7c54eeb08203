"""Build a report: load the gold data, run (or read) the models' predictions, collect every
section, compare, and write ``report.html``, ``report.md`` and ``metrics.json``.

This is the I/O edge of ``eval.report``: everything it computes goes through the pure
functions of ``collect`` and ``gallery``, which the tests drive with hand-made predictions.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

import corpora

from . import collect, gallery
from .compare import compare

ROOT = Path(__file__).resolve().parents[2]


class ReportError(Exception):
    """A problem with the command's inputs; printed as one line, exit code 2."""


@dataclass
class Options:
    """Everything a report depends on (the command line, as data)."""

    out: Path
    attribution: Path = field(default_factory=lambda: corpora.polnear_path("dev"))
    agreement: Optional[Path] = field(default_factory=lambda: corpora.polnear_path("agreement"))
    stance: Path = field(default_factory=lambda: corpora.data_dir() / "stance")
    disputes: Path = field(default_factory=lambda: corpora.data_dir() / "disputes" / "dev.jsonl")
    model: Optional[str] = None            # attribution model dir; None: $CLAIMS_ATTRIBUTION_MODEL or shipped
    stance_model: Optional[str] = None     # stance model dir; None: $CLAIMS_STANCE_MODEL or shipped
    no_model: bool = False                 # report the baselines and the ceiling only
    predictions: Optional[Path] = None     # result JSONL (claims batch) to score instead of running the model
    seed_gold: list[Path] = field(default_factory=lambda: sorted((ROOT / "seeds").glob("*.gold.json")))
    limit: int = 0
    stance_limit: int = 0
    no_baseline: bool = False
    seed: int = 0
    bootstrap: int = 1000
    top_cues: int = 12
    top_targets: int = 5
    gallery_size: int = 10
    compare: Optional[Path] = None
    bench: bool = False
    bench_json: Optional[Path] = None
    name: str = ""
    command: str = ""


class Steps:
    """Progress reporting (a no-op unless given a rich ``Progress``) and the time of each step."""

    def __init__(self, progress=None):
        self.p = progress
        self.main = progress.add_task("report", total=None) if progress else None
        self.sub = None
        self.seconds: dict[str, float] = {}
        self._current, self._since = None, time.perf_counter()

    def step(self, text: str) -> None:
        self._close()
        self._current = text
        if self.p:
            self.p.update(self.main, description=text)

    def _close(self) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.seconds[self._current] = round(self.seconds.get(self._current, 0.0) + now - self._since, 1)
        self._since = now

    def finish(self) -> dict[str, float]:
        self._close()
        self._current = None
        return self.seconds

    def bar(self, text: str, total: int):
        """A sub-bar; returns ``advance(done)`` that sets how much is done."""
        if not self.p:
            return lambda done: None
        if self.sub is not None:
            self.p.remove_task(self.sub)
        self.sub = self.p.add_task(text, total=total)
        return lambda done: self.p.update(self.sub, completed=done)

    def done_bar(self) -> None:
        if self.p and self.sub is not None:
            self.p.remove_task(self.sub)
            self.sub = None


def _git_commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _read_jsonl(path: Path) -> list[dict]:
    try:
        return list(corpora.read_jsonl(path))
    except corpora.JsonlError as e:
        raise ReportError(str(e)) from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read it as JSONL ({e})") from None


def fingerprint(model_dir: Path) -> Optional[str]:
    """The first 12 hex digits of a SHA-256 over a model directory's weights and config: two
    reports with the same version stamp but different weights differ here."""
    import hashlib
    files = sorted(Path(model_dir).glob("*.safetensors")) + [Path(model_dir) / "config.json"]
    h = hashlib.sha256()
    for f in files:
        if f.exists():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12] if files else None


def _sample(rows: list[dict], n: int, seed: int) -> list[dict]:
    """A seeded random sample of n rows in file order (the first n would often be one target)."""
    if not n or n >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


# -- attribution -------------------------------------------------------------------------------

def read_predictions(path: Path, articles: list[dict]) -> list[list[dict]]:
    """Claim dicts per article from a result JSONL (docs/DESIGN.md 3.2, e.g. from ``claims batch``),
    matched by id; every article must have a result."""
    from claims.doc import ArticleResult
    from ..attribution import claim_dicts

    by_id = {}
    for d in _read_jsonl(path):
        try:
            by_id[str(d.get("id"))] = claim_dicts(ArticleResult.from_dict(d))
        except (KeyError, TypeError, ValueError) as e:
            raise ReportError(f"{path}: result {d.get('id')!r} does not follow the result format ({e})") from None
    missing = [a["id"] for a in articles if a["id"] not in by_id]
    if missing:
        raise ReportError(f"{path}: no result for {len(missing)} of {len(articles)} articles (e.g. {missing[0]})")
    return [by_id[a["id"]] for a in articles]


def run_attribution_model(articles: list[dict], model: Optional[str], steps: Steps) -> tuple[list, dict, object]:
    """The analyzer (extraction only) over the articles, timed as the benchmark times it.
    Returns (claim dicts per article, timing, analyzer)."""
    import torch
    from claims.analyzer import Analyzer
    from ..attribution import claim_dicts
    from ..bench import peak_rss_mb

    an = Analyzer(model=model, stance_model=False, disputes=[])
    n_tokens = sum(len(an.tokenizer.encode(a["text"], add_special_tokens=False).ids) for a in articles)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    advance = steps.bar("attribution model", len(articles))
    preds = []
    t0 = time.perf_counter()
    for n, r in enumerate(an.analyze_many((a["id"], a["text"]) for a in articles), 1):
        if r.error:
            raise ReportError(f"the model failed on article {r.id}: {r.error['message']}")
        preds.append(claim_dicts(r))
        advance(n)
    seconds = time.perf_counter() - t0
    steps.done_bar()
    timing = {"articles": len(articles), "tokens": n_tokens, "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
              "threads": torch.get_num_threads(),
              "load_average": [round(x, 2) for x in load] if load else None}
    return preds, timing, an


# -- stance ------------------------------------------------------------------------------------

def _stance_model_dir(opts: Options) -> Path:
    from claims.nlp.stance import DEFAULT_STANCE_DIR
    return Path(opts.stance_model) if opts.stance_model else DEFAULT_STANCE_DIR


def _attribution_model_dir(opts: Options) -> Path:
    from claims.nlp.extract import DEFAULT_MODEL_DIR
    return Path(opts.model) if opts.model else DEFAULT_MODEL_DIR


def seed_records(opts: Options, analyzer, steps: Steps) -> tuple[list[dict], dict[str, str], str]:
    """Stance of every gold claim of the seed gold files toward their disputes (the claims as the
    annotator marked them, so extraction errors do not enter), as records for
    ``collect.dispute_section``."""
    from claims.doc import Claim, Dispute, Span

    records, titles, sources = [], {}, []
    for path in opts.seed_gold:
        g = json.loads(Path(path).read_text(encoding="utf-8"))
        text = (Path(path).parent / g["document"]).read_text(encoding="utf-8")
        disputes = [Dispute(d["id"], d["title"], d["proposition"]) for d in g["disputes"]]
        titles.update({d.id: d.title for d in disputes})

        def spans(x) -> list[Span]:
            if not x:
                return []
            sp = x["span"]
            pairs = sp if sp and isinstance(sp[0], list) else [sp]
            return [Span.of(text, int(s), int(e)) for s, e in pairs]

        claims, accepts = [], []
        for c in g["claims"]:
            if not c.get("stance_accept"):
                continue
            cue, src = spans(c.get("cue")), spans(c.get("source"))
            claims.append(Claim(id=c["id"], content=spans(c["content"]), cue=cue[0] if cue else None,
                                source=src[0] if src else None))
            accepts.append(c["stance_accept"])
        steps.step(f"stance of the claims of {Path(path).name}")
        scored = analyzer.score_stance(text, claims, disputes)
        for c, acc in zip(scored, accepts):
            for d in disputes:
                if d.id in acc and d.id in c.stance:
                    records.append({"file": Path(path).name, "claim": c.id, "dispute": d.id,
                                    "accept": list(acc[d.id]), "pred": c.stance[d.id].label})
        sources.append(str(path))
    return records, titles, ", ".join(sources)


def stance_parts(opts: Options, steps: Steps) -> dict:
    """The stance section: dev data, model probabilities, baseline predictions, seed disputes."""
    from claims.nlp.extract import ModelError
    from ..stance import TfidfBaseline, load_dir, model_predictions

    folder, sets = Path(opts.stance), None
    if not folder.is_dir():
        return {"available": False, "missing": f"{opts.stance}: no such folder"}
    if any((folder / f).exists() for f in ("dev.jsonl", "dev.jsonl.gz")):
        folder, sets = folder.parent, [folder.name]     # the folder of one dataset
    steps.step("loading stance data")
    dev = {k: _sample(v, opts.stance_limit, opts.seed) for k, v in load_dir(folder, "dev", sets).items()}
    if not dev:
        return {"available": False, "missing": f"{opts.stance}: no <dataset>/dev.jsonl files"}
    probs, model_missing, info = None, "", {}
    stance_dir, attr_dir = _stance_model_dir(opts), _attribution_model_dir(opts)
    if opts.no_model:
        model_missing = "not run (--no-model)"
    elif not (stance_dir / "config.json").exists():
        model_missing = f"no stance model at {stance_dir} (set --stance-model or $CLAIMS_STANCE_MODEL)"
    elif not (attr_dir / "config.json").exists():
        model_missing = f"the stance model needs the attribution model, and there is none at {attr_dir}"
    else:
        total = sum(len(v) for v in dev.values())
        advance = steps.bar("stance model", total)
        done: dict[str, int] = {}

        def tick(name, n, _):
            done[name] = n
            advance(sum(done.values()))
        steps.step("stance model: marking roles and scoring pairs")
        try:
            probs, config = model_predictions(dev, str(stance_dir), str(attr_dir), progress=tick)
            info = {"path": str(stance_dir), "version": config.get("version"), "temperature": config.get("temperature")}
        except ModelError as e:
            probs, model_missing = None, str(e)
        steps.done_bar()
    base_preds, base_missing, n_train = None, "", 0
    if opts.no_baseline:
        base_missing = "not run (--no-baseline)"
    else:
        train = load_dir(folder, "train", sorted(dev))
        rows = [r for k in sorted(train) for r in train[k]]
        if not rows:
            base_missing = f"{opts.stance}: no <dataset>/train.jsonl to fit it on"
        else:
            steps.step(f"fitting the TF-IDF baseline on {len(rows):,} train pairs")
            base = TfidfBaseline(seed=opts.seed).fit([r["target"] for r in rows], [r["text"] for r in rows],
                                                     [r["label"] for r in rows])
            base_preds = {k: [str(x) for x in base.predict([r["target"] for r in v], [r["text"] for r in v])]
                          if v else [] for k, v in dev.items()}
            n_train = len(rows)
    steps.step("stance figures")
    sec = collect.stance_section(dev, probs, base_preds, model_missing=model_missing, baseline_missing=base_missing,
                                 model_info=info, top_targets=opts.top_targets, n_boot=opts.bootstrap, seed=opts.seed)
    sec["baseline"]["n_train"] = n_train
    return sec


# -- speakers on the speaker sets ---------------------------------------------------------------

def speaker_sets(articles: list[dict], predictions: list[list[dict]] | None, model_missing: str,
                 opts: Options) -> dict:
    """Strict and lenient speaker accuracy on the disputes dev set and the two hand-checked sets
    (``python -m eval.speakers --split dev``), restricted to the report's articles; end to end
    with the report's own predictions."""
    from .. import speakers as sp

    ids = {a["id"]: k for k, a in enumerate(articles)}
    sets = sp.load_sets("dev", Path(opts.disputes).parent.parent)
    records, missing = [], {}
    if not sets:
        missing["disputes dev"] = "no disputes dev set (set $CLAIMS_DATA to the shared data folder)"
    for s in sets:
        s.articles = [a for a in s.articles if a["id"] in ids]
        if not s.articles:
            missing[s.name] = "none of its articles is in the report's attribution data"
            continue
        preds = None
        if predictions is not None:
            preds = {a["id"]: predictions[ids[a["id"]]] for a in s.articles}
        else:
            missing[f"{s.name}/end_to_end"] = model_missing or "no predictions"
        records += sp.outcomes(s, preds)
    return collect.speaker_sets_section(records, missing=missing, n_boot=opts.bootstrap, seed=opts.seed)


# -- the whole report --------------------------------------------------------------------------

def build(opts: Options, progress=None) -> dict:
    """The report dictionary (the content of metrics.json)."""
    from ..attribution import load_speaker_set, speaker_outcomes
    from ..bench import run as bench_run

    steps = Steps(progress)
    t_start = time.perf_counter()
    attr_dir = _attribution_model_dir(opts)
    report: dict = {"meta": {
        "title": "claims evaluation report", "name": opts.name or Path(opts.out).name,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": opts.command, "git": _git_commit(), "seed": opts.seed, "bootstrap": opts.bootstrap,
        "attribution_data": str(opts.attribution), "stance_data": str(opts.stance),
        "limit": opts.limit, "stance_limit": opts.stance_limit,
        "models": {"attribution": {"path": None}, "stance": {"path": None}},
    }}

    # attribution
    steps.step("loading attribution gold")
    if not Path(opts.attribution).exists():
        raise ReportError(f"{opts.attribution}: no such file (set --attribution, or $CLAIMS_DATA)")
    articles = _read_jsonl(opts.attribution)
    if opts.limit:
        articles = articles[:opts.limit]
    if not articles or "attributions" not in articles[0]:
        raise ReportError(f"{opts.attribution}: expected PolNeAR JSONL articles with 'attributions'")
    predictions, timing, analyzer, model_missing = None, None, None, ""
    if opts.predictions:
        predictions = read_predictions(Path(opts.predictions), articles)
        report["meta"]["models"]["attribution"] = {"path": f"predictions from {opts.predictions}"}
        model_missing = ""
    elif opts.no_model:
        model_missing = "not run (--no-model)"
    elif not (attr_dir / "config.json").exists():
        model_missing = f"no attribution model at {attr_dir} (set --model or $CLAIMS_ATTRIBUTION_MODEL)"
    else:
        from claims.nlp.extract import ModelError
        steps.step("running the attribution model")
        try:
            predictions, timing, analyzer = run_attribution_model(articles, str(attr_dir), steps)
            report["meta"]["models"]["attribution"] = {"path": str(attr_dir), "version": analyzer.model.version,
                                                       "sha256": fingerprint(attr_dir)}
        except ModelError as e:
            model_missing = str(e)
    agreement = None
    if opts.agreement and Path(opts.agreement).exists():
        agreement = _read_jsonl(opts.agreement)
    steps.step("attribution figures")
    report["attribution"] = collect.attribution_section(
        articles, predictions, agreement=agreement, model_missing=model_missing, n_boot=opts.bootstrap,
        seed=opts.seed, top_cues=opts.top_cues, progress=lambda s: steps.step(f"attribution: {s}"))

    steps.step("speakers")
    outcomes = speaker_outcomes(articles, predictions, load_speaker_set())
    report["speakers"] = collect.speaker_section(outcomes, n_articles=len({o["article"] for o in outcomes}),
                                                 matched_missing=model_missing, n_boot=opts.bootstrap, seed=opts.seed)
    steps.step("speakers: disputes and hand-checked sets")
    report["speakers"]["sets"] = speaker_sets(articles, predictions, model_missing, opts)
    steps.step("error gallery")
    report["gallery"] = gallery.error_gallery(articles, predictions, n=opts.gallery_size, missing=model_missing)

    # stance
    report["stance"] = stance_parts(opts, steps)
    stance_dir = _stance_model_dir(opts)
    if (report["stance"].get("model") or {}).get("available"):
        report["meta"]["models"]["stance"] = {"path": str(stance_dir), "version": report["stance"]["model"].get("version"),
                                              "sha256": fingerprint(stance_dir)}
    if report["stance"].get("available"):
        if not opts.seed_gold:
            report["stance"]["disputes"] = collect.dispute_section(None, missing="no seed gold file given (--seed-gold)")
        elif not (report["stance"].get("model") or {}).get("available") or analyzer is None:
            why = ((report["stance"].get("model") or {}).get("missing") or model_missing
                   or "the attribution model was not run (predictions were read from a file)")
            report["stance"]["disputes"] = collect.dispute_section(None, missing=f"needs both models: {why}")
        else:
            analyzer.use_stance_model(stance_dir)
            records, titles, source = seed_records(opts, analyzer, steps)
            report["stance"]["disputes"] = collect.dispute_section(records, titles, source=source,
                                                                   n_boot=opts.bootstrap, seed=opts.seed)

    report["stance"]["disputes_set"] = disputes_set_section(opts, steps)

    # runtime
    bench = None
    if opts.bench_json:
        bench = json.loads(Path(opts.bench_json).read_text())
    elif opts.bench and analyzer is not None:
        steps.step("benchmark (python -m eval.bench)")
        import argparse
        bench = bench_run(argparse.Namespace(input=str(opts.attribution), limit=opts.limit, batch_size=8, threads=0,
                                             disputes=20, model=str(attr_dir)))
    report["runtime"] = collect.runtime_section(
        timing, bench, missing=model_missing or ("predictions were read from a file; no model ran" if opts.predictions
                                                 else "no model was run"))

    if opts.compare:
        steps.step("comparing")
        try:
            old = json.loads(Path(opts.compare).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ReportError(f"{opts.compare}: not a readable metrics.json ({e})") from None
        # compare what will be written, not the in-memory objects
        report = json.loads(json.dumps(report, default=_json_default))
        report["compare"] = compare(report, old, str(opts.compare))
    report["meta"]["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    report["meta"]["step_seconds"] = steps.finish()
    return report


def disputes_set_section(opts: Options, steps: Steps) -> dict:
    """Stance toward the disputes of the in-domain disputes set (``eval.disputes``): end to end and
    on gold attributions, custom and catalog disputes."""
    path = Path(opts.disputes)
    if not path.exists():
        return {"available": False, "missing": f"{path}: not found (the disputes set; set $CLAIMS_DATA)"}
    if opts.no_model or opts.predictions:
        return {"available": False, "missing": "needs both models to run (not with --no-model or --predictions)"}
    stance_dir, attr_dir = _stance_model_dir(opts), _attribution_model_dir(opts)
    if not (stance_dir / "config.json").exists() or not (attr_dir / "config.json").exists():
        return {"available": False, "missing": f"needs both models ({stance_dir}, {attr_dir})"}
    from ..disputes import report as disputes_report, run as run_disputes
    steps.step("disputes set (eval.disputes)")
    articles = _read_jsonl(path)
    if opts.limit:
        articles = articles[:opts.limit]
    rep = disputes_report(run_disputes(articles, str(stance_dir), str(attr_dir), progress=False), None, opts.bootstrap)
    return {"available": True, "source": str(path), "n_articles": len(articles),
            **{k: rep[k] for k in ("model", "e2e", "gold", "spurious_sides_on_unmatched_claims") if k in rep}}


def disputes_set_rows(d: dict) -> list[list[str]]:
    """Table rows (setting, disputes, sided P, R, F1 [95%], related F1) of the disputes-set section."""
    rows = []
    for key, label in (("e2e", "end to end"), ("gold", "gold attributions")):
        for part in ("custom", "catalog"):
            e = ((d.get(key) or {}).get("strict") or {}).get(part)
            if not e:
                continue
            ci = e["sided"].get("f1_ci")
            rows.append([label, part, f"{e['sided']['p']:.1f}", f"{e['sided']['r']:.1f}",
                         f"{e['sided']['f1']:.1f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""),
                         f"{e['related']['f1']:.1f}"])
    return rows


DISPUTES_SET_HEAD = ["setting", "disputes", "sided P", "sided R", "sided F1", "related F1"]


def write(report: dict, out: Path) -> dict[str, Path]:
    """Write the three files; returns their paths."""
    from .render_html import render_html
    from .render_md import render_md

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "metrics.json"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False, default=_json_default) + "\n",
                             encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["md"].write_text(render_md(report), encoding="utf-8")
    return paths


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
