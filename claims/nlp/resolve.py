"""Resolve a claim's source mention to a speaker: a canonical name, a type and the named mention.

Rule-based and article-local, in the spirit of deterministic coreference sieves:

1. The article's **entity inventory** (``claims.nlp.inventory``): its names clustered into typed
   entities with their mentions, titles, genders and descriptions.
2. A source is cut to its **head** (before an appositive, parenthesis or relative clause:
   "Michael McFaul, a senior fellow at ..." is Michael McFaul).
3. A **name** resolves to the fullest name the article gives ("Kerry" -> "John Kerry"); names joined
   by "and" give a group ("Jon Tester and David Vitter"); a name owning a noun ("Clinton's campaign")
   gives "Hillary Clinton campaign".
4. A **metonym** or alias ("Moscow", "the Kremlin") resolves through the editable alias table.
5. A **pronoun** resolves to the most salient compatible antecedent before it: recent sentences first,
   previous claims' speakers preferred (speakers keep talking), persons of a matching gender for
   he/she, non-persons for "it", groups and organisations for "they"; "who" takes the noun phrase
   just before it.
6. A **definite description** resolves to what the article described that way ("the secretary of
   state", "the Indiana governor"), or to an earlier speaker or name with the same head noun ("the
   campaign", "the commission"); otherwise it is its own speaker, typed by its head noun.

Limits: no world knowledge beyond the lexicons and alias table, so an entity the article never
names stays a description; gender comes from titles, first names and the lexicon only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

from ..doc import Span, Speaker
from .inventory import (  # noqa: F401  (re-exported: callers import these from here)
    AliasTable, Entity, Inventory, Mention, default_aliases, lexicon, normalize)
from .segment import CASE_LOWER, CASE_NONE, QUOTE_OUT, Segmented


@dataclass
class SourceMention:
    """A claim's source as the sieve stages see it: its span, the word range of its head and of
    the whole span, the head's text and key, and the earlier claims' speakers."""

    span: Span
    first: int                       # first word of the head (after leading prepositions)
    last: int                        # last word of the head (before an appositive or clause)
    span_last: int                   # last word of the whole span
    text: str
    key: str
    history: list[tuple[int, Speaker]]


_HEAD_BREAKS = {",", "(", "--", "—", "–", "who", "which", "whose", "whom", ";", ":"}
_PREPOSITIONS = {"of", "on", "in", "at", "for", "from", "with", "by", "about", "to", "over", "after",
                 "during", "under", "ranging", "including", "such", "conducted", "published", "being"}
_GENERIC_ROLES = {"nominee", "candidate", "businessman", "businesswoman", "billionaire", "mogul", "tycoon",
                  "front-runner", "frontrunner", "challenger", "incumbent", "contender", "developer"}
_QUANTIFIERS = {"dozens", "hundreds", "thousands", "millions", "some", "many", "most", "one", "two", "group",
                "number", "majority", "couple", "few", "several", "all", "none", "both", "each", "lot", "half"}
_CONNECTORS = {"for", "on", "de", "bin", "von", "van", "del", "la", "and"}


# weights of the pronoun antecedent's salience (set by hand, checked on the disputes train split)
DISTANCE = 1.0        # per sentence back
SUBJECT = 0.5         # the antecedent opens its sentence
SPEECH_SUBJECT = 1.2  # the antecedent is the subject of a speech verb
PROMINENCE = 0.2      # per log mention count
# nouns that name the same kind of document ("the survey" may be the poll named before)
_DOCUMENT_KINDS = (frozenset({"poll", "polls", "survey", "surveys", "polling"}),
                   frozenset({"report", "study", "analysis", "research", "findings", "paper"}))
AUTHOR_FALLBACK = Speaker("the author", "person", None)


class Resolver(Inventory):
    """Resolves source spans of one article: its entity inventory plus the sieve stages. Build
    once per article with ``Resolver(seg)``."""

    # -- resolution ----------------------------------------------------------------------------

    # The sieve: stages in order, each takes the source mention and returns a speaker or passes
    # (None). The last stage always answers.
    STAGES = ("quoted_by", "apposition", "relative_pronoun", "author", "coordinated_pronoun", "pronoun", "alias",
              "words_of_owner",
              "document", "name", "unlisted_name", "issuer", "description")

    def resolve(self, source: Optional[Span], history: Optional[list[tuple[int, Speaker]]] = None,
                ) -> Optional[Speaker]:
        """Speaker of a source span. ``history``: (word index, speaker) of earlier claims' sources."""
        return self.explain(source, history)[1]

    def explain(self, source: Optional[Span], history: Optional[list[tuple[int, Speaker]]] = None,
                ) -> tuple[Optional[str], Optional[Speaker]]:
        """(name of the stage that answered, speaker) for a source span."""
        if source is None:
            return None, None
        rng = self.seg.word_range(source.start, source.end)
        if rng is None:
            return None, Speaker(source.text.strip() or "unknown", "unknown", None)
        first, span_last = rng
        seg = self.seg
        while first < span_last and seg.word(first).lower() in _PREPOSITIONS:
            first += 1  # "from the Senate banking committee"
        last = self._head_end(first, span_last)
        text = seg.text[seg.starts[first]:seg.ends[last]]
        m = SourceMention(source, first, last, span_last, text, normalize(text), history or [])
        for stage in self.STAGES:
            sp = getattr(self, "_sieve_" + stage)(m)
            if sp is not None:
                return stage, sp
        return None, None  # pragma: no cover (the description stage always answers)

    def _speaker(self, ent: Entity) -> Speaker:
        return Speaker(ent.name, ent.type, self._mention_span(ent))

    # -- stages ----------------------------------------------------------------------------------

    def _sieve_quoted_by(self, m: "SourceMention") -> Optional[Speaker]:
        """"The Daily Planet quoted him as saying ...": an outlet that quotes someone is not the
        speaker; whoever it quotes is."""
        seg = self.seg
        k = m.span_last + 1
        if k + 1 >= len(seg) or seg.word(k).lower() not in ("quoted", "quotes", "quoting"):
            return None
        obj = k + 1
        end = obj
        while end + 1 < len(seg) and seg.word(end + 1).lower() != "as" and end - obj < 5 \
                and seg.sentence[end + 1] == seg.sentence[obj]:
            end += 1
        if end + 2 >= len(seg) or seg.word(end + 1).lower() != "as" \
                or seg.word(end + 2).lower() not in ("saying", "telling", "stating", "writing", "having", "calling"):
            return None
        if end == obj and self._pronoun_kind(seg.word(obj).lower()) is None:
            return None
        span = Span.of(seg.text, int(seg.starts[obj]), int(seg.ends[end]))
        sp = self.resolve(span, [h for h in m.history if h[0] < m.first])
        return sp if sp is not None and sp.type != "unknown" else None

    def _sieve_apposition(self, m: "SourceMention") -> Optional[Speaker]:
        """"Apple's chief executive, Tim Cook, said": the person named right after the comma."""
        apposed = self._appositive_person(m.last, m.span_last)
        if apposed is not None and not self._person_ends_at(m.last):
            return self._speaker(apposed.entity)
        return None

    def _single_word(self, m: "SourceMention") -> Optional[str]:
        return re.split(r"['’]", m.key)[0] if m.first == m.last else None  # "she'll"

    def _sieve_relative_pronoun(self, m: "SourceMention") -> Optional[Speaker]:
        if self._single_word(m) in self.lex["relative_pronouns"]:
            return self._relative(m.first, m.history) or Speaker(m.text, "unknown", None)
        return None

    _BIO = re.compile(r"^\s*(?:[A-Z][a-z]{1,4}\.\s+)?([A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]*){0,3})"
                      r"(?:\s*,[^,\n]{1,40},)?\s+(?:is|was|edits|writes|teaches|has been|serves|covers)\b")

    def author(self) -> Optional[Speaker]:
        """The writer of a signed piece, from a closing biography line among the last three
        paragraphs ("Jane Roe is a professor of law ...", "Roe, D-Ariz., was ...")."""
        if not hasattr(self, "_author"):
            self._author = None
            seg = self.seg
            pars = sorted({int(p) for p in seg.paragraph})[-3:]
            for p in reversed(pars):
                ks = [k for k in range(len(seg)) if int(seg.paragraph[k]) == p]
                if not ks:
                    continue
                m = self._BIO.match(seg.text[seg.starts[ks[0]]:seg.ends[ks[-1]]])
                if not m:
                    continue
                start = int(seg.starts[ks[0]])
                inside = [x for x in self.mentions if seg.starts[x.first] >= start
                          and seg.ends[x.last] <= start + m.end(1) + 2 and x.entity.type == "person"]
                if inside:
                    self._author = self._speaker(inside[0].entity)
                    break
        return self._author

    _SIGNATURE = re.compile(r"(?:@\w{2,30}|[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.|[A-Z][\w'’-]+)){1,3})\.?")

    def signatures(self) -> list[tuple[int, int]]:
        """(start, end) of the signature paragraphs of a page of letters or readers' posts: paragraphs
        that are only a name or a handle ("Jane Roe.", "@jroe."), when the article has two or more."""
        if not hasattr(self, "_signatures"):
            found = []
            for p in re.finditer(r"[^\n]+", self.seg.text):
                line = p.group().strip()
                if self._SIGNATURE.fullmatch(line) and normalize(line.rstrip(".")) not in self.lex["countries"]:
                    found.append((p.start(), p.start() + len(line.rstrip("."))))
            self._signatures = found if len(found) >= 2 else []
        return self._signatures

    def _sieve_author(self, m: "SourceMention") -> Optional[Speaker]:
        """"I" in the narration (outside quotation marks) is the writer: on a page of letters the
        signature that follows, else the one a closing biography line names, else "the author"."""
        if self._single_word(m) not in ("i", "me", "my") or self.seg.quote[m.first] != QUOTE_OUT:
            return None
        start = int(self.seg.starts[m.first])
        after = [(s, e) for s, e in self.signatures() if s > start]
        if after:
            s, e = after[0]
            return Speaker(self.seg.text[s:e], "person", Span.of(self.seg.text, s, e))
        return self.author() or AUTHOR_FALLBACK

    def _sieve_pronoun(self, m: "SourceMention") -> Optional[Speaker]:
        word = self._single_word(m)
        if word is None or (m.text.isupper() and len(m.text) > 1):
            return None
        kind = self._pronoun_kind(word)
        if kind:
            return self._pronoun(m.first, kind, m.history) or Speaker(m.text, "unknown", None)
        return None

    def _sieve_coordinated_pronoun(self, m: "SourceMention") -> Optional[Speaker]:
        """"she and European leaders", "he and his allies": the pronoun resolved, the rest kept."""
        seg = self.seg
        if m.last < m.first + 2 or seg.word(m.first + 1).lower() not in ("and", ","):
            return None
        kind = self._pronoun_kind(seg.word(m.first).lower())
        if kind not in ("m", "f"):
            return None
        sp = self._pronoun(m.first, kind, m.history)
        if sp is None:
            return None
        rest = re.sub(r"\s+", " ", seg.text[seg.starts[m.first + 1]:seg.ends[m.last]])
        return Speaker(f"{sp.name}{'' if rest.startswith(',') else ' '}{rest}", "group", sp.mention)

    def _sieve_alias(self, m: "SourceMention") -> Optional[Speaker]:
        alias = self.aliases.get(m.text)
        if alias:
            return Speaker(alias[0], alias[1], self._span_of_name(alias[0]) or m.span)
        return None

    def _sieve_words_of_owner(self, m: "SourceMention") -> Optional[Speaker]:
        """"Smith's remarks", "her statement": words said by someone are that someone's."""
        seg = self.seg
        words = [seg.word(k).lower() for k in range(m.first, m.last + 1)]
        if len(words) < 2 or words[-1] not in self.lex["words_nouns"]:
            return None
        if words[0] in ("his", "her", "their", "its") and len(words) <= 3:
            kind = {"his": "m", "her": "f", "their": "they", "its": "it"}[words[0]]
            return self._pronoun(m.first, kind, m.history)
        for k in range(m.last - 1, m.first - 1, -1):
            if seg.word(k).endswith(("'s", "’s", "s'", "s’")):
                for mm in reversed(self._mentions_in(m.first, k)):
                    if mm.last == k:
                        return self._speaker(mm.entity)
                break
        return None

    def _sieve_name(self, m: "SourceMention") -> Optional[Speaker]:
        """A name in the head; not a name inside a modifier of a common noun ("a judge in Ohio",
        "an adviser to Mayor Ruiz"), which the description stage reads."""
        seg = self.seg
        inside = self._mentions_in(m.first, m.last)
        if inside:
            noun = False
            for k in range(m.first, inside[0].first):
                w = seg.word(k).lower()
                if w in _PREPOSITIONS and noun and (w != "of" or seg.word(k - 1).lower() in self.lex["document_words"]):
                    return None  # ("a poll of Ohio voters")
                if seg.case[k] == CASE_LOWER and w.isalpha() and w not in self.lex["determiners"] \
                        and w not in _QUANTIFIERS and w not in _PREPOSITIONS \
                        and w not in ("government", "regime", "administration", "leadership", "authorities"):
                    noun = True  # "the government in Beijing" still stands for the name
        return self._named(m.first, m.last)

    def _sieve_unlisted_name(self, m: "SourceMention") -> Optional[Speaker]:
        """A capitalised source the inventory passed over ("Kerry said ..." opening a text)."""
        seg = self.seg
        rng = range(m.first, m.last + 1)
        if all(seg.case[k] not in (CASE_LOWER, CASE_NONE) for k in rng if seg.word(k).isalpha()) \
                and any(seg.word(k).isalpha() for k in rng):
            self._add_mention(m.first, m.last)
            return self._named(m.first, m.last)
        return None

    _ISSUED = frozenset({"statement", "statements", "release", "email", "e-mail", "emails", "letter", "memo",
                         "message", "tweet", "tweets", "post", "ad", "advertisement", "spot", "commercial", "video",
                         "website", "site", "page", "announcement", "response", "reply", "note"})

    _DOC_SKIP = frozenset({"new", "latest", "recent", "more-recent", "most", "national", "another", "other", "same",
                           "previous", "earlier", "last", "first", "second", "separate", "similar", "nonpartisan",
                           "independent", "consulting", "firm", "group", "organization", "the", "a", "an"})

    def _sieve_document(self, m: "SourceMention") -> Optional[Speaker]:
        """A poll, report or data set named by who made it: "a new poll from Acme University" and
        "a Acme University poll released Sunday" are both the "Acme University poll"; its date, how
        it came out and what it covers are not part of its name. Statements, letters and ads are
        left to the stages that give them their issuer."""
        seg = self.seg
        k = m.first
        while k <= m.last and seg.word(k).lower() in self.lex["determiners"]:
            k += 1
        head = None
        for j in range(k, m.last + 1):
            w = seg.word(j).lower()
            if w in _PREPOSITIONS or w in _HEAD_BREAKS or seg.word(j).endswith(("'s", "’s")):
                break
            nxt = seg.word(j + 1) if j + 1 <= m.last else ""
            # a lowercase head ("poll"), or "Poll" closing a name ("Acme Poll released ...")
            lower = seg.case[j] == CASE_LOWER or (w in ("poll", "polls", "survey") and not nxt[:1].isupper())
            if lower and w in self.lex["document_words"] and w not in self._ISSUED \
                    and w not in ("plan", "platform", "campaign"):
                head = j
                n = nxt.lower()
                if n in self.lex["document_words"] or n in ("average", "averages"):
                    continue
                if nxt.isalpha() and nxt.islower() and n not in self._DOC_TAIL and n not in _PREPOSITIONS \
                        and n not in _HEAD_BREAKS and n not in ("that", "and", "or", "showing", "shows"):
                    head = None  # "law enforcement officials": the document word only modifies
                    continue
                break
            elif head is not None:
                break
        if head is None:
            return None
        # the maker: capitalised words before the head ("Acme University/Daily Planet"), else a
        # name after "by", "from" or "for" ("a poll conducted by the Daily Planet and Acme News")
        pre = list(range(k, head))
        while pre and (seg.case[pre[0]] == CASE_LOWER or seg.word(pre[0]).lower() in ("the", "a", "an")):
            pre.pop(0)
        head_text = seg.text[seg.starts[head]:seg.ends[head]]
        if pre:
            # what it is of stays ("Acme analysis of campaign filings"); how it came out does not
            end = head
            if head + 1 < m.last and seg.word(head + 1).lower() == "of" \
                    and seg.word(head).lower() not in ("poll", "polls", "polling", "survey", "surveys"):
                end = head + 2
                while end + 1 <= m.last and seg.word(end + 1).lower() not in self._DOC_TAIL \
                        and (seg.word(end + 1).lower() not in _PREPOSITIONS or seg.word(end + 1).lower() == "of"):
                    end += 1
            maker = seg.text[seg.starts[pre[0]]:seg.ends[head - 1]]
            if end > head and any(ch.isupper() for ch in maker):
                return Speaker(re.sub(r"\s+", " ", seg.text[seg.starts[pre[0]]:seg.ends[end]]), "document", None)
        else:
            maker = ""
            j = head + 1
            while j <= m.span_last and j - head <= 4 and seg.word(j).lower() not in ("by", "from", "for"):
                j += 1
            if j <= m.span_last and seg.word(j).lower() in ("by", "from", "for"):
                a = j + 1
                while a <= m.span_last and (seg.case[a] == CASE_LOWER or seg.word(a).lower() in self._DOC_SKIP):
                    if seg.word(a).lower() in _PREPOSITIONS:
                        break
                    a += 1
                b = a
                while b + 1 <= m.span_last and (seg.case[b + 1] not in (CASE_LOWER,) or seg.word(b + 1).lower() == "and"
                                                or seg.word(b + 1) in ("/", "-", "&")) \
                        and seg.word(b + 1) not in (",", "(", ")", ".", ";", ":") and seg.word(b + 1).lower() != "of":
                    b += 1
                while b > a and seg.word(b).lower() == "and":
                    b -= 1
                if a <= m.span_last and seg.case[a] != CASE_LOWER and seg.word(a)[:1].isalpha():
                    maker = re.sub(r"\s+and\s+", "/", seg.text[seg.starts[a]:seg.ends[b]])
        if not maker or not any(ch.isupper() for ch in maker):
            return None
        name = re.sub(r"\s+", " ", f"{maker} {head_text}").replace(" / ", "/")
        return Speaker(name, "document", None)

    def _sieve_issuer(self, m: "SourceMention") -> Optional[Speaker]:
        """"The statement", "the email", "the ad": what someone issued speaks for its issuer, the
        latest earlier claim's speaker (within four sentences) that is no document itself."""
        seg = self.seg
        words = [seg.word(k).lower() for k in range(m.first, m.last + 1)]
        if len(words) < 2 or words[0] not in ("the", "that", "this") or words[-1] not in self._ISSUED \
                or any(seg.case[k] != CASE_LOWER for k in range(m.first + 1, m.last + 1) if seg.word(k).isalpha()):
            return None
        sent = int(seg.sentence[m.first])
        for idx, sp in reversed(m.history):
            if idx < m.first and sp is not None and sp.mention is not None and sp.type != "document" \
                    and sent - int(seg.sentence[idx]) <= 4:
                return sp
        return None

    def _sieve_description(self, m: "SourceMention") -> Optional[Speaker]:
        return self._description(m.first, m.last, m.history)

    def _add_mention(self, first: int, last: int) -> None:
        n = len(self.mentions)
        self._add_chunk(first, last)
        if len(self.mentions) > n:
            m = self.mentions.pop()
            if m.entity.type == "other" and len(m.entity.mentions) == 1:
                m.entity.type = "person"  # it speaks: most likely a person
            self.mentions.insert(sum(1 for x in self.mentions if x.first < m.first), m)

    def _head_end(self, first: int, last: int) -> int:
        """Last word of the head: before an appositive, parenthesis or relative clause. A list
        of names ("Jeff Merkley (D-Ore.), Sherrod Brown and ...") stays whole."""
        seg = self.seg
        k = first + 1
        while k <= last:
            w = seg.word(k).lower()
            if w == "(" and self._person_ends_at(k - 1):
                while k <= last and seg.word(k) != ")":
                    k += 1  # "(D-Ore.)" after a name
                k += 1
                continue
            if w in _HEAD_BREAKS:
                if w == "," and self._person_starts_at(k + 1) and self._person_ends_at(k - 1):
                    k += 1
                    continue
                if w == "," and self._list_follows(k, last):
                    return self._trim(first, last)
                return self._trim(first, k - 1)
            k += 1
        return self._trim(first, last)

    def _list_follows(self, comma: int, last: int) -> bool:
        """The rest of the source after this comma ends a list of plain nouns ("the families,
        supporters and administration officials", "women, Hispanics, and others"), not an apposition
        ("Ana Ruiz, a doctor and activist") or a clause."""
        seg = self.seg
        rest = [seg.word(j) for j in range(comma + 1, last + 1)]
        low = [w.lower() for w in rest]
        if self._person_ends_at(comma - 1) or any(w.isdigit() for w in rest):
            return False  # "Dean Baker, Center for ... Research", "the Meza brothers, 22 and 19"
        if not rest or len(rest) > 8 or not {"and", "or"} & set(low) or low[0] in self.lex["determiners"] \
                or low[0] in ("and", "or") and len(low) > 1 and low[1] in self.lex["determiners"]:
            return False
        if any(w in _HEAD_BREAKS and w != "," for w in low) or any(w in self._SPEECH_VERBS for w in low):
            return False
        return all(w.replace("-", "").replace("’", "").replace("'", "").isalnum() or w == "," for w in rest)

    def _trim(self, first: int, last: int) -> int:
        """Drop trailing punctuation and a trailing parenthesis ("Joseph Crowley (D-N.Y.)")."""
        seg = self.seg
        while last > first:
            if seg.word(last) == ")":
                k = last
                while k > first and seg.word(k) != "(":
                    k -= 1
                if k > first:
                    last = k - 1
                    continue
            if not any(ch.isalnum() for ch in seg.word(last)):
                last -= 1
                continue
            break
        return last

    def _person_starts_at(self, k: int) -> bool:
        return any(m.first == k and m.entity.type == "person" for m in self.mentions)

    def _person_ends_at(self, k: int) -> bool:
        seg = self.seg
        while k >= 0 and seg.word(k) == ")":
            while k >= 0 and seg.word(k) != "(":
                k -= 1
            k -= 1
        return any(m.last == k and m.entity.type == "person" for m in self.mentions)

    def _appositive_person(self, head_last: int, last: int) -> Optional[Mention]:
        """"Apple's chief executive, Tim Cook,": the person named right after the comma."""
        k = head_last + 1
        if k <= last and self.seg.word(k) == ",":
            for m in self.mentions:
                if m.first == k + 1 and m.last <= last and m.entity.type == "person":
                    return m
        return None

    def _pronoun_kind(self, word: str) -> Optional[str]:
        if word in ("i", "me", "my"):
            return "i"
        return _first_listed(self.lex, word, _PRONOUN_KINDS)

    def _mentions_in(self, first: int, last: int) -> list[Mention]:
        return [m for m in self.mentions if m.first >= first and m.last <= last]

    def _named(self, first: int, last: int) -> Optional[Speaker]:
        """A speaker from the names inside the head words first..last, or None if it has none."""
        seg = self.seg
        inside = self._mentions_in(first, last)
        if not inside:
            return None
        words = [seg.word(k).lower() for k in range(first, last + 1)]
        inside = [m for m in inside if not self._in_parentheses(m.first, first)] or inside
        if len(inside) >= 2 and "and" in words and self._coordinated(inside, last):
            names = list(dict.fromkeys(m.entity.name for m in inside))
            if len(names) >= 2:
                joined = ", ".join(names[:-1]) + " and " + names[-1]
                return Speaker(joined, "group", self._mention_span(inside[0].entity))
        head = inside[-1]
        ent = head.entity
        tail = [seg.word(k) for k in range(head.last + 1, last + 1) if seg.word(k)[:1].isalnum()
                and not self._in_parentheses(k, head.last + 1) and seg.word(k).lower() not in ("all", "both")]
        possessive = seg.word(head.last).endswith(("'s", "’s"))
        if not tail:
            if inside[0] is not head and not possessive and inside[0].last + 1 <= last \
                    and seg.word(inside[0].last + 1).lower() in ("of", "for", "at", "from", "with", "on"):
                ent = inside[0].entity  # "John Smith of the Heritage Foundation"
            typ = "person" if ent.type == "other" and len(ent.name.split()) == 1 else ent.type
            return Speaker(ent.name, typ, self._mention_span(ent))
        # a name owning or modifying a noun: "Clinton's campaign", "the Trump campaign"
        tail_words = self._noun_phrase([w.lower() for w in tail])
        if not tail_words:
            return Speaker(ent.name, ent.type, self._mention_span(ent))
        if ent.type == "person" or possessive:
            name = f"{ent.name} {' '.join(tail_words)}"
            return Speaker(name, self._description_type(tail_words), self._mention_span(ent))
        return None

    def _in_parentheses(self, k: int, start: int) -> bool:
        depth = 0
        for j in range(start, k):
            w = self.seg.word(j)
            depth += (w == "(") - (w == ")")
        return depth > 0

    def _coordinated(self, inside: list[Mention], last: int) -> bool:
        """Names joined only by commas, "and", determiners and parentheses ("China and Russia",
        "the United States, Britain and France", "Jon Tester (D-Mont.) and David Vitter")."""
        seg = self.seg
        depth = 0
        for a, b in zip(inside, inside[1:]):
            for k in range(a.last + 1, b.first):
                w = seg.word(k).lower()
                if w == "(":
                    depth += 1
                elif w == ")":
                    depth -= 1
                elif depth == 0 and w not in (",", "and", "the", "both"):
                    return False
        tail = [seg.word(k) for k in range(inside[-1].last + 1, last + 1) if seg.word(k)[:1].isalnum()]
        return not tail or all(w.lower() in ("all", "both") for w in tail)

    def _noun_phrase(self, words: list[str]) -> list[str]:
        """Words up to the first preposition, without determiners."""
        out = []
        for w in words:
            if w in _PREPOSITIONS or w in _HEAD_BREAKS:
                break
            if w not in self.lex["determiners"] and any(ch.isalnum() for ch in w):
                out.append(w)
        return out

    def _mention_span(self, ent: Entity) -> Optional[Span]:
        s, e = ent.first_char
        return Span.of(self.seg.text, s, e) if e > s else None

    def _span_of_name(self, name: str) -> Optional[Span]:
        ent = self._by_key.get(normalize(name))
        return self._mention_span(ent) if ent else None

    def _candidates(self, pos: int, history: list[tuple[int, Speaker]]):
        """(word index, speaker, weight as a claim source, gender) of everything named before ``pos``."""
        out = []
        for m in self.mentions:
            if m.last < pos:
                e = m.entity
                # a name that is the subject of a speech verb ("said Ana Ruiz", "Ruiz told") speaks
                # like a claim's source even where no claim was found there
                weight = SPEECH_SUBJECT if self._speech_subject(m) else 0.0
                out.append((m.first, Speaker(e.name, e.type, self._mention_span(e)), weight, e.gender))
        out += self._plural_candidates(pos)
        for idx, sp in history:
            if idx < pos and sp is not None and sp.type != "unknown":
                ent = self._by_key.get(normalize(sp.name))
                # an unresolved description is a weaker antecedent than a named speaker
                out.append((idx, sp, 1.2 if sp.mention is not None else 0.6, ent.gender if ent else None))
        return out

    _SPEECH_VERBS = frozenset({
        "said", "says", "say", "told", "tells", "added", "adds", "wrote", "writes", "argued", "argues",
        "noted", "notes", "explained", "explains", "asked", "asks", "stated", "states", "declared",
        "insisted", "insists", "claimed", "claims", "warned", "warns", "continued", "recalled", "replied",
        "responded", "tweeted", "acknowledged", "acknowledges", "predicted", "suggested", "suggests",
        "countered", "conceded", "concedes", "emphasized", "stressed", "observed", "complained", "announced"})

    def _speech_subject(self, m: Mention) -> bool:
        """Mention m is the subject of a speech verb: the verb right after it (past an appositive
        of up to a dozen words closed by a comma), right before it ("said Ana Ruiz"), or "according
        to" before it."""
        seg = self.seg
        if m.entity.type not in ("person", "organization", "media", "government"):
            return False
        b = m.first - 1
        if b >= 0 and seg.sentence[b] == seg.sentence[m.first]:
            w = seg.word(b).lower()
            if w in self._SPEECH_VERBS or (w == "to" and b >= 1 and seg.word(b - 1).lower() == "according"):
                return True
        k = m.last + 1
        n = len(seg)
        if k < n and seg.word(k) == ",":
            j = k + 1
            while j < n and j - k <= 12 and seg.sentence[j] == seg.sentence[m.first] and seg.word(j) != ",":
                j += 1
            if j < n and seg.word(j) == "," and j + 1 < n and seg.word(j + 1).lower() in self._SPEECH_VERBS:
                return True
        return k < n and seg.sentence[k] == seg.sentence[m.first] and seg.word(k).lower() in self._SPEECH_VERBS

    def _plural_candidates(self, pos: int) -> list:
        """Antecedents for "they" that are not single names, from the last three sentences:
        coordinated persons ("Ana Ruiz and Tom Vik") and plural noun phrases of people
        ("local environmentalists", "many Labour voters")."""
        seg = self.seg
        sent = int(seg.sentence[pos])
        out = []
        lo = pos
        while lo > 0 and sent - int(seg.sentence[lo - 1]) <= 3:
            lo -= 1
        ms = [m for m in self.mentions if lo <= m.first and m.last < pos]
        for a, b in zip(ms, ms[1:]):
            if a.entity is not b.entity and a.entity.type == b.entity.type == "person" and b.first == a.last + 2 \
                    and seg.word(a.last + 1).lower() == "and":
                name = f"{a.entity.name} and {b.entity.name}"
                out.append((a.first, Speaker(name, "group", self._mention_span(a.entity)), 0.2, None))
        for k in range(lo, pos):
            w = seg.word(k).lower()
            if seg.case[k] != CASE_LOWER or w not in self.lex["group_words"] or not w.endswith("s") \
                    or (k + 1 < len(seg) and seg.word(k + 1).lower() in ("of", "'", "’")):
                continue
            j = k
            while j > lo and seg.sentence[j - 1] == seg.sentence[k] and seg.word(j - 1).replace("-", "").isalpha() \
                    and seg.word(j - 1).lower() not in self.lex["determiners"] \
                    and seg.word(j - 1).lower() not in _PREPOSITIONS and seg.word(j - 1).lower() not in (
                        "and", "or", "but", "as", "while", "that", "than", "who", "when", "if", "because"):
                j -= 1
            if j > lo and seg.word(j - 1).lower() in ("many", "some", "most", "several"):
                j -= 1
            text = re.sub(r"\s+", " ", seg.text[seg.starts[j]:seg.ends[k]])
            out.append((j, Speaker(text, "group", None), 0.0, None))
        return out

    def _pronoun(self, pos: int, kind: str, history: list[tuple[int, Speaker]]) -> Optional[Speaker]:
        """The antecedent of a pronoun: among the candidates that agree with it, the most salient
        (recent sentences, earlier speakers, sentence subjects, matching gender, narration)."""
        seg = self.seg
        sent = int(seg.sentence[pos])
        inside_quote = seg.quote[pos] != QUOTE_OUT
        kept = []
        for idx, sp, source_weight, gender in self._candidates(pos, history):
            dist = sent - int(seg.sentence[idx])
            if dist > 6:
                continue
            if kind in ("m", "f", "i"):
                if sp.type != "person":
                    continue
                if kind in ("m", "f") and sp == AUTHOR_FALLBACK:
                    continue  # the unnamed writer ("I" in the narration) is never "he" or "she"
                if kind in ("m", "f") and gender and gender != kind:
                    continue
            elif kind == "it":
                if sp.type in ("person", "group", "unknown") or self._place(sp.name):
                    continue
            elif kind == "they":
                if sp.type in ("other", "unknown") or (sp.type == "person" and " and " not in sp.name) \
                        or self._place(sp.name, countries=True):
                    continue
            score = -DISTANCE * dist + source_weight + SUBJECT * self._is_sentence_subject(idx) + 0.001 * idx
            ent = self._by_key.get(normalize(sp.name))
            if ent is not None:
                # the article's main characters are the likelier antecedents
                score += PROMINENCE * math.log1p(len(ent.mentions))
            if kind in ("m", "f") and gender == kind:
                score += 0.3
            if kind == "i" and inside_quote and source_weight:
                score += 1.0
            if not inside_quote and not source_weight and seg.quote[idx] != QUOTE_OUT:
                # a name inside someone's quotation, for a pronoun of the narration
                score -= 1.0 + 0.5 * self._is_sentence_subject(idx)
            kept.append((idx, sp, source_weight, gender, dist, score))
        if not kept:
            return None
        return max(kept, key=lambda k: k[5])[1]

    def _place(self, name: str, countries: bool = False) -> bool:
        """A place the lexicon knows (a state, a city; with ``countries``, a country too): where
        things happen, seldom what "it" says; a country is seldom the "they" that says something."""
        key = normalize(name)
        return key in self.lex["places"] or (countries and key in self.lex["countries"])

    def _is_sentence_subject(self, idx: int) -> bool:
        seg = self.seg
        k = idx - 1
        while k >= 0 and seg.sentence[k] == seg.sentence[idx]:
            w = seg.word(k).lower()
            if w.isalpha() and w not in self.lex["determiners"] and w not in self.lex["person_titles"] \
                    and seg.case[k] == CASE_LOWER:
                return False
            k -= 1
        return True

    def _relative(self, pos: int, history: Optional[list] = None, depth: int = 0) -> Optional[Speaker]:
        sp = self._relative_np(pos, history, depth)
        if self.seg.word(pos).lower() == "who" and self.seg.word(pos - 1) == "," \
                and (sp is None or sp.mention is None or sp.type not in ("person", "group")):
            anchor = self._apposition_anchor(pos)
            if anchor is not None:
                return self._speaker(anchor.entity)
        return sp

    def _apposition_anchor(self, pos: int) -> Optional[Mention]:
        """"Ana Ruiz, a doctor from Leeds, England, who ...": the person an apposition (a noun
        phrase opened by a determiner, with no verb of speech and no quotation) describes."""
        seg = self.seg
        sent = seg.sentence[pos]
        for m in reversed(self.mentions):
            if m.last >= pos or seg.sentence[m.first] != sent:
                continue
            if m.entity.type != "person" or m.last + 2 >= pos or seg.word(m.last + 1) != ",":
                continue
            between = [seg.word(k).lower() for k in range(m.last + 2, pos - 1)]
            if len(between) > 16 or between[0] not in ("a", "an", "the", "his", "her", "their", "its") \
                    or any(w in self._SPEECH_VERBS or w in ('"', "“", "”") for w in between):
                return None
            return m
        return None

    def _relative_np(self, pos: int, history: Optional[list] = None, depth: int = 0) -> Optional[Speaker]:
        """Antecedent of "who"/"which"/"that": the noun phrase ending just before it (skipping a
        comma, a dash and a parenthesis such as "(D-Ky.)"); an apposition's anchor ("X, the Y,
        who"); the antecedent of an earlier "who" for "..., and who"; a description linked like
        any other source."""
        seg = self.seg
        history = history or []
        k = pos - 1
        while k >= 0 and seg.word(k) in (",", "—", "–", "--", "("):
            k -= 1
        if k >= 0 and seg.word(k) == ")":
            while k >= 0 and seg.word(k) != "(":
                k -= 1
            k -= 1
            while k >= 0 and seg.word(k) == ",":
                k -= 1
        if k < 0:
            return None
        if seg.word(k).lower() in ("and", "but", "or") and depth < 3:
            # "X, who ..., and who ...": the same antecedent as the earlier relative pronoun
            j = k - 1
            while j >= 0 and seg.sentence[j] == seg.sentence[pos]:
                if seg.word(j).lower() == seg.word(pos).lower():
                    return self._relative(j, history, depth + 1)
                j -= 1
            return None
        for m in reversed(self.mentions):
            if m.first <= k <= m.last:
                return self._speaker(m.entity)
        end = k
        stop = {"of", "in", "on", "at", "for", "with", "by", "from", "to", "and", "or", ",", "that"}
        while k >= 0 and seg.sentence[k] == seg.sentence[end] and seg.word(k).lower() not in stop \
                and seg.word(k).lower() not in self.lex["determiners"] \
                and (seg.word(k).isalpha() or seg.word(k) == "-" or seg.word(k).endswith(("'s", "’s"))):
            k -= 1
        if k + 1 > end:
            return None
        # "McConnell, now the Senate majority leader, who ...": the appositive's anchor
        j = k
        while j >= 0 and seg.word(j).lower() in ("the", "now", "then", "a", "an", "also", "its", "his", "her", "their"):
            j -= 1
        if j >= 1 and seg.word(j) == ",":
            for m in reversed(self.mentions):
                if m.last == j - 1 or (seg.word(j - 1) == ")" and self._person_ends_at(j - 1) and m.last < j
                                       and m.entity.type == "person"):
                    return self._speaker(m.entity)
        first = k + 1
        if k >= 0 and seg.word(k).lower() in self.lex["determiners"] and seg.sentence[k] == seg.sentence[end]:
            first = k  # keep the determiner: "the Mexican president" is a definite description
        sp = self._description(first, end, history)
        if sp.mention is None:
            # an unlinked description: the noun phrase itself, as the article spells it
            k1 = k + 1
            text = seg.text[seg.starts[k1]:seg.ends[end]]
            return Speaker(text, self._description_type(text.lower().split()),
                           Span.of(seg.text, int(seg.starts[k1]), int(seg.ends[end])))
        return sp

    def _description(self, first: int, last: int, history: list[tuple[int, Speaker]]) -> Speaker:
        seg = self.seg
        raw = [seg.word(k).lower() for k in range(first, last + 1)]
        words = self._noun_phrase(raw)
        words = self._title_words(words)
        head = words[-1] if words else ""
        definite = bool(raw) and raw[0] in ("the", "this", "that", "these", "those")
        phrase = " ".join(words)
        # a description the article attached to a named person ("the secretary of state")
        if words:
            best, best_fit = None, 0
            for m in self.mentions:
                if m.first >= first:
                    continue
                # the same description beats one that only shares its head ("the Ohio senator")
                fit = max((2 if d == phrase else 1 if d.endswith(" " + phrase) or phrase.endswith(" " + d) else 0
                           for d in m.entity.descriptions), default=0)
                if fit and fit >= best_fit:
                    best, best_fit = m.entity, fit
            if best is not None:
                return Speaker(best.name, best.type, self._mention_span(best))
        if raw and raw[0] in ("his", "her", "their", "its") and words:
            kind = {"his": "m", "her": "f", "their": "they", "its": "it"}[raw[0]]
            owner = self._pronoun(first, kind, history)
            if owner is not None:
                return Speaker(f"{owner.name} {phrase}", self._description_type(words), owner.mention)
        if definite and head:
            person_head = head in self.lex["person_words"] or head in self.lex["person_titles"]
            if person_head:
                # "the nominee", "the judge": a person the article gave that role; of several, the
                # one whose descriptions share a modifier ("the Ohio senator"), else the latest
                best, best_shared = None, -1
                for m in self.mentions:
                    if m.first < first and m.entity.type == "person" and any(
                            d.split()[-1:] == [head] for d in m.entity.descriptions):
                        shared = len({w for d in m.entity.descriptions for w in d.split()} & set(words[:-1]))
                        if shared >= best_shared:
                            best, best_shared = m.entity, shared
                if best is not None:
                    return Speaker(best.name, best.type, self._mention_span(best))
                if not (head.endswith("s") and head[:-1] in self.lex["person_words"]) \
                        and head not in self.lex["relational_roles"] \
                        and not {"next", "new", "future", "another", "other"} & set(words):
                    ent = self._recent_person(first, head, words[:-1], history)
                    if ent is not None:
                        return self._speaker(ent)
                # "the nominee", "the businessman" with no role in the article: the most salient
                # person so far (most mentions, then the most recent); only for generic roles
                counts: dict[int, tuple[int, int, Entity]] = {}
                for m in self.mentions:
                    if m.first < first and m.entity.type == "person":
                        n, _, _ = counts.get(id(m.entity), (0, 0, m.entity))
                        counts[id(m.entity)] = (n + 1, m.first, m.entity)
                if counts and head in _GENERIC_ROLES:
                    n, _, ent = max(counts.values(), key=lambda x: (x[0], x[1]))
                    if n >= 2:
                        return Speaker(ent.name, ent.type, self._mention_span(ent))
            doc = self._named_document(first, raw, words, history)
            if doc is not None:
                return doc
            # "the campaign", "the ad": an earlier speaker with the same head noun
            for idx, sp in reversed(history):
                if idx < first and sp is not None and sp.mention is not None \
                        and normalize(sp.name).split()[-1:] == [head]:
                    return sp
            # "the commission", "the newspaper", "the company": an earlier name with that word, or
            # a recent one of that kind
            kind = self.lex["kind_nouns"].get(head)
            sent = int(seg.sentence[first])
            for m in reversed(self.mentions):
                if m.first >= first:
                    continue
                ent = m.entity
                if ent.type != "person" and head in normalize(ent.name).split():
                    return self._speaker(ent)
                if kind and ent.type in kind.split("|") and sent - int(seg.sentence[m.first]) <= 8 \
                        and self._plain(m.first) and len(normalize(ent.name)) > 1:
                    return self._speaker(ent)
        return Speaker(self._np_text(first, last) or seg.text[seg.starts[first]:seg.ends[last]],
                       self._description_type(words), None)

    def _named_document(self, first: int, raw: list[str], words: list[str],
                        history: list[tuple[int, Speaker]]) -> Optional[Speaker]:
        """"the survey" after "a Gallup poll": the latest named document of that kind."""
        kind_of_doc = next((c for c in _DOCUMENT_KINDS if words[-1] in c), None)
        if not kind_of_doc or raw[0] not in ("the", "that", "this") or len(words) > 3:
            return None
        sent = int(self.seg.sentence[first])
        for idx, sp in reversed(history):
            if idx < first and sp is not None and sp.type == "document" \
                    and normalize(sp.name).split()[-1:] and normalize(sp.name).split()[-1] in kind_of_doc \
                    and any(ch.isupper() for ch in sp.name) and sent - int(self.seg.sentence[idx]) <= 10:
                return sp
        return None

    _DOC_TAIL = {"released", "conducted", "taken", "published", "out", "filed", "issued", "compiled", "this",
                 "last", "in", "on", "from", "earlier", "late", "since", "over", "during", "carried", "showing",
                 "finding", "shows", "found"}

    def _document_end(self, k: int, end: int) -> int:
        """A poll or report is named by what precedes its head noun: "a Gallup poll released
        Sunday" is the Gallup poll (its date and how it came out are not part of its name)."""
        seg = self.seg
        for j in range(k, end):
            w = seg.word(j).lower()
            if w in self.lex["document_words"] and j + 1 < end and seg.word(j + 1).lower() in self._DOC_TAIL \
                    and j > k:
                return j + 1
        return end

    def _recent_person(self, pos: int, head: str, modifiers: list[str],
                       history: list[tuple[int, Speaker]]) -> Optional[Entity]:
        """The person a definite description with a person head points back to ("the senator",
        "the woman"): a person named in the narration of the last few sentences, of the head's
        gender, not given another title; recent ones, earlier speakers and often named ones first."""
        seg = self.seg
        sent = int(seg.sentence[pos])
        gender = self.lex["gendered_nouns"].get(head)
        speakers = {normalize(sp.name) for idx, sp in history if idx < pos and sp is not None}
        best, best_score = None, -1e9
        seen: set[int] = set()
        for m in reversed(self.mentions):
            ent = m.entity
            dist = sent - int(seg.sentence[m.first])
            if m.first >= pos or id(ent) in seen or ent.type != "person" or not self._plain(m.first):
                continue
            if dist > 4:
                break
            seen.add(id(ent))
            if gender and ent.gender and ent.gender != gender:
                continue
            titles = {d.split()[-1] for d in ent.descriptions if d} & self.lex["person_titles"]
            if head in self.lex["person_titles"] and titles and head not in titles:
                continue  # "the governor" is not the one the article calls senator
            score = -dist + 0.7 * (normalize(ent.name) in speakers) + 0.1 * min(len(ent.mentions), 5)
            if score > best_score:
                best, best_score = ent, score
        return best

    def _np_text(self, first: int, last: int) -> str:
        """The original text of a description's noun phrase with its modifiers, without leading
        determiners ("A spokeswoman for the ministry" -> "spokeswoman for the ministry")."""
        seg = self.seg
        k = first
        while k <= last and seg.word(k).lower() in self.lex["determiners"]:
            k += 1
        end = k
        while end <= last:
            w = seg.word(end).lower()
            if w in _HEAD_BREAKS:
                break
            end += 1
        end = self._document_end(k, end)
        if end - k >= 3 and seg.word(k).lower() in ("new", "latest", "recent") and seg.case[k + 1] != CASE_LOWER:
            k += 1  # "a new Fox News poll": the Fox News poll
        if end <= k:
            return ""
        return re.sub(r"\s+", " ", seg.text[seg.starts[k]:seg.ends[end - 1]])

    def _description_type(self, words: list[str]) -> str:
        if not words:
            return "unknown"
        head = words[-1]
        lex = self.lex
        if head in lex["document_words"]:
            return "document"
        if " ".join(words) in lex["media_names"] or head in ("newspaper", "outlet", "network", "magazine"):
            return "media"
        return _first_listed(lex, head, _HEAD_TYPES) or "other"




