"""Draws one timeline page as a PNG sized for a phone screen, and reports what it drew.

matplotlib is imported only when a chart is drawn, so other commands start without paying for it. The
Figure is built without pyplot (no global figure registry to leak from), and drawing is serialised by a
lock because matplotlib does not promise thread safety while the bot renders in worker threads. The
returned layout lists every row and mark, so tests check what the image encodes without reading pixels.
This module lays out the page (header, axes, legend, note); each row is drawn by ``bot.timeline_rows``.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.deadlines import fmt_day
from bot.errors import PledgewatchError
from bot.model import Status
from bot.timeline import Page, subtitle
from bot.timeline_canvas import (AXES_PX, COLOURS, DPI, FOOT_PX, HEADLINE, INK, LABEL_PT, LEGEND_GAP_PX,
                                 LEGEND_LINE_PX, MUTED, NOTE_PT, ROW_PX, SIDE_PX, SMALL_PT, STATUS_COLUMNS, SYMBOL,
                                 SYMBOL_COLUMNS, TICKS_PX, TITLE_LINE_PX, TITLE_PT, TODAY, WIDTH, Measure, date_x)
from bot.timeline_rows import RowLayout, draw_row

_LOCK = threading.Lock()


@dataclass(frozen=True)
class ChartLayout:
    """The image's size and everything it shows, in drawing order."""

    width: int
    height: int
    title: str
    subtitle: str
    rows: tuple[RowLayout, ...]
    legend: tuple[str, ...]
    today: date


class ChartUnavailable(PledgewatchError):
    """matplotlib is missing: say how to install it instead of failing with an import traceback."""


def render_page(page: Page) -> tuple[bytes, ChartLayout]:
    """The page as PNG bytes plus its layout; safe to call from several threads."""
    try:
        import matplotlib  # noqa: F401  (the real imports are in the drawing functions)
    except ImportError as exc:
        raise ChartUnavailable("drawing charts needs matplotlib (pip install 'matplotlib>=3.8,<4')") from exc
    with _LOCK:
        return _render(page)


def _render(page: Page) -> tuple[bytes, ChartLayout]:
    """Measure the title and legend first, since the figure's height depends on them, then draw top to bottom."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: a second of import time, paid per chart
    from matplotlib.figure import Figure

    timeline, rows = page.timeline, page.rows
    fig = Figure(figsize=(WIDTH / DPI, 1), dpi=DPI, facecolor="white")
    text = Measure(FigureCanvasAgg(fig))
    title = _title_lines(fig, text, timeline.title)
    used = _used(page)
    legend_px, n = _legend_height(used), max(1, len(rows))
    head_px = 24 + TITLE_LINE_PX * len(title) + 12 + 30 + 24
    height = head_px + 2 * TICKS_PX + n * ROW_PX + legend_px + FOOT_PX
    fig.set_size_inches(WIDTH / DPI, height / DPI)
    sub = subtitle(page)
    _header(fig, title, sub, height)
    axes_bottom = FOOT_PX + legend_px + TICKS_PX
    ax = fig.add_axes((SIDE_PX / WIDTH, axes_bottom / height, 1 - 2 * SIDE_PX / WIDTH, n * ROW_PX / height))
    x0, x1 = _xrange(timeline.start, timeline.end)
    ax.set_xlim(x0, x1)  # before the rows: deadline labels pick their side from it
    min_width = (x1 - x0) * 10 / AXES_PX  # a 10-day window on a 6-year axis stays visible
    drawn = tuple(draw_row(ax, text, i, row, timeline.today, min_width) for i, row in enumerate(rows))
    if not rows:
        ax.text(0.5, 0.5, "No commitments", transform=ax.transAxes, ha="center", va="center", fontsize=LABEL_PT,
                color=MUTED)
    _axes(ax, n, x0, x1, timeline.today)
    labels = _legend(fig, used, timeline.today, axes_bottom - TICKS_PX - 10, height)
    hidden = timeline.hidden_headlines
    note = "Dated commitments first, by deadline, then ongoing ones" + (
        f" · {hidden} headline{'s' if hidden != 1 else ''} outside this period not shown" if hidden else "")
    text.fit(fig.text(SIDE_PX / WIDTH, 14 / height, "", fontsize=NOTE_PT, color=MUTED, va="bottom"), note, AXES_PX)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue(), ChartLayout(WIDTH, height, " ".join(title), sub, drawn, labels, timeline.today)


def _xrange(start: date, end: date) -> tuple[float, float]:
    """The period with a margin each side, so a mark on the first or last day is not cut by the frame."""
    pad = max(timedelta(days=10), (end - start) * 0.03)
    return date_x(start - pad), date_x(end + pad)


def _title_lines(fig: Any, text: Measure, title: str) -> list[str]:
    """The agreement's title wrapped at words on at most two lines, the second cut with "…" if need be."""
    probe = fig.text(0, 0, "", fontsize=TITLE_PT, fontweight="bold")
    words = title.split()
    take = len(words)
    while take > 1 and text.width(probe, " ".join(words[:take])) > AXES_PX:
        take -= 1
    lines = [text.fit(probe, " ".join(words[:take]), AXES_PX)]
    if words[take:]:
        lines.append(text.fit(probe, " ".join(words[take:]), AXES_PX))
    probe.remove()
    return lines


