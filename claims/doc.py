"""Plain data passed between the stages, serialisable to the result JSON (docs/DESIGN.md 3.2).

Every span carries character offsets into the original article text, end-exclusive, with
``text == article[start:end]``. Stages add objects; none rewrites the article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .labels import STANCE_LABELS

SCHEMA_VERSION = 1

FORMS = ("direct", "indirect", "mixed")
SPEAKER_TYPES = ("person", "organization", "government", "group", "media", "document", "other", "unknown")


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    text: str

    @classmethod
    def of(cls, article: str, start: int, end: int) -> "Span":
        return cls(start, end, article[start:end])

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text}

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> Optional["Span"]:
        return None if d is None else cls(int(d["start"]), int(d["end"]), d["text"])

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class Speaker:
    name: str
    type: str = "unknown"
    mention: Optional[Span] = None

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type,
                "mention": self.mention.to_dict() if self.mention else None}

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> Optional["Speaker"]:
        if d is None:
            return None
        return cls(d["name"], d.get("type", "unknown"), Span.from_dict(d.get("mention")))


@dataclass
class Stance:
    label: str
    scores: dict[str, float]

    def to_dict(self) -> dict:
        return {"label": self.label, "scores": {k: round(float(self.scores[k]), 4) for k in STANCE_LABELS}}

    @classmethod
    def from_dict(cls, d: dict) -> "Stance":
        return cls(d["label"], dict(d["scores"]))


@dataclass
class Claim:
    id: str
    content: list[Span]
    cue: Optional[Span] = None
    source: Optional[Span] = None
    speaker: Optional[Speaker] = None
    form: str = "indirect"
    confidence: float = 0.0
    stance: dict[str, Stance] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return min(s.start for s in self.spans())

    @property
    def end(self) -> int:
        return max(s.end for s in self.spans())

    def spans(self) -> list[Span]:
        return [s for s in (self.source, self.cue, *self.content) if s is not None]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "content": [s.to_dict() for s in self.content],
            "cue": self.cue.to_dict() if self.cue else None,
            "source": self.source.to_dict() if self.source else None,
            "speaker": self.speaker.to_dict() if self.speaker else None,
            "form": self.form,
            "confidence": round(float(self.confidence), 4),
            "stance": {k: v.to_dict() for k, v in self.stance.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Claim":
        return cls(
            id=d["id"],
            content=[Span.from_dict(s) for s in d["content"]],
            cue=Span.from_dict(d.get("cue")),
            source=Span.from_dict(d.get("source")),
            speaker=Speaker.from_dict(d.get("speaker")),
            form=d.get("form", "indirect"),
            confidence=float(d.get("confidence", 0.0)),
            stance={k: Stance.from_dict(v) for k, v in (d.get("stance") or {}).items()},
        )


@dataclass
class Dispute:
    id: str
    title: str
    proposition: str
    description: str = ""
    aliases: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "proposition": self.proposition}


@dataclass
class ArticleResult:
    id: str
    text: str
    claims: list[Claim] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    model: dict = field(default_factory=dict)
    error: Optional[dict] = None
    extra: dict = field(default_factory=dict)

    def to_dict(self, include_text: bool = False) -> dict:
        d = {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "model": dict(self.model),
            "disputes": [x.to_dict() for x in self.disputes],
            "claims": [c.to_dict() for c in self.claims],
            "error": self.error,
        }
        if include_text:
            d["text"] = self.text
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def failed(cls, id: str, error_type: str, message: str, extra: Optional[dict] = None) -> "ArticleResult":
        return cls(id=id, text="", error={"type": error_type, "message": message}, extra=extra or {})

    @classmethod
    def from_dict(cls, d: dict, text: str = "") -> "ArticleResult":
        known = {"schema_version", "id", "model", "disputes", "claims", "error", "text"}
        return cls(
            id=d["id"],
            text=d.get("text", text),
            claims=[Claim.from_dict(c) for c in d.get("claims", [])],
            disputes=[Dispute(x["id"], x["title"], x["proposition"]) for x in d.get("disputes", [])],
            model=d.get("model", {}),
            error=d.get("error"),
            extra={k: v for k, v in d.items() if k not in known},
        )
