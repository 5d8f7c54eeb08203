"""The article text cut at every span boundary, so the page can colour source, cue and content.

Each piece knows its character start (the page maps a text selection back to offsets with it),
the roles that cover it and the claims it belongs to. Rejected claims keep their claim ids (so
selecting one still shows where it was) but add no colour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Piece:
    start: int
    text: str
    roles: tuple[str, ...]
    claims: tuple[str, ...]

    @property
    def css(self) -> str:
        return " ".join(f"r-{r}" for r in self.roles)


ROLE_ORDER = ("source", "cue", "content")


def pieces(text: str, claims: list[dict]) -> list[Piece]:
    """Pieces covering the whole text in order; claims are result-schema dicts with ``review``."""
    marks: list[tuple[int, int, str, str, bool]] = []  # start, end, role, claim id, counts for colour
    for cl in claims:
        live = cl.get("review", {}).get("status") != "rejected"
        for role in ("source", "cue"):
            if cl.get(role):
                marks.append((cl[role]["start"], cl[role]["end"], role, cl["id"], live))
        for s in cl["content"]:
            marks.append((s["start"], s["end"], "content", cl["id"], live))
    cuts = {0, len(text)}
    for s, e, *_ in marks:
        cuts.update((max(0, min(s, len(text))), max(0, min(e, len(text)))))
    bounds = sorted(cuts)
    out = []
    # sweep: marks sorted by start; active set recomputed per piece (60 claims × few spans: tiny)
    marks.sort()
    for a, b in zip(bounds, bounds[1:]):
        if a == b:
            continue
        roles, ids = set(), []
        for s, e, role, cid, live in marks:
            if s >= b:
                break
            if e > a:
                if live:
                    roles.add(role)
                if cid not in ids:
                    ids.append(cid)
        out.append(Piece(a, text[a:b], tuple(r for r in ROLE_ORDER if r in roles), tuple(ids)))
    return out
