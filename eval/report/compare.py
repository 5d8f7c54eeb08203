"""``--compare OLD/metrics.json``: every figure of this report beside the same figure of an older
one, with its change and whether the change is larger than its interval.

A figure is any ``{"value", "ci"}`` object in metrics.json, named by its path of keys (lists,
such as curve points and confusion matrices, are not figures). "Larger than its interval" means
the old value lies outside the new figure's 95% interval. That is a reading aid, not a paired
significance test: both reports resample their own articles, and a change inside the interval can
still be real. Figures without an interval (throughput, memory) get a change but no verdict.
"""

from __future__ import annotations

from typing import Iterator

SKIP = ("meta", "compare", "gallery")
Path = tuple[str, ...]


def is_figure(obj) -> bool:
    """True for a ``{"value", "ci"}`` object."""
    return isinstance(obj, dict) and "value" in obj and "ci" in obj


def figures(report: dict, prefix: Path = ()) -> Iterator[tuple[Path, dict]]:
    """(path, figure) for every figure in a report, in document order."""
    for k, v in report.items():
        if not prefix and k in SKIP:
            continue
        if is_figure(v):
            yield prefix + (k,), v
        elif isinstance(v, dict):
            yield from figures(v, prefix + (k,))


def get(report: dict, path: Path):
    """The object at a path of keys, or None."""
    obj = report
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def change(new: dict, old: dict) -> dict:
    """One comparison row: old, new, delta, and ``beyond`` (True/False, or None when either value
    is missing or the new figure has no interval)."""
    nv, ov = new.get("value"), old.get("value")
    row = {"old": ov, "new": nv, "delta": None, "ci": new.get("ci"), "beyond": None}
    if nv is None or ov is None:
        return row
    row["delta"] = round(nv - ov, 3)
    ci = new.get("ci")
    if ci is not None:
        row["beyond"] = bool(ov < ci[0] or ov > ci[1])
    return row


def compare(new: dict, old: dict, against: str = "") -> dict:
    """The ``compare`` section of a report: rows for figures present in both (document order),
    and the paths present in only one of them."""
    old_figs = dict(figures(old))
    rows, added = [], []
    seen = set()
    for path, fig in figures(new):
        seen.add(path)
        if path in old_figs:
            rows.append({"path": list(path), **change(fig, old_figs[path])})
        else:
            added.append(list(path))
    removed = [list(p) for p in old_figs if p not in seen]
    om, nm = old.get("meta", {}), new.get("meta", {})
    warnings = []
    for key in ("attribution_data", "stance_data", "limit", "stance_limit", "bootstrap"):
        if om.get(key) != nm.get(key):
            warnings.append(f"{key} differs: old {om.get(key)!r}, new {nm.get(key)!r}")
    return {"against": against, "old_meta": {k: om.get(k) for k in ("name", "generated", "models", "git")},
            "rows": rows, "n_beyond": sum(bool(r["beyond"]) for r in rows),
            "new_only": added, "old_only": removed, "warnings": warnings}


def lookup(report: dict) -> dict[Path, dict]:
    """Path -> comparison row, for renderers that print a figure's change beside it."""
    return {tuple(r["path"]): r for r in (report.get("compare") or {}).get("rows", [])}
