"""Number formatting shared by the HTML, Markdown and terminal renderers, so that a figure reads
the same everywhere: ``71.0 [68.2, 73.9]``, and with ``--compare`` its change, ``+1.2``,
flagged when the old value lies outside the new interval."""

from __future__ import annotations

from .compare import Path, get, lookup

MISSING = "–"
# figures where a fall is an improvement (calibration error, memory; bench timings end in _s)
LOWER_IS_BETTER = {"ece", "peak_rss_mb", "ratio_extract_to_bare"}


def num(v, digits: int = 1) -> str:
    """A number with ``digits`` decimals, or a dash when there is none."""
    return MISSING if v is None else f"{v:.{digits}f}"


def ci(fig: dict | None, digits: int = 1) -> str:
    """A figure's interval as ``[lo, hi]``, or "" when it has none."""
    if not fig or not fig.get("ci") or None in fig["ci"]:
        return ""
    lo, hi = fig["ci"]
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


class Figures:
    """Looks up figures of one report and their changes against the compared report."""

    def __init__(self, report: dict):
        self.report = report
        self.changes = lookup(report)
        self.comparing = bool(report.get("compare"))

    def get(self, path: Path) -> dict | None:
        """The figure (or section) at ``path``, or None."""
        obj = get(self.report, path)
        return obj if isinstance(obj, dict) else None

    def change(self, path: Path) -> tuple[str, bool | None, str] | None:
        """(signed change text, beyond interval, "better" / "worse" / "") or None when not
        comparing or not in the old report."""
        row = self.changes.get(tuple(path))
        if row is None or row["delta"] is None:
            return None
        text = f"{row['delta']:+.1f}"
        if text in ("+0.0", "-0.0"):
            return "+0.0", row["beyond"], ""
        up = row["delta"] > 0
        lower_better = path[-1] in LOWER_IS_BETTER or path[-1].endswith("_s")
        return text, row["beyond"], "better" if up != lower_better else "worse"
