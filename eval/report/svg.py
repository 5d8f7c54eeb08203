"""Small SVG charts written by hand: line chart, heatmap, reliability diagram, interval plot.

Each function returns one ``<svg>`` element as a string, meant to sit inline in an HTML page
(no namespace declaration needed there, no script, no external reference). Coordinates are
rounded to one decimal so that the same figures give the same bytes. Every label is escaped.
"""

from __future__ import annotations

from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
COLORS = {"model": "#0072B2", "baseline": "#E69F00", "human": "#009E73", "grey": "#999999",
          "p": "#0072B2", "r": "#D55E00", "f1": "#009E73"}
FONT = 'font-family="system-ui, sans-serif"'


def _n(x: float) -> str:
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(title)}" {FONT} font-size="11">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", size: int | None = None, extra: str = "") -> str:
    sz = f' font-size="{size}"' if size else ""
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{sz}{extra}>{escape(str(s))}</text>'


class _Frame:
    """Maps data coordinates to the plot area and draws axes with ticks."""

    def __init__(self, width, height, x_domain, y_domain, left=48, right=16, top=28, bottom=42):
        self.w, self.h = width, height
        self.x0, self.x1 = left, width - right
        self.y0, self.y1 = height - bottom, top
        self.xd, self.yd = x_domain, y_domain

    def x(self, v: float) -> float:
        a, b = self.xd
        return self.x0 + (v - a) / (b - a or 1) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        a, b = self.yd
        return self.y0 - (v - a) / (b - a or 1) * (self.y0 - self.y1)

    def axes(self, x_ticks, y_ticks, x_label, y_label, fmt_x=str, fmt_y=str) -> list[str]:
        out = [f'<rect x="{_n(self.x0)}" y="{_n(self.y1)}" width="{_n(self.x1 - self.x0)}" '
               f'height="{_n(self.y0 - self.y1)}" fill="none" stroke="#ccc"/>']
        for t in y_ticks:
            y = self.y(t)
            out.append(f'<line x1="{_n(self.x0)}" y1="{_n(y)}" x2="{_n(self.x1)}" y2="{_n(y)}" stroke="#eee"/>')
            out.append(_text(self.x0 - 5, y + 4, fmt_y(t), "end"))
        for t in x_ticks:
            x = self.x(t)
            out.append(f'<line x1="{_n(x)}" y1="{_n(self.y0)}" x2="{_n(x)}" y2="{_n(self.y0 + 4)}" stroke="#888"/>')
            out.append(_text(x, self.y0 + 16, fmt_x(t), "middle"))
        out.append(_text((self.x0 + self.x1) / 2, self.h - 6, x_label, "middle"))
        out.append(_text(12, (self.y0 + self.y1) / 2, y_label, "middle",
                         extra=f' transform="rotate(-90 12 {_n((self.y0 + self.y1) / 2)})"'))
        return out


