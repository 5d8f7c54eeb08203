"""The analyzer as a spaCy pipeline component (optional extra: ``pip install 'claims[spacy]'``).

    import spacy
    import claims.spacy_component            # registers the "claims" factory (installed: automatic)

    nlp = spacy.blank("en")
    nlp.add_pipe("claims", config={"disputes": "seeds/disputes.toml"})
    doc = nlp(text)
    for c in doc._.claims:
        print(c.speaker.name if c.speaker else None, c.cue, [s.text for s in c.content], c.stances)

``doc._.claims`` is a list of ``DocClaim``: the claim's source, cue and content as spaCy ``Span``s
(labels ``SOURCE``, ``CUE``, ``CONTENT``), its speaker, and its stance on each dispute; the same
spans are in ``doc.spans["claims"]``. The analyzer works on the document's text; its character
offsets become token spans with ``doc.char_span(..., alignment_mode="expand")``, so a span covers
every token it touches, whatever tokenizer the pipeline has. A text the analyzer refuses (empty,
too long) gets no claims and its reason in ``doc._.claims_error``.

Config: ``model`` and ``stance_model`` (directories; default: the shipped models), ``disputes``
(a disputes TOML file; default: none, so claims without stances), ``min_confidence``,
``batch_size`` (articles per analyzer batch in ``nlp.pipe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

try:
    from spacy.language import Language
    from spacy.tokens import Doc, Span
except ImportError as e:  # pragma: no cover - depends on the extra
    raise ImportError("the spaCy component needs spaCy: pip install 'claims[spacy]'") from e

from .doc import ArticleResult, Claim, Speaker, Stance

LABELS = {"source": "SOURCE", "cue": "CUE", "content": "CONTENT"}


@dataclass
class DocClaim:
    """One claim of a spaCy ``Doc``: spans of the doc, the speaker, stances by dispute id."""
    id: str
    source: Optional[Span]
    cue: Optional[Span]
    content: list[Span]
    speaker: Optional[Speaker]
    speaker_mention: Optional[Span]
    form: str
    confidence: float
    stance: dict[str, Stance] = field(default_factory=dict)
    claim: Optional[Claim] = None       # the analyzer's claim, with character offsets

    @property
    def stances(self) -> dict[str, str]:
        """Dispute id -> stance label (``favor``, ``against``, ``neutral``, ``unrelated``)."""
        return {k: s.label for k, s in self.stance.items()}

    @property
    def span(self) -> Optional[Span]:
        """The whole claim: from its first to its last token."""
        parts = [s for s in (self.source, self.cue, *self.content) if s is not None]
        if not parts:
            return None
        doc = parts[0].doc
        return doc[min(s.start for s in parts):max(s.end for s in parts)]


def _span(doc: Doc, s, label: str) -> Optional[Span]:
    if s is None:
        return None
    return doc.char_span(s.start, s.end, label=label, alignment_mode="expand")


def doc_claims(doc: Doc, result: ArticleResult) -> list[DocClaim]:
    """The analyzer's claims of ``doc.text`` as ``DocClaim``s over ``doc``'s tokens."""
    out = []
    for c in result.claims:
        content = [x for x in (_span(doc, s, LABELS["content"]) for s in c.content) if x is not None]
        mention = c.speaker.mention if c.speaker else None
        out.append(DocClaim(
            id=c.id, source=_span(doc, c.source, LABELS["source"]), cue=_span(doc, c.cue, LABELS["cue"]),
            content=content, speaker=c.speaker, speaker_mention=_span(doc, mention, "SPEAKER"),
            form=c.form, confidence=c.confidence, stance=dict(c.stance), claim=c))
    return out


class ClaimsComponent:
    """Sets ``doc._.claims`` (and ``doc.spans["claims"]``, ``doc._.claims_error``)."""

    def __init__(self, nlp: Language, name: str = "claims", model: Optional[str] = None,
                 stance_model: Optional[str] = None, disputes: Optional[str] = None,
                 min_confidence: float = 0.0, batch_size: int = 8, analyzer=None):
        from . import disputes as disputes_mod
        self.name = name
        self.batch_size = batch_size
        self.disputes = disputes_mod.load(disputes) if disputes else []
        if analyzer is None:
            from .analyzer import Analyzer
            analyzer = Analyzer(model=model, stance_model=False if not self.disputes else stance_model,
                                disputes=self.disputes, min_confidence=min_confidence)
        self.analyzer = analyzer
        for ext in ("claims", "claims_error"):
            if not Doc.has_extension(ext):
                Doc.set_extension(ext, default=None)

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: Optional[int] = None) -> Iterator[Doc]:
        import itertools
        size = batch_size or self.batch_size
        it = iter(docs)
        while True:
            chunk = list(itertools.islice(it, size))
            if not chunk:
                return
            results = self.analyzer.analyze_many(((str(i), d.text) for i, d in enumerate(chunk)),
                                                 disputes=self.disputes, batch_size=size)
            for doc, result in zip(chunk, results):
                yield self._set(doc, result)

    def _set(self, doc: Doc, result: ArticleResult) -> Doc:
        doc._.claims_error = result.error
        doc._.claims = [] if result.error else doc_claims(doc, result)
        doc.spans["claims"] = [s for c in doc._.claims for s in (c.source, c.cue, *c.content) if s is not None]
        return doc


@Language.factory("claims", default_config={"model": None, "stance_model": None, "disputes": None,
                                            "min_confidence": 0.0, "batch_size": 8})
def make_claims(nlp: Language, name: str, model: Optional[str], stance_model: Optional[str],
                disputes: Optional[str], min_confidence: float, batch_size: int) -> ClaimsComponent:
    return ClaimsComponent(nlp, name, model=model, stance_model=stance_model, disputes=disputes,
                           min_confidence=min_confidence, batch_size=batch_size)
