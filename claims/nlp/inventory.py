"""The entity inventory of one article: what it names, clustered into entities.

Runs of capitalised words (casing comes from the original text) are read as names, titles stripped
("US Secretary of State John Kerry" is John Kerry, with the description "us secretary of state"
remembered and the title's gender kept: "Mrs. Smith" and "Mr. Smith" stay two people until a full
name says otherwise), typed (person, organization, government, media, group, other) by the lexicons
and the alias table (``aliases.toml``: aliases, acronyms and their expansions). A short name joins
the fuller name it shortens ("Kerry" after "John Kerry", "Ban" after "Ban Ki-moon").

``Inventory(seg)`` builds it; ``entities`` (each with its name, type, gender, mentions and
descriptions) and ``mentions`` (in text order) are what the resolver's stages look up.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Optional

from .segment import CASE_LOWER, CASE_NONE, QUOTE_OUT, Segmented

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@functools.lru_cache(maxsize=1)
def lexicon() -> dict:
    raw = tomllib.loads(resources.files("claims.data").joinpath("lexicon.toml").read_text(encoding="utf-8"))
    return {k: (dict(v) if isinstance(v, dict) else frozenset(v)) for k, v in raw.items()}


@dataclass
class AliasTable:
    """Lowercased alias -> (canonical name, type)."""

    entries: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, *paths: str | os.PathLike) -> "AliasTable":
        """The shipped table, then each extra file (later entries override earlier ones);
        with no paths, ``$CLAIMS_ALIASES`` if set."""
        texts = [resources.files("claims.data").joinpath("aliases.toml").read_text(encoding="utf-8")]
        extra = list(paths) or ([os.environ["CLAIMS_ALIASES"]] if os.environ.get("CLAIMS_ALIASES") else [])
        texts += [Path(p).read_text(encoding="utf-8") for p in extra]
        table = cls()
        for text in texts:
            for ent in tomllib.loads(text).get("entity", []):
                name, typ = ent["name"], ent.get("type", "other")
                for alias in [name, *ent.get("aliases", [])]:
                    table.entries[normalize(alias)] = (name, typ)
        return table

    def get(self, text: str) -> Optional[tuple[str, str]]:
        return self.entries.get(normalize(text))


def _headline_paragraphs(seg: Segmented) -> set[int]:
    """Paragraphs written in Title Case (headlines, bylines), where capitals say little."""
    counts: dict[int, list[int]] = {}
    for i in range(len(seg)):
        if seg.case[i] != CASE_NONE and len(seg.word(i)) > 3:
            c = counts.setdefault(int(seg.paragraph[i]), [0, 0])
            c[0] += seg.case[i] != CASE_LOWER
            c[1] += 1
    return {p for p, (caps, n) in counts.items() if n >= 3 and caps >= 0.8 * n}


def _strip_possessive(text: str) -> str:
    return text[:-2] if text.endswith(("'s", "’s")) else text


def normalize(name: str) -> str:
    """Lowercase, no leading determiner, no possessive, single spaces: the key names compare by."""
    s = re.sub(r"\s+", " ", name.strip().lower()).replace("’", "'")
    s = re.sub(r"^(the|a|an)\s+", "", s)
    s = re.sub(r"('s|')$", "", s)
    return s.strip(" .,;:")


@dataclass
class Entity:
    """Something the article names; mentions of it share one Entity."""

    name: str                        # fullest name seen
    type: str
    gender: Optional[str] = None     # "m", "f" or None
    mentions: list[tuple[int, int]] = field(default_factory=list)  # word ranges
    descriptions: set[str] = field(default_factory=set)  # lowercase descriptions ("secretary of state")
    first_char: tuple[int, int] = (0, 0)  # char span of the mention that spells the name


@dataclass
class Mention:
    first: int                       # word range (inclusive)
    last: int
    entity: Entity


_ABBREVIATED_TITLES = {"mr", "mrs", "ms", "dr", "sen", "sens", "rep", "reps", "gov", "gen", "lt", "col", "capt",
                       "sgt", "prof", "rev", "st", "pres", "adm", "maj", "cmdr", "supt", "atty"}


class Inventory:
    """The named entities of one article and their mentions."""

    def __init__(self, seg: Segmented, aliases: Optional[AliasTable] = None):
        self.seg = seg
        self.aliases = aliases or default_aliases()
        self.lex = lexicon()
        self.entities: list[Entity] = []
        self.mentions: list[Mention] = []   # in text order
        self._by_key: dict[str, Entity] = {}
        self._lower_words = {seg.word(i) for i in range(len(seg)) if seg.case[i] == CASE_LOWER}
        self._headline_pars = _headline_paragraphs(seg)
        self._midsentence_caps = {_strip_possessive(seg.word(i)).lower() for i in range(1, len(seg))
                                  if seg.case[i] not in (CASE_LOWER, CASE_NONE) and not self._initial(i)
                                  and int(seg.paragraph[i]) not in self._headline_pars}
        self._read_names()


    def _initial(self, i: int) -> bool:
        seg = self.seg
        return i == 0 or seg.sentence[i - 1] != seg.sentence[i] or seg.word(i - 1) in ("“", '"', "‘", "'", "(", "—")

    def _is_name_word(self, i: int) -> bool:
        seg = self.seg
        if seg.case[i] in (CASE_LOWER, CASE_NONE):
            return False
        base = _strip_possessive(seg.word(i)).lower()
        if base in self.lex["never_names"]:
            return False
        known = (base in self.lex["male_names"] or base in self.lex["female_names"]
                 or base in self.lex["countries"] or self.aliases.get(base) is not None
                 or base in self.lex["person_titles"] and i + 1 < len(seg) and seg.case[i + 1] != CASE_NONE
                 or self._title_before_name(i))
        if int(seg.paragraph[i]) in self._headline_pars:
            # In Title Case Headlines every word is capitalised: trust only names seen elsewhere
            return known or base in self._midsentence_caps
        if self._initial(i):
            if not known and (base in self.lex["not_names"] or base in self._lower_words):
                return False  # an ordinary word that happens to start the sentence
            followed = i + 1 < len(seg) and seg.sentence[i + 1] == seg.sentence[i] and (
                seg.case[i + 1] not in (CASE_LOWER, CASE_NONE)
                or (seg.word(i + 1) in ("-", ".") and i + 2 < len(seg) and seg.case[i + 2] not in (CASE_LOWER, CASE_NONE)
                    and seg.starts[i + 2] == seg.ends[i + 1]))
            if not known and base.endswith(("ing", "ed", "ly")) and base not in self._midsentence_caps:
                return False  # "Injecting Clinton's ...", "Asked about ..."
            if not known and base not in self._midsentence_caps and not followed:
                return False  # a lone capitalised first word never capitalised elsewhere
        return True

    def _title_before_name(self, i: int) -> bool:
        """Word i is an abbreviated title with its full stop before a capitalised word ("Mrs. Smith")."""
        seg = self.seg
        return (seg.word(i).lower() in _ABBREVIATED_TITLES and i + 2 < len(seg) and seg.word(i + 1) == "."
                and seg.starts[i + 1] == seg.ends[i] and seg.case[i + 2] not in (CASE_LOWER, CASE_NONE)
                and seg.sentence[i + 2] == seg.sentence[i])

    def _joins(self, j: int, k: int) -> bool:
        """Whether word k continues the name that ends at word j."""
        seg = self.seg
        return (self._is_name_word(k) and seg.sentence[k] == seg.sentence[j]
                and seg.starts[k] - seg.ends[j] <= 1 and "\n" not in seg.text[seg.ends[j]:seg.starts[k]])

    def _read_names(self) -> None:
        seg = self.seg
        n = len(seg)
        chunks = []
        i = 0
        while i < n:
            if not self._is_name_word(i):
                i += 1
                continue
            j = i
            while not seg.word(j).endswith(("'s", "’s")):
                k = j + 1
                if k + 1 < n and seg.word(k) in (".", "-") and seg.starts[k] == seg.ends[j] \
                        and seg.starts[k + 1] == seg.ends[k] and self._is_name_word(k + 1):
                    j = k + 1  # "U.S", "al-Assad"
                    continue
                if k + 1 < n and seg.word(k) == "." and seg.starts[k] == seg.ends[j] \
                        and seg.word(j).lower() in _ABBREVIATED_TITLES and self._joins(k, k + 1):
                    j = k + 1  # "Mr. King", "Sen. Warren"
                    continue
                if k < n and seg.word(k) == "." and len(seg.word(j)) == 1 and seg.starts[k] == seg.ends[j]:
                    j = k  # an initial: "John F. Kennedy", "U.S."
                    if k + 1 < n and self._joins(k, k + 1):
                        j = k + 1
                        continue
                    break
                conn = seg.word(k).lower() if k < n else ""
                head = _strip_possessive(seg.word(j)).lower()
                if k + 1 < n and ((conn == "of" and head in self.lex["of_heads"])
                                  or (conn in ("for", "on") and (head in self.lex["of_heads"]
                                                                 or head in self.lex["organization_words"]
                                                                 or head in self.lex["government_words"]
                                                                 or head in self.lex["group_words"]))
                                  or conn in ("de", "bin", "von", "van", "del", "la")) and self._joins(k, k + 1):
                    j = k + 1  # "Secretary of State", "Commission on Presidential Debates"
                    continue
                if k < n and self._joins(j, k):
                    j = k
                    continue
                break
            chunks.append((i, j))
            i = j + 1
        for first, last in chunks:
            self._add_chunk(first, last)
        self._merge_short_names()

    def _title_words(self, words: list[str]) -> list[str]:
        forms = self.lex["title_forms"]
        return [forms.get(w, w) for w in words]

    def _add_chunk(self, first: int, last: int) -> None:
        seg = self.seg
        words = [seg.word(k) for k in range(first, last + 1)]
        lw = [_strip_possessive(w).lower().strip(".") for w in words]
        if len(lw) == 1 and (lw[0] in self.lex["demonyms"] or lw[0].rstrip("s") in self.lex["demonyms"]
                             and lw[0] not in self.lex["group_words"]):
            return
        text = _strip_possessive(seg.text[seg.starts[first]:seg.ends[last]])
        alias = self.aliases.get(text)
        # the name is what follows the last title ("US Secretary of State John Kerry")
        cut, title = 0, ""
        k = 0
        while k < len(lw):
            for t in range(min(4, len(lw) - k), 0, -1):
                phrase = " ".join(lw[k:k + t])
                if phrase in self.lex["person_titles"] and k + t < len(lw):
                    cut, title = k + t, phrase
                    k += t - 1
                    break
            k += 1
        if cut and (any(w in ("on", "for") for w in lw[:cut])
                    or any(w in self.lex["organization_words"] or w in self.lex["government_words"]
                           or w in ("on", "for", "of") for w in lw[cut:])):
            cut, title = 0, ""  # "Commission on Presidential Debates" names no person
        if all(w in self.lex["person_titles"] or w in self.lex["not_names"] or not w.isalpha() for w in lw):
            return  # "Mr." or "Both Mr" alone names nobody
        name_first = first + cut
        while name_first <= last and seg.word(name_first).lower() in ("of", "the", "."):
            name_first += 1
        if name_first > last:
            return
        end = int(seg.ends[last]) - (2 if words[-1].endswith(("'s", "’s")) else 0)
        span = (int(seg.starts[name_first]), end)
        name = re.sub(r"\s+", " ", seg.text[span[0]:span[1]])
        gender = self._gender_of(lw[:cut], name.split()[0].lower())
        if alias and cut == 0:
            ent = self._entity(alias[0], alias[1])
        elif title and gender and len(name.split()) == 1:
            # "Mrs. Smith" and "Mr. Smith" are two people until a full name says otherwise
            ent = self._entity(name, "person", key=f"{normalize(name)}#{gender}")
        else:
            ent = self._entity(name, "person" if title else self._name_type(name))
        if title:
            ent.type = "person"
            ent.descriptions.add(" ".join(self._title_words(title.split())))
            ent.descriptions.add(" ".join(self._title_words(lw[:cut])))
        desc = self._description_before(first)
        if desc:
            ent.descriptions.add(desc)
        if gender and not ent.gender:
            ent.gender = gender
        if ent.first_char == (0, 0) or (normalize(name) == normalize(ent.name)
                                        and normalize(seg.text[slice(*ent.first_char)]) != normalize(ent.name)):
            ent.first_char = span
        ent.mentions.append((first, last))
        self.mentions.append(Mention(first, last, ent))

    def _merge_short_names(self) -> None:
        """A one-word name joins the fuller name with the same last word (and no other gender)
        named in full most often before it ("Johnson" after "Jeh Johnson" is Jeh Johnson, and
        stays him after one mention of "Eric Johnson"); one with no earlier full mention joins
        the most mentioned one."""
        for short in list(self.entities):
            words = normalize(short.name).split()
            if len(words) != 1 or short.type not in ("person", "other", "media", "organization") \
                    or words[0] in self.lex["countries"] or words[0] in self.lex["places"]:
                continue
            want = ("person",) if short.type in ("person", "other") else ("media", "organization")
            first_name = words[0] in self.lex["male_names"] or words[0] in self.lex["female_names"]
            fuller = [e for e in self.entities if e is not short and e.type in want
                      and len(normalize(e.name).split()) > 1
                      and not (short.gender and e.gender and short.gender != e.gender)
                      and (normalize(e.name).split()[-1] == words[0]
                           or (first_name and normalize(e.name).split()[0] == words[0]))]
            if not fuller and short.type == "person" and not first_name:
                # a name written surname first ("Ban Ki-moon", "Gao Junlan") shortened to its first
                # word ("Ban", "Ms. Gao"): only when no fuller name ends with that word
                fuller = [e for e in self.entities if e is not short and e.type == "person"
                          and len(normalize(e.name).split()) > 1 and normalize(e.name).split()[0] == words[0]
                          and not (short.gender and e.gender and short.gender != e.gender)]
                if len(fuller) != 1:
                    continue
            if not fuller:
                continue
            for m in self.mentions:
                if m.entity is not short:
                    continue
                # the bearer of the surname named in full most often so far (the most recent of
                # equals); full names in headlines or inside quotations only if there are no others
                plain = [(f, e) for e in fuller for f, _ in e.mentions if f < m.first and self._plain(f)]
                earlier = plain or [(f, e) for e in fuller for f, _ in e.mentions if f < m.first]
                if earlier:
                    tally: dict[int, tuple[int, int, Entity]] = {}
                    for f, e in earlier:
                        n, last, _ = tally.get(id(e), (0, -1, e))
                        tally[id(e)] = (n + 1, max(last, f), e)
                    target = max(tally.values(), key=lambda x: (x[0], x[1]))[2]
                else:
                    target = max(fuller, key=lambda e: len(e.mentions))
                m.entity = target
                target.mentions.append((m.first, m.last))
                target.descriptions |= short.descriptions
                target.gender = target.gender or short.gender
            for key in [k for k, e in self._by_key.items() if e is short]:
                self._by_key[key] = max(fuller, key=lambda e: len(e.mentions))
            self._by_key.setdefault(normalize(short.name), max(fuller, key=lambda e: len(e.mentions)))
            self.entities.remove(short)
        self._merge_acronyms()
        for e in self.entities:
            if e.type == "other" and normalize(e.name) in self.lex["countries"]:
                e.type = "government"

    def _merge_acronyms(self) -> None:
        """An acronym ("FEC") joins the one name of the article it abbreviates ("Federal Election
        Commission"), initials of its capitalised words."""
        for short in list(self.entities):
            name = short.name.replace(".", "")
            if not (2 <= len(name) <= 6 and name.isalpha() and name.isupper()) or self.aliases.get(short.name):
                continue
            fuller = [e for e in self.entities if e is not short and e.type != "person"
                      and "".join(w[0] for w in e.name.split() if w[:1].isupper()) == name]
            if len(fuller) != 1:
                continue
            target = fuller[0]
            for m in self.mentions:
                if m.entity is short:
                    m.entity = target
                    target.mentions.append((m.first, m.last))
            for key in [k for k, e in self._by_key.items() if e is short]:
                self._by_key[key] = target
            self.entities.remove(short)

    def _plain(self, k: int) -> bool:
        """Word k is narration: outside quotation marks and outside headlines."""
        return self.seg.quote[k] == QUOTE_OUT and int(self.seg.paragraph[k]) not in self._headline_pars

    def _description_before(self, first: int) -> str:
        """A role noun phrase right before a name ("his Russian counterpart" -> "russian counterpart")."""
        seg = self.seg
        words = []
        k = first - 1
        while k >= 0 and len(words) < 4 and seg.sentence[k] == seg.sentence[first] and seg.word(k).replace("-", "").isalpha():
            w = seg.word(k).lower()
            if w in self.lex["determiners"] or (seg.case[k] != CASE_LOWER and w not in self.lex["demonyms"]
                                                and w not in self.lex["places"]):
                break
            words.append(w)
            k -= 1
        words.reverse()
        if not words or (words[-1] not in self.lex["person_words"] and words[-1] not in self.lex["person_titles"]):
            return ""
        return " ".join(words)

    def _gender_of(self, titles: list[str], first_name: str) -> Optional[str]:
        for w in titles:
            if w in ("mr", "sir", "king", "prince", "father", "lord", "congressman", "businessman", "chairman"):
                return "m"
            if w in ("mrs", "ms", "miss", "queen", "princess", "sister", "lady", "congresswoman", "first lady"):
                return "f"
        if first_name in self.lex["female_names"]:
            return "f"
        if first_name in self.lex["male_names"]:
            return "m"
        return None

    def _name_type(self, name: str) -> str:
        key = normalize(name)
        words = key.split()
        last = words[-1] if words else ""
        alias = self.aliases.get(name)
        if alias:
            return alias[1]
        if key in self.lex["countries"]:
            return "government"
        if key in self.lex["places"]:
            return "other"
        if key in self.lex["media_names"] or key.endswith(".com") or (last in self.lex["media_words"] and len(words) > 1):
            return "media"
        if any(w in self.lex["government_words"] for w in words):
            return "government"
        if any(w in self.lex["organization_words"] for w in words):
            return "organization"
        if len(words) > 1 and last in self.lex["facility_words"]:
            return "other"  # "Smith Tower", "Great Wall": named after someone, never speaking as them
        if words and (words[0] in self.lex["male_names"] or words[0] in self.lex["female_names"]):
            return "person"
        if len(words) > 1 and last in self.lex["calendar_words"]:
            return "other"  # "Election Day", "Christmas Eve": a date, not a Mr. Day
        if key in self.lex["group_words"]:
            return "group"  # "Republicans", "Democrats"
        if len(words) == 1 and name.isupper() and len(name) > 1:
            return "organization"
        if 2 <= len(words) <= 4 and name.upper() != name:
            return "person"
        return "other"

    def _entity(self, name: str, typ: str, key: Optional[str] = None) -> Entity:
        key = key or normalize(name)
        if key not in self._by_key:
            ent = Entity(name, typ)
            self._by_key[key] = ent
            self.entities.append(ent)
        return self._by_key[key]

    def entity(self, name: str) -> Optional[Entity]:
        """The entity a name (a shortened name, an alias) of the article stands for, if any."""
        ent = self._by_key.get(normalize(name))
        if ent is None and self.aliases.get(name):
            ent = self._by_key.get(normalize(self.aliases.get(name)[0]))
        return ent

    def people(self, name: str) -> list[Entity]:
        """Every person entity the article names this way (one per gender for "Mr./Mrs. Smith")."""
        key = normalize(name)
        return [e for k, e in self._by_key.items() if (k == key or k.startswith(key + "#")) and e.type == "person"]

    def entity_at(self, first: int, last: int) -> Optional[Entity]:
        """The entity of the last mention inside words first..last, if any."""
        inside = [m for m in self.mentions if m.first >= first and m.last <= last]
        return inside[-1].entity if inside else None


@functools.lru_cache(maxsize=1)
def default_aliases() -> AliasTable:
    return AliasTable.load()