def _header(fig: Any, title: list[str], sub: str, height: int) -> None:
    """Title and score line, placed in pixels from the top so they keep their place whatever the height."""
    x, top = SIDE_PX / WIDTH, 1 - 24 / height
    fig.text(x, top, "\n".join(title), fontsize=TITLE_PT, fontweight="bold", color=INK, va="top", linespacing=1.2)
    fig.text(x, top - (len(title) * TITLE_LINE_PX + 12) / height, sub, fontsize=SMALL_PT, color=MUTED, va="top")


def _axes(ax: Any, n: int, x0: float, x1: float, today: date) -> None:
    """Dates on both edges (a tall chart is read far from one), year gridlines, the today line."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    ax.set_xlim(x0, x1)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(date_x(today), color=TODAY, lw=2.5, ls=(0, (6, 3)), zorder=4)
    locator = AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(
        locator, formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S"],
        zero_formats=["", "%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M"], show_offset=False))
    ax.tick_params(axis="x", labelsize=SMALL_PT, labeltop=True, top=True, colors=MUTED, length=6)
    ax.set_yticks([])
    ax.grid(axis="x", color="#d0d3d8", lw=1, zorder=0)
    ax.set_axisbelow(True)
    ax.spines[["left", "right"]].set_visible(False)
    ax.spines[["top", "bottom"]].set_color("#b0b4ba")


def _used(page: Page) -> tuple[list[Status], list[str]]:
    """What this page draws: its statuses in the scale's order, and the kinds of mark on it."""
    rows = page.rows
    statuses = [s for s in Status if any(r.status is s for r in rows)]
    checks = (("day", any(r.deadline and not r.deadline.fuzzy for r in rows)),
              ("period", any(r.deadline and r.deadline.fuzzy for r in rows)),
              ("original", any(r.superseded for r in rows)),
              ("overdue", any(r.overdue for r in rows)),
              ("ongoing", any(r.ongoing for r in rows)),
              ("headline", any(r.headlines for r in rows)),
              ("today", True))
    return statuses, [name for name, on in checks if on]


def _legend_height(used: tuple[list[Status], list[str]]) -> int:
    """Pixels the legend needs, known before drawing because the figure's height depends on it."""
    statuses, symbols = used
    lines = -(-len(statuses) // STATUS_COLUMNS) + -(-len(symbols) // SYMBOL_COLUMNS)
    return lines * LEGEND_LINE_PX + LEGEND_GAP_PX


def _legend(fig: Any, used: tuple[list[Status], list[str]], today: date, top_px: float, height: int) -> tuple[str, ...]:
    """Status colours on their own lines, then the marks in dark grey so no symbol reads as a status."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    statuses, names = used
    symbols: dict[str, tuple[Any, str]] = {
        "day": (Line2D([], [], marker="D", ms=13, color=SYMBOL, ls="none"), "deadline (a day)"),
        "period": (Patch(fc=SYMBOL, ec=SYMBOL), "deadline period (month, quarter…)"),
        "original": (Line2D([], [], marker="D", ms=13, mfc="white", mec=SYMBOL, mew=2.5, ls="none"),
                     "original deadline, since revised"),
        "overdue": (Line2D([], [], color=SYMBOL, lw=2.5, ls=(0, (4, 3))), "past deadline, still open"),
        "ongoing": (Patch(fc=SYMBOL, alpha=0.25, ec="none"), "ongoing: agreed → today"),
        "headline": (Line2D([], [], marker="o", ms=10, color=HEADLINE, mec="white", ls="none"), "matched headline"),
        "today": (Line2D([], [], color=TODAY, lw=2.5, ls=(0, (6, 3))), f"today, {fmt_day(today)}"),
    }
    status_labels = [s.label for s in statuses]
    style = {"fontsize": SMALL_PT, "frameon": False, "handlelength": 1.6, "columnspacing": 1.4, "borderaxespad": 0,
             "labelspacing": 0.5, "handletextpad": 0.6}
    x = SIDE_PX / WIDTH
    fig.legend([Patch(fc=COLOURS[s], ec=COLOURS[s]) for s in statuses], status_labels, loc="upper left",
               bbox_to_anchor=(x, top_px / height), ncols=STATUS_COLUMNS, **style)
    below = top_px - -(-len(statuses) // STATUS_COLUMNS) * LEGEND_LINE_PX - LEGEND_GAP_PX
    fig.legend([symbols[n][0] for n in names], [symbols[n][1] for n in names], loc="upper left",
               bbox_to_anchor=(x, below / height), ncols=SYMBOL_COLUMNS, **style)
    return tuple(status_labels + [symbols[n][1] for n in names])
