"""Disputes files (TOML, docs/DESIGN.md 3.3): loading and validation with messages a user can act on."""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

from .doc import Dispute

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ID_RE = re.compile(r"^[a-z0-9-]+$")
KNOWN_KEYS = {"id", "title", "proposition", "description", "aliases"}
MAX_PROPOSITION_CHARS = 1000


class DisputeError(ValueError):
    """A disputes file or entry that cannot be used; the message says where and why."""


def parse(text: str, where: str = "disputes file") -> list[Dispute]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DisputeError(f"{where}: invalid TOML: {e}") from None
    extra = set(data) - {"dispute"}
    if extra:
        raise DisputeError(f"{where}: unknown top-level key(s) {sorted(extra)}; expected [[dispute]] tables")
    entries = data.get("dispute", [])
    if not isinstance(entries, list) or not entries:
        raise DisputeError(f"{where}: no [[dispute]] entries")
    out: list[Dispute] = []
    seen: set[str] = set()
    for n, d in enumerate(entries, 1):
        out.append(validate(d, f"{where}: dispute #{n}"))
        if out[-1].id in seen:
            raise DisputeError(f"{where}: dispute #{n}: duplicate id {out[-1].id!r}")
        seen.add(out[-1].id)
    return out


def validate(d: object, where: str = "dispute") -> Dispute:
    """One dispute from a dict (a TOML table or a JSON body), or a DisputeError."""
    if not isinstance(d, dict):
        raise DisputeError(f"{where}: expected a table with id, title and proposition")
    unknown = set(d) - KNOWN_KEYS
    if unknown:
        raise DisputeError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(KNOWN_KEYS)}")
    for key in ("id", "proposition"):
        if key not in d:
            raise DisputeError(f"{where}: missing {key!r}")
    did, prop = d["id"], d["proposition"]
    title = d.get("title", did)
    if not isinstance(did, str) or not ID_RE.match(did):
        raise DisputeError(f"{where}: id {did!r} must match [a-z0-9-]+ (lowercase letters, digits, hyphens)")
    if not isinstance(prop, str) or not prop.strip():
        raise DisputeError(f"{where} ({did}): empty proposition")
    if len(prop) > MAX_PROPOSITION_CHARS:
        raise DisputeError(f"{where} ({did}): proposition longer than {MAX_PROPOSITION_CHARS} characters")
    if not isinstance(title, str) or not title.strip():
        raise DisputeError(f"{where} ({did}): title must be a non-empty string")
    aliases = d.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise DisputeError(f"{where} ({did}): aliases must be a list of strings")
    desc = d.get("description", "")
    if not isinstance(desc, str):
        raise DisputeError(f"{where} ({did}): description must be a string")
    return Dispute(did, title.strip(), prop.strip(), desc, aliases)


def load(path: str | Path) -> list[Dispute]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DisputeError(f"disputes file not found: {path}") from None
    except UnicodeDecodeError:
        raise DisputeError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise DisputeError(f"{path}: cannot read: {e.strerror}") from None
    return parse(text, str(path))


def default() -> list[Dispute]:
    """The seed disputes that ship with the package."""
    return parse(resources.files("claims.data").joinpath("seed_disputes.toml").read_text(encoding="utf-8"),
                 "seed disputes")


def dumps(disputes: list[Dispute]) -> str:
    """TOML text for disputes (the format ``parse`` reads)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    parts = []
    for d in disputes:
        lines = ["[[dispute]]", f"id = {q(d.id)}", f"title = {q(d.title)}", f"proposition = {q(d.proposition)}"]
        if d.description:
            lines.append(f"description = {q(d.description)}")
        if d.aliases:
            lines.append("aliases = [" + ", ".join(q(a) for a in d.aliases) + "]")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
