"""The attribution model against annotated articles: gold attributions as ``Claim`` objects, the
model's claims as the metric dicts of ``scoring.metrics``, and the model run and scored on a list
of articles (PolNeAR's format: ``{"id", "text", "attributions"}``)."""

from __future__ import annotations

import sys
import time

import corpora
from claims.doc import Claim, Span
from claims.nlp.segment import Segmented, segment

from .metrics import ROLES, DocScores, score_document


def gold_claim(text: str, a: dict) -> Claim:
    """A gold attribution as a ``Claim``: one span per role (first start to last end), content as given."""
    def one(spans):
        if not spans:
            return None
        return Span.of(text, min(s for s, _ in spans), max(e for _, e in spans))
    return Claim(a.get("id", ""), [Span.of(text, s, e) for s, e in a.get("content") or []],
                 one(a.get("cue")), one(a.get("source")))


def gold_claim_objects(article: dict) -> list[Claim]:
    """The article's gold attributions as ``Claim`` objects."""
    return [gold_claim(article["text"], a) for a in article["attributions"]]


def gold_ranges(seg: Segmented, attributions: list[dict]) -> dict[str, set[tuple[int, int]]]:
    """Per role, the word ranges (``Segmented.word_range``) of the gold attributions' spans."""
    out: dict[str, set[tuple[int, int]]] = {r: set() for r in ROLES}
    for a in attributions:
        for r in ROLES:
            for s, e in a.get(r) or []:
                rng = seg.word_range(s, e)
                if rng is not None:
                    out[r].add(rng)
    return out


def claim_dicts(result) -> list[dict]:
    """An ArticleResult's claims as metric dicts of (start, end) lists."""
    return [{"source": [(c.source.start, c.source.end)] if c.source else [],
             "cue": [(c.cue.start, c.cue.end)] if c.cue else [],
             "content": [(s.start, s.end) for s in c.content],
             "speaker": c.speaker.name if c.speaker else None,
             "form": c.form,
             "confidence": c.confidence} for c in result.claims]


def run_model(articles: list[dict], model_dir: str | None = None, progress: bool = True, **kw) -> list:
    from claims.analyzer import Analyzer

    an = Analyzer(model=model_dir, stance_model=False, **kw)
    out = []
    t0 = time.time()
    for n, r in enumerate(an.analyze_many((a["id"], a["text"]) for a in articles), 1):
        out.append(r)
        if progress and n % 20 == 0:
            print(f"  {n}/{len(articles)} articles ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def score_model(articles: list[dict], results: list) -> list[DocScores]:
    return [score_document(segment(a["text"]), claim_dicts(r), corpora.gold_claims(a["attributions"]))
            for a, r in zip(articles, results)]
