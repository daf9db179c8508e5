"""Server-rendered SVG charts for the dashboard: no JavaScript, no CDN, no network.

Each function returns one ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (read by
screen readers), text labels on the axes and a ``<title>`` tooltip on every mark; the page
also shows the numbers in a table. Every mark carries ``data-value`` (and ``data-series``)
so that a test can check the chart against the data without parsing geometry.

Plain string building through :func:`~django.utils.html.format_html`: every label is
escaped, numbers are formatted here. The drawing is deliberately simple: stacked bars per
day, a line per series, horizontal bars with links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 760
HEIGHT = 260
# Room for the y labels on the left and the x labels (and legend) below.
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 56


@dataclass(frozen=True)
class Series:
    """One named series: its key (CSS class, ``data-series``), label and colour."""

    key: str
    label: str
    colour: str


def _join(parts: Sequence[SafeString]) -> SafeString:
    """Concatenate already-built fragments (each escaped by format_html when built)."""
    return format_html_join("", "{}", ((part,) for part in parts))


def _fmt(template: str, *args: Any) -> SafeString:
    """``format_html`` with ``{:.1f}`` for coordinates: format_html escapes (and so
    stringifies) its arguments before formatting, so floats are formatted here first."""
    return format_html(
        template.replace("{:.1f}", "{}"),
        *(f"{a:.1f}" if isinstance(a, float) else a for a in args),
    )


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def _number(value: float) -> str:
    return formats.number_format(round(value, 1) if value % 1 else int(value), use_l10n=True)


def _frame(title: str, desc: str, body: SafeString, css: str, height: int = HEIGHT) -> SafeString:
    # One chart of each kind per page: its class names its title and description.
    uid = css
    return format_html(
        '<svg class="smsrest-chart {css}" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" aria-labelledby="{uid}-title {uid}-desc" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="{uid}-title">{title}</title><desc id="{uid}-desc">{desc}</desc>'
        "{body}</svg>",
        css=css,
        w=WIDTH,
        h=height,
        uid=uid,
        title=title,
        desc=desc,
        body=body,
    )


def _y_axis(top: float, label_for: Any, plot_h: float) -> SafeString:
    """Three gridlines (0, half, top) with their values."""
    parts = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            _fmt(
                '<line class="smsrest-grid" x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>'
                '<text class="smsrest-axis" x="{}" y="{:.1f}" text-anchor="end">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                y,
                y,
                LEFT - 6,
                y + 4,
                label_for(top * fraction),
            )
        )
    return _join(parts)


def _legend(series: Sequence[Series], y: float) -> SafeString:
    parts = []
    x = LEFT
    for s in series:
        parts.append(
            _fmt(
                '<rect x="{}" y="{:.1f}" width="10" height="10" fill="{}"/>'
                '<text class="smsrest-legend" x="{}" y="{:.1f}">{}</text>',
                x,
                y - 9,
                s.colour,
                x + 14,
                y,
                s.label,
            )
        )
        x += 24 + 7 * len(s.label)
    return _join(parts)


def _day_label(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def stacked_bars(
    days: Sequence[date],
    values: Mapping[date, Mapping[str, int]],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
) -> SafeString:
    """One bar per day, stacked by series (``values[day][series.key]``)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(values.get(d, {}).get(s.key, 0) for s in series) for d in days]
    top = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.75, 1)
    parts = [_y_axis(top, _number, plot_h)]
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y: float = TOP + plot_h
        for s in series:
            n = values.get(day, {}).get(s.key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                _fmt(
                    '<rect class="smsrest-mark" data-series="{}" data-value="{}" '
                    'x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">'
                    # "day, label: n": no plural to agree with in any language.
                    "<title>{}, {}: {}</title></rect>",
                    s.key,
                    n,
                    x,
                    y,
                    bar_w,
                    h,
                    s.colour,
                    _day_label(day),
                    s.label,
                    n,
                )
            )
        # A date under every fifth bar (and the last): 30 labels would overlap.
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(
                _fmt(
                    '<text class="smsrest-axis" x="{:.1f}" y="{}" text-anchor="middle">{}</text>',
                    x + bar_w / 2,
                    TOP + plot_h + 16,
                    formats.date_format(day, "j M"),
                )
            )
    parts.append(_legend(series, HEIGHT - 12))
    return _frame(title, desc, _join(parts), "smsrest-chart-bars")


def lines(
    points: Mapping[str, Sequence[tuple[date, int]]],
    series: Sequence[Series],
    first: date,
    last: date,
    *,
    title: str,
    desc: str,
) -> SafeString:
    """One line (with a dot per point) per series over the days ``first..last``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((v for pts in points.values() for _, v in pts), default=0))
    span = max((last - first).days, 1)

    def xy(day: date, value: int) -> tuple[float, float]:
        return LEFT + plot_w * (day - first).days / span, TOP + plot_h * (1 - value / top)

    parts = [_y_axis(top, _number, plot_h)]
    for s in series:
        pts = points.get(s.key, ())
        if not pts:
            continue
        coords = " ".join("{:.1f},{:.1f}".format(*xy(d, v)) for d, v in pts)
        parts.append(
            _fmt(
                '<polyline class="smsrest-line" data-series="{}" points="{}" fill="none" '
                'stroke="{}" stroke-width="2"/>',
                s.key,
                coords,
                s.colour,
            )
        )
        parts.extend(
            _fmt(
                '<circle class="smsrest-mark" data-series="{}" data-value="{}" cx="{:.1f}" '
                'cy="{:.1f}" r="3" fill="{}"><title>{}, {}: {}</title></circle>',
                s.key,
                v,
                *xy(d, v),
                s.colour,
                _day_label(d),
                s.label,
                _number(v),
            )
            for d, v in pts
        )
    for day in (first, last):
        parts.append(
            _fmt(
                '<text class="smsrest-axis" x="{:.1f}" y="{}" text-anchor="{}">{}</text>',
                xy(day, 0)[0],
                TOP + plot_h + 16,
                "start" if day == first else "end",
                formats.date_format(day, "j M"),
            )
        )
    parts.append(_legend(series, HEIGHT - 12))
    return _frame(title, desc, _join(parts), "smsrest-chart-lines")


def linked_bars(
    rows: Sequence[tuple[str, int, str]], *, colour: str, title: str, desc: str
) -> SafeString:
    """Horizontal bars, one per ``(label, value, url)``; the label links to ``url``."""
    row_h = 26
    height = TOP + row_h * max(len(rows), 1) + 8
    label_w = 380
    plot_w = WIDTH - label_w - RIGHT - 48
    top = max((v for _, v, _ in rows), default=0) or 1
    parts = []
    for i, (label, value, url) in enumerate(rows):
        y = TOP + i * row_h
        shown = label if len(label) <= 56 else label[:55] + "…"
        w = max(plot_w * value / top, 1)
        parts.append(
            _fmt(
                '<a class="smsrest-reason" href="{}"><title>{}</title>'
                '<text class="smsrest-label" x="{}" y="{}" text-anchor="end">{}</text></a>'
                '<rect class="smsrest-mark" data-value="{}" x="{}" y="{}" width="{:.1f}" '
                'height="{}" fill="{}"><title>{}: {}</title></rect>'
                '<text class="smsrest-value" x="{:.1f}" y="{}">{}</text>',
                url,
                label,
                label_w - 8,
                y + 15,
                shown,
                value,
                label_w,
                y + 3,
                w,
                row_h - 8,
                colour,
                label,
                value,
                label_w + w + 6,
                y + 15,
                _number(value),
            )
        )
    return _frame(title, desc, _join(parts), "smsrest-chart-reasons", height)