def line_chart(series: list[dict], *, title: str, x_label: str, y_label: str,
               x_domain=(0.0, 1.0), y_domain=(0.0, 100.0), x_ticks=None, y_ticks=None,
               width: int = 560, height: int = 320, fmt_x=None) -> str:
    """Lines of ``series`` (``{"name", "color", "points": [(x, y)], "band": [(x, lo, hi)]?,
    "dash": bool?}``), each with an optional shaded interval band; legend on the right."""
    f = _Frame(width, height, x_domain, y_domain, right=130)
    x_ticks = x_ticks if x_ticks is not None else [x_domain[0] + i * (x_domain[1] - x_domain[0]) / 5 for i in range(6)]
    y_ticks = y_ticks if y_ticks is not None else [y_domain[0] + i * (y_domain[1] - y_domain[0]) / 5 for i in range(6)]
    body = [_text(f.x0, 16, title, size=13, extra=' font-weight="600"')]
    body += f.axes(x_ticks, y_ticks, x_label, y_label, fmt_x or (lambda v: f"{v:.1f}"), lambda v: f"{v:.0f}")
    for k, s in enumerate(series):
        color = s.get("color", COLORS["grey"])
        band = s.get("band") or []
        if band:
            upper = " ".join(f"{_n(f.x(x))},{_n(f.y(hi))}" for x, lo, hi in band)
            lower = " ".join(f"{_n(f.x(x))},{_n(f.y(lo))}" for x, lo, hi in reversed(band))
            body.append(f'<polygon points="{upper} {lower}" fill="{color}" fill-opacity="0.15" stroke="none"/>')
        pts = " ".join(f"{_n(f.x(x))},{_n(f.y(y))}" for x, y in s["points"])
        dash = ' stroke-dasharray="5 3"' if s.get("dash") else ""
        body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for x, y in s["points"]:
            body.append(f'<circle cx="{_n(f.x(x))}" cy="{_n(f.y(y))}" r="2.2" fill="{color}"/>')
        ly = f.y1 + 10 + 18 * k
        body.append(f'<line x1="{_n(f.x1 + 10)}" y1="{_n(ly)}" x2="{_n(f.x1 + 30)}" y2="{_n(ly)}" '
                    f'stroke="{color}" stroke-width="2"{dash}/>')
        body.append(_text(f.x1 + 35, ly + 4, s["name"]))
    return _svg(width, height, body, title)


def _blend(share: float, color=(0, 114, 178)) -> str:
    r, g, b = (round(255 + (c - 255) * share) for c in color)
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(matrix: list[list[int]], row_labels: list[str], col_labels: list[str], *, title: str,
            cell: int = 54) -> str:
    """Confusion matrix: rows gold, columns predicted; shade = share of the row (recall of that
    gold label), text = count. Empty rows stay white."""
    left, top = 92, 56
    width, height = left + cell * len(col_labels) + 16, top + cell * len(row_labels) + 40
    body = [_text(4, 16, title, size=13, extra=' font-weight="600"'),
            _text(left + cell * len(col_labels) / 2, 34, "predicted", "middle"),
            _text(10, top + cell * len(row_labels) / 2, "gold", "middle",
                  extra=f' transform="rotate(-90 10 {_n(top + cell * len(row_labels) / 2)})"')]
    for j, c in enumerate(col_labels):
        body.append(_text(left + cell * j + cell / 2, top - 6, c, "middle"))
    for i, (row, r) in enumerate(zip(matrix, row_labels)):
        total = sum(row)
        body.append(_text(left - 6, top + cell * i + cell / 2 + 4, r, "end"))
        for j, v in enumerate(row):
            share = v / total if total else 0.0
            x, y = left + cell * j, top + cell * i
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_blend(share)}" stroke="#fff"/>')
            color = "#fff" if share > 0.55 else "#222"
            body.append(_text(x + cell / 2, y + cell / 2 + 1, str(v), "middle", extra=f' fill="{color}"'))
            if total:
                body.append(_text(x + cell / 2, y + cell / 2 + 14, f"{100 * share:.0f}%", "middle", size=9,
                                  extra=f' fill="{color}"'))
    return _svg(width, height, body, title)


