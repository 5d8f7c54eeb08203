"""Speaker accuracy: is the resolved speaker of a claim the one the article means?

    python -m eval.speakers --split dev                       # three dev sets, end to end and on gold sources
    python -m eval.speakers --split dev --errors 20           # and the first 20 errors of each set
    python -m eval.speakers --split train --gold-only         # disputes train set, resolver alone (for rules)
    python -m eval.speakers --split dev --errors-file errs.jsonl --json speakers.json

Sets: the disputes set (``../shared/data/disputes/{split}.jsonl``: a gold ``speaker`` for every
attribution) and, on dev, the two hand-checked sets of ``eval/data/`` (PolNeAR dev articles).

Two settings:
- **end to end**: the attribution model's claims, matched to gold attributions by the rule of
  ``eval/attribution.py`` (``match_claims``); a matched claim's speaker is compared with the gold.
- **gold sources**: the resolver alone, given the gold source spans of every attribution of the
  article, in text order.

A speaker is right **strictly** when its normalised name (case, determiner, possessive) equals an
accepted name, **leniently** also when the names agree up to a surname ("Trump" for "Donald
Trump"), a middle name, a title, or an alias of the alias table. Accuracy counts attributions
with a gold speaker; those with an empty source (gold speaker null) form their own row, right
when no speaker is given.

The model's claims are cached in ``runs/speakers-cache/`` (keyed by the model's files) as their
spans only: speakers are resolved anew on every run, through the same ``resolve_sources`` call
as ``claims.nlp.extract``, so a change to the resolver is measured without rerunning the model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import corpora
from claims.doc import Span
from claims.nlp.resolve import default_aliases, lexicon, normalize, resolve_sources
from claims.nlp.segment import segment

from .attribution import SPEAKERS_EXTRA_FILE, SPEAKERS_FILE
from scoring.metrics import match_claims

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "speakers-cache"
KINDS = ("name", "pronoun", "relative pronoun", "description", "metonymy", "document", "empty source")
_TITLES = {"mr", "mrs", "ms", "dr", "sen", "rep", "gov", "gen", "president", "senator", "secretary",
           "governor", "judge", "justice", "speaker", "sir", "lord", "prof", "rev", "the"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}


# -- name comparison -----------------------------------------------------------------------------

def _words(name: str) -> list[str]:
    key = re.sub(r"'s\b|s'(?=\s|$)", lambda m: "" if m.group(0) == "'s" else "s", normalize(name).replace(".", ""))
    words = [w for w in re.split(r"[\s,]+", key) if w]
    while len(words) > 1 and words[0] in _TITLES:
        words = words[1:]
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words = words[:-1]
    return words


def _canonical(name: str) -> str:
    hit = default_aliases().get(name)
    return normalize(hit[0]) if hit else normalize(name)


def strict_match(pred: str | None, accept: list[str]) -> bool:
    return pred is not None and normalize(pred) in {normalize(a) for a in accept}


_PERCENT = re.compile(r"\s*\b(?:per ?cent|percent)\b")
_LIST_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*")


def _members(name: str) -> list[str]:
    """The members of a coordinated name ("A, B and C"), or the name itself."""
    return [p for p in _LIST_SPLIT.split(name) if p.strip()]


def lenient_match(pred: str | None, accept: list[str]) -> bool:
    """Same name up to case, a title, a middle name, an alias, or a surname given alone; "%"
    for "percent"; the members of a coordination in any order ("B and A" for "A and B"); a
    country for its government ("United States" for "United States government")."""
    if pred is None:
        return False
    if strict_match(pred, accept):
        return True
    if _single_lenient(pred, accept):
        return True
    pm = _members(pred)
    for a in accept:
        am = _members(a)
        if len(pm) > 1 and len(pm) == len(am) and all(any(_single_lenient(x, [y]) for y in am) for x in pm) \
                and all(any(_single_lenient(x, [y]) for x in pm) for y in am):
            return True
    return False


def _single_lenient(pred: str, accept: list[str]) -> bool:
    pred = _PERCENT.sub("%", pred)
    accept = [_PERCENT.sub("%", a) for a in accept]
    if strict_match(pred, accept):
        return True
    pw = _words(pred)
    if not pw:
        return False
    for a in accept:
        aw = _words(a)
        if not aw:
            continue
        if pw == aw or _canonical(pred) == _canonical(a):
            return True
        for x, y in ((pw, aw), (aw, pw)):
            if x[-1:] == ["government"] and len(x) > 1 and x[:-1] == y and " ".join(y) in lexicon()["countries"]:
                return True  # "United States government" for "United States"
        short, long_ = (pw, aw) if len(pw) <= len(aw) else (aw, pw)
        if short == long_[-len(short):]:
            return True  # "Trump" for "Donald Trump", "New York Post" for "The New York Post"
        if len(short) >= 2 and short[0] == long_[0] and short[-1] == long_[-1]:
            return True  # "John Kerry" for "John F. Kerry"
    return False


# -- mention kinds -------------------------------------------------------------------------------

_PRONOUNS = {"he", "him", "his", "she", "her", "they", "them", "their", "it", "its", "i", "me", "my", "we",
             "us", "our", "you", "your", "someone", "somebody", "anyone", "everyone", "nobody", "one",
             "himself", "herself", "themselves", "itself", "no one", "this", "that", "these", "those",
             "some", "others", "many", "both", "all", "each", "none", "few", "most"}
_RELATIVE = {"who", "which", "that", "whom", "whose"}
_HEAD_CUT = re.compile(r"\s*(,|\(|—|–|--|;|:|\bwho\b|\bwhich\b|\bwhose\b)")


def mention_kind(source_text: str | None, speaker_type: str | None) -> str:
    """Kind of a gold source mention: empty source, relative pronoun, pronoun, document,
    metonymy (a place or building standing for its occupant), name or description."""
    if not source_text or not source_text.strip():
        return "empty source"
    text = source_text.strip()
    key = normalize(text)
    if key in _RELATIVE:
        return "relative pronoun"
    if key in _PRONOUNS:
        return "pronoun"
    if speaker_type == "document":
        return "document"
    m = _HEAD_CUT.search(text)
    head = text[:m.start()] if m and m.start() > 0 else text
    hit = default_aliases().get(head)
    if hit and normalize(hit[0]) != normalize(head) and hit[1] == "government":
        return "metonymy"
    words = [w for w in re.findall(r"[\w'’.-]+", head) if w[:1].isalpha()]
    lex = lexicon()
    common = lex["determiners"] | lex["not_names"] | _PRONOUNS | {"at", "least", "one", "top", "some", "many"}

    def capital(n: int, w: str) -> bool:
        if not w[:1].isupper() or w.lower().rstrip(".") in lex["person_titles"]:
            return False
        # a capital that only opens the sentence ("One of the candidates") names nothing
        return not (n == 0 and re.sub(r"['’]s$", "", w.lower()) in common)

    if any(capital(n, w) for n, w in enumerate(words)):
        return "name"
    return "description"


# -- sets ----------------------------------------------------------------------------------------

@dataclass
class GoldSpeaker:
    article: str
    attribution: str
    source: tuple[int, int] | None
    source_text: str
    accept: list[str]           # empty: no speaker (empty source)
    type: str | None
    kind: str


@dataclass
class SpeakerSet:
    name: str
    articles: list[dict]                                    # with their full gold attributions
    gold: dict[tuple[str, str], GoldSpeaker] = field(default_factory=dict)


def disputes_set(split: str, root=None) -> SpeakerSet:
    path = corpora.data_dir(root) / "disputes" / f"{split}.jsonl"
    articles = corpora.dataset(path).to_list()
    s = SpeakerSet(f"disputes {split}", articles)
    for a in articles:
        for x in a["attributions"]:
            src = tuple(x["source"][0]) if x["source"] else None
            text = a["text"][src[0]:src[1]] if src else ""
            s.gold[(a["id"], x["id"])] = GoldSpeaker(
                a["id"], x["id"], src, text, [x["speaker"]] if x["speaker"] else [], x.get("speaker_type"),
                mention_kind(text, x.get("speaker_type")))
    return s


def hand_set(name: str, path: Path, polnear_dev: dict[str, dict]) -> SpeakerSet:
    rows = list(corpora.read_jsonl(path))
    ids = list(dict.fromkeys(r["article"] for r in rows))
    s = SpeakerSet(name, [polnear_dev[i] for i in ids if i in polnear_dev])
    for r in rows:
        a = polnear_dev.get(r["article"])
        if a is None:
            continue
        src = tuple(r["source"])
        text = a["text"][src[0]:src[1]]
        s.gold[(r["article"], r["attribution"])] = GoldSpeaker(
            r["article"], r["attribution"], src, text, list(r["accept"]), r.get("type"),
            mention_kind(text, r.get("type")))
    return s


# -- predictions ---------------------------------------------------------------------------------

def _model_key(model_dir: str | None) -> str:
    from claims.nlp.extract import DEFAULT_MODEL_DIR
    d = Path(model_dir) if model_dir else Path(DEFAULT_MODEL_DIR)
    h = hashlib.sha1(str(d.resolve()).encode())
    for f in sorted(d.glob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def model_claims(articles: list[dict], model_dir: str | None = None, cache: bool = True,
                 progress: bool = True) -> dict[str, list[dict]]:
    """Article id -> the model's claims as ``{"source", "cue", "content"}`` span lists, in the
    order the analyzer resolves their sources. Cached per model."""
    path = CACHE / f"{_model_key(model_dir)}.jsonl"
    have: dict[str, list[dict]] = {}
    if cache and path.exists():
        for d in corpora.read_jsonl(path):
            have[d["id"]] = d["claims"]
    todo = [a for a in articles if a["id"] not in have]
    if todo:
        from .attribution import run_model
        t0 = time.time()
        results = run_model(todo, model_dir, progress=progress)
        if progress:
            print(f"  model on {len(todo)} articles in {time.time() - t0:.0f}s", file=sys.stderr)
        new = {}
        for a, r in zip(todo, results):
            new[a["id"]] = [{"source": [[c.source.start, c.source.end]] if c.source else [],
                             "cue": [[c.cue.start, c.cue.end]] if c.cue else [],
                             "content": [[s.start, s.end] for s in c.content],
                             "speaker": c.speaker.name if c.speaker else None} for c in r.claims]
        have.update(new)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as f:
                for i, cl in new.items():
                    f.write(json.dumps({"id": i, "claims": cl}) + "\n")
    return {a["id"]: have[a["id"]] for a in articles}


# -- scoring -------------------------------------------------------------------------------------

def outcomes(sset: SpeakerSet, predictions: dict[str, list[dict]] | None, resolve=resolve_sources) -> list[dict]:
    """One record per gold attribution and setting (``end to end`` for matched claims, ``gold
    sources`` for every attribution): article, attribution, kind, source text, gold, predicted
    speaker, strict and lenient."""
    out = []

    def record(g: GoldSpeaker, setting: str, pred: str | None) -> dict:
        if g.accept:
            strict, lenient = strict_match(pred, g.accept), lenient_match(pred, g.accept)
        else:
            strict = lenient = pred is None
        return {"set": sset.name, "setting": setting, "article": g.article, "attribution": g.attribution,
                "kind": g.kind, "source": g.source_text, "gold": g.accept[0] if g.accept else None,
                "pred": pred, "strict": strict, "lenient": lenient}

    for a in sset.articles:
        golds = {att: g for (aid, att), g in sset.gold.items() if aid == a["id"]}
        if not golds:
            continue
        seg = segment(a["text"])
        if predictions is not None:
            pred = predictions[a["id"]]
            spans = [Span.of(a["text"], *c["source"][0]) if c["source"] else None for c in pred]
            speakers = resolve(seg, spans)
            gold_claims = corpora.gold_claims(a["attributions"])
            for i, j in match_claims(pred, gold_claims):
                g = golds.get(gold_claims[j]["id"])
                if g is not None:
                    sp = speakers[i]
                    out.append(record(g, "end to end", sp.name if sp else None))
        atts = sorted((x for x in a["attributions"] if x["source"]), key=lambda x: x["source"][0][0])
        speakers = resolve(seg, [Span.of(a["text"], *x["source"][0]) for x in atts])
        for x, sp in zip(atts, speakers):
            g = golds.get(x["id"])
            if g is not None:
                out.append(record(g, "gold sources", sp.name if sp else None))
        for x in a["attributions"]:
            g = golds.get(x["id"])
            if g is not None and not x["source"]:
                out.append(record(g, "gold sources", None))
    return out


def summarize(records: list[dict]) -> dict:
    """Per setting: strict and lenient accuracy over attributions with a gold speaker, and per kind."""
    out = {}
    for setting in ("end to end", "gold sources"):
        rs = [r for r in records if r["setting"] == setting]
        named = [r for r in rs if r["kind"] != "empty source"]
        s = {"n": len(named),
             "strict": 100 * sum(r["strict"] for r in named) / len(named) if named else None,
             "lenient": 100 * sum(r["lenient"] for r in named) / len(named) if named else None,
             "kinds": {}}
        for k in KINDS:
            ks = [r for r in rs if r["kind"] == k]
            if ks:
                s["kinds"][k] = {"n": len(ks), "strict": 100 * sum(r["strict"] for r in ks) / len(ks),
                                 "lenient": 100 * sum(r["lenient"] for r in ks) / len(ks)}
        out[setting] = s
    return out


def print_summary(name: str, s: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"speakers: {name} (% right; strict / lenient)")
    t.add_column("setting")
    t.add_column("all", justify="right")
    for k in KINDS:
        t.add_column(k, justify="right")
    for setting, v in s.items():
        if not v["n"]:
            continue
        cells = [f"{v['strict']:.1f} / {v['lenient']:.1f} of {v['n']}"]
        for k in KINDS:
            kv = v["kinds"].get(k)
            cells.append(f"{kv['strict']:.0f} / {kv['lenient']:.0f} of {kv['n']}" if kv else "–")
        t.add_row(setting, *cells)
    Console(width=200).print(t)


def load_sets(split: str, root=None) -> list[SpeakerSet]:
    sets = []
    if (corpora.data_dir(root) / "disputes" / f"{split}.jsonl").exists():
        sets.append(disputes_set(split, root))
    if split == "dev" and corpora.polnear_path("dev", root).exists():
        dev = {a["id"]: a for a in corpora.polnear("dev", root)}
        for name, path in (("hand-checked main", SPEAKERS_FILE), ("hand-checked extra", SPEAKERS_EXTRA_FILE)):
            if path.exists():
                sets.append(hand_set(name, path, dev))
    return sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Speaker accuracy, end to end and on gold sources.")
    ap.add_argument("--split", default="dev", choices=["dev", "train"])
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--gold-only", action="store_true", help="the resolver on gold sources only (no model)")
    ap.add_argument("--no-cache", action="store_true", help="run the model even if its claims are cached")
    ap.add_argument("--limit", type=int, default=0, help="only the first N articles of each set")
    ap.add_argument("--errors", type=int, default=0, help="print the first N errors (lenient) of each set")
    ap.add_argument("--errors-file", default=None, help="write every lenient error as JSONL")
    ap.add_argument("--setting", default="gold sources", choices=["gold sources", "end to end"],
                    help="the setting whose errors are printed")
    ap.add_argument("--json", default=None, help="also write all figures to this file")
    args = ap.parse_args(argv)

    sets = load_sets(args.split, args.data)
    if not sets:
        print("error: no speaker set found; set --data or $CLAIMS_DATA to the shared data folder", file=sys.stderr)
        return 2
    if args.limit:
        for s in sets:
            s.articles = s.articles[:args.limit]
    preds = None
    if not args.gold_only:
        articles = list({a["id"]: a for s in sets for a in s.articles}.values())
        preds = model_claims(articles, args.model, cache=not args.no_cache)
    figures, errors = {}, []
    for s in sets:
        recs = outcomes(s, preds)
        figures[s.name] = summarize(recs)
        print_summary(s.name, figures[s.name])
        errs = [r for r in recs if not r["lenient"]]
        errors += errs
        if args.errors:
            for r in [r for r in errs if r["setting"] == args.setting][:args.errors]:
                print(f"  {r['article']} {r['attribution']} [{r['kind']}] {r['source']!r}: "
                      f"gold {r['gold']!r}, got {r['pred']!r}")
    if args.errors_file:
        Path(args.errors_file).write_text("".join(json.dumps(r) + "\n" for r in errors))
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "sets": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