_PRONOUN_KINDS = (("male_pronouns", "m"), ("female_pronouns", "f"), ("thing_pronouns", "it"), ("plural_pronouns", "they"))
_HEAD_TYPES = (("group_words", "group"), ("person_words", "person"), ("government_words", "government"),
               ("organization_words", "organization"))


def _first_listed(lex: dict, word: str, table: tuple[tuple[str, str], ...]) -> Optional[str]:
    """The value of the first (lexicon list, value) row of ``table`` whose list holds ``word``."""
    return next((value for key, value in table if word in lex[key]), None)


def resolve_sources(seg: Segmented, sources: list[Optional[Span]],
                    aliases: Optional[AliasTable] = None) -> list[Optional[Speaker]]:
    """Speakers for the sources of one article's claims, given in text order.

    "I" or "we" inside a quotation speaks for whoever is quoted: the nearest other source
    outside quotation marks in the same paragraph, before or after it ("'I think ...,' said X").
    """
    r = Resolver(seg, aliases)
    history: list[tuple[int, Speaker]] = []
    out: list[Optional[Speaker]] = []
    positions: list[Optional[int]] = []
    deferred = []
    for n, src in enumerate(sources):
        rng = seg.word_range(src.start, src.end) if src is not None else None
        positions.append(rng[0] if rng else None)
        if rng and rng[0] == rng[1] and seg.quote[rng[0]] != QUOTE_OUT \
                and normalize(src.text) in ("i", "we", "me", "us"):
            deferred.append(n)
            out.append(None)
            continue
        sp = r.resolve(src, history)
        out.append(sp)
        if rng and sp is not None:
            history.append((rng[0], sp))
    for n in deferred:
        pos = positions[n]
        cands = [(abs(positions[m] - pos), out[m]) for m in range(len(sources))
                 if m not in deferred and out[m] is not None and positions[m] is not None
                 and seg.paragraph[positions[m]] == seg.paragraph[pos] and seg.quote[positions[m]] == QUOTE_OUT]
        out[n] = min(cands, key=lambda c: c[0])[1] if cands else r.resolve(sources[n], history)
    return out