def reliability_diagram(bins: list[dict], *, title: str, width: int = 420, height: int = 360) -> str:
    """Accuracy per confidence bin (bars) against the diagonal of perfect calibration, with the
    mean confidence of each bin marked and the share of items per bin along the bottom."""
    f = _Frame(width, height, (0.0, 1.0), (0.0, 1.0), bottom=70)
    ticks = [i / 5 for i in range(6)]
    body = [_text(f.x0, 16, title, size=13, extra=' font-weight="600"')]
    body += f.axes(ticks, ticks, "", "accuracy", lambda v: f"{v:.1f}", lambda v: f"{v:.1f}")
    body.append(f'<line x1="{_n(f.x(0))}" y1="{_n(f.y(0))}" x2="{_n(f.x(1))}" y2="{_n(f.y(1))}" '
                f'stroke="#888" stroke-dasharray="4 3"/>')
    total = sum(b["n"] for b in bins) or 1
    hist_top, hist_h = f.y0 + 22, 22
    for b in bins:
        if not b["n"]:
            continue
        x, w = f.x(b["lo"]), f.x(b["hi"]) - f.x(b["lo"])
        acc, conf = b["accuracy"], b["confidence"]
        body.append(f'<rect x="{_n(x + 1)}" y="{_n(f.y(acc))}" width="{_n(w - 2)}" height="{_n(f.y0 - f.y(acc))}" '
                    f'fill="{COLORS["model"]}" fill-opacity="0.75"><title>{escape(_bin_tip(b))}</title></rect>')
        body.append(f'<line x1="{_n(x + 1)}" y1="{_n(f.y(conf))}" x2="{_n(x + w - 1)}" y2="{_n(f.y(conf))}" '
                    f'stroke="#D55E00" stroke-width="2"/>')
        hh = hist_h * b["n"] / total
        body.append(f'<rect x="{_n(x + 1)}" y="{_n(hist_top + hist_h - hh)}" width="{_n(w - 2)}" height="{_n(hh)}" '
                    f'fill="{COLORS["grey"]}"/>')
    body.append(_text((f.x0 + f.x1) / 2, height - 4, "confidence (top-label probability); grey: share of items",
                      "middle"))
    body.append(f'<line x1="{_n(f.x1 - 150)}" y1="{_n(f.y1 + 12)}" x2="{_n(f.x1 - 135)}" y2="{_n(f.y1 + 12)}" '
                f'stroke="#D55E00" stroke-width="2"/>')
    body.append(_text(f.x1 - 130, f.y1 + 16, "mean confidence"))
    return _svg(width, height, body, title)


def _bin_tip(b: dict) -> str:
    return (f"confidence {b['lo']:.2f}-{b['hi']:.2f}: {b['n']} items, accuracy {b['accuracy']:.2f}, "
            f"mean confidence {b['confidence']:.2f}")


def interval_plot(rows: list[dict], *, title: str, domain=(0.0, 100.0), width: int = 560,
                  row_height: int = 22, label_width: int = 190) -> str:
    """One row per figure: a dot at the value and a line over its interval (``{"label", "value",
    "lo", "hi", "color"}``; rows without an interval get a dot only)."""
    height = 46 + row_height * len(rows) + 30
    f = _Frame(width, height, domain, (0, 1), left=label_width, top=34, bottom=32)
    body = [_text(4, 16, title, size=13, extra=' font-weight="600"')]
    ticks = [domain[0] + i * (domain[1] - domain[0]) / 5 for i in range(6)]
    for t in ticks:
        x = f.x(t)
        body.append(f'<line x1="{_n(x)}" y1="{_n(f.y1)}" x2="{_n(x)}" y2="{_n(f.y0)}" stroke="#eee"/>')
        body.append(_text(x, f.y0 + 16, f"{t:.0f}", "middle"))
    for k, r in enumerate(rows):
        y = f.y1 + row_height * k + row_height / 2
        color = r.get("color", COLORS["grey"])
        body.append(_text(f.x0 - 8, y + 4, r["label"], "end"))
        if r.get("value") is None:
            body.append(_text(f.x0 + 4, y + 4, "missing", extra=' fill="#999"'))
            continue
        if r.get("lo") is not None:
            body.append(f'<line x1="{_n(f.x(r["lo"]))}" y1="{_n(y)}" x2="{_n(f.x(r["hi"]))}" y2="{_n(y)}" '
                        f'stroke="{color}" stroke-width="2"/>')
        body.append(f'<circle cx="{_n(f.x(r["value"]))}" cy="{_n(y)}" r="4" fill="{color}">'
                    f'<title>{escape(_row_tip(r))}</title></circle>')
    return _svg(width, height, body, title)


def _row_tip(r: dict) -> str:
    s = f"{r['label']}: {r['value']:.1f}"
    if r.get("lo") is not None:
        s += f" [{r['lo']:.1f}, {r['hi']:.1f}]"
    return s
