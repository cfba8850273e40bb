"""Draws one timeline page as a PNG sized for a phone screen, and reports what it drew.

matplotlib is imported only when a chart is drawn, so other commands start without paying for it. The
Figure is built without pyplot (no global figure registry to leak from), and drawing is serialised by a
lock because matplotlib does not promise thread safety while the bot renders in worker threads. The
returned layout lists every row and mark, so tests check what the image encodes without reading pixels.
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
from bot.timeline import Page, Row, Window, deadline_text, subtitle

WIDTH = 1080  # pixels: a phone shows it full width, so text is drawn at the size it will be read
DPI = 100
ROW_PX, TITLE_LINE_PX, TICKS_PX, FOOT_PX, SIDE_PX = 100, 40, 46, 56, 28
AXES_PX = WIDTH - 2 * SIDE_PX
LEGEND_LINE_PX, LEGEND_GAP_PX = 38, 14
TITLE_PT, LABEL_PT, SMALL_PT, NOTE_PT = 24, 19, 17, 14
INK, MUTED, HEADLINE, TODAY, SYMBOL = "#1a1a1a", "#5f6368", "#202124", "#c5221f", "#3c4043"
# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies; every row also says its status.
COLOURS: dict[Status, str] = {
    Status.PENDING: "#8a8f96", Status.IN_PROGRESS: "#0072b2", Status.STALLED: "#e69f00",
    Status.PARTIAL: "#cc79a7", Status.MET: "#009e73", Status.MISSED: "#d55e00",
}
STATUS_COLUMNS, SYMBOL_COLUMNS = 3, 2
LABEL_X, LABEL_GAP_PX, DEADLINE_GAP_PX = 0.003, 14, 24
_LOCK = threading.Lock()


@dataclass(frozen=True)
class RowLayout:
    """What was drawn on one row."""

    commitment_id: str
    label: str
    colour: str
    markers: int  # solid day-deadline markers (the deadline in force)
    spans: int  # solid windows (a period deadline in force)
    originals: int  # superseded deadlines, drawn hollow or faded
    links: int  # arrows from each superseded deadline to its replacement
    band: bool  # the light agreed-to-today band of an ongoing pledge
    overdue: bool  # the dashed stretch from an open deadline to today
    headlines: int  # headline dots


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
    drawn = tuple(_draw_row(ax, text, i, row, timeline.today, min_width) for i, row in enumerate(rows))
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


class Measure:
    """Fits text to pixels with the renderer's real metrics, so labels use the width there is, not a guess."""

    def __init__(self, canvas: Any) -> None:
        self.canvas = canvas

    def width(self, artist: Any, value: str | None = None) -> float:
        """The artist's width in pixels, with ``value`` as its text when given."""
        if value is not None:
            artist.set_text(value)
        return float(artist.get_window_extent(self.canvas.get_renderer()).width)

    def fit(self, artist: Any, text: str, room: float) -> str:
        """Set the longest start of ``text`` that fits ``room`` px, cut at a word with "…" when it must be cut."""
        text = " ".join(text.split())
        if self.width(artist, text) <= room:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.width(artist, text[:mid].rstrip() + "…") <= room else (lo, mid - 1)
        cut = text[:lo]
        if " " in cut.strip() and lo < len(text) and text[lo] != " ":
            cut = cut[: cut.rindex(" ")]
        fitted = cut.rstrip(" ,;:·-(") + "…"
        artist.set_text(fitted)
        return fitted


def _num(day: date) -> float:
    """Days since matplotlib's epoch, the unit its date locators and formatters read."""
    from matplotlib.dates import date2num

    return float(date2num(day))


def _xrange(start: date, end: date) -> tuple[float, float]:
    pad = max(timedelta(days=10), (end - start) * 0.03)
    return _num(start - pad), _num(end + pad)


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
    x, top = SIDE_PX / WIDTH, 1 - 24 / height
    fig.text(x, top, "\n".join(title), fontsize=TITLE_PT, fontweight="bold", color=INK, va="top", linespacing=1.2)
    fig.text(x, top - (len(title) * TITLE_LINE_PX + 12) / height, sub, fontsize=SMALL_PT, color=MUTED, va="top")


def _draw_row(ax: Any, text: Measure, i: int, row: Row, today: date, min_width: float) -> RowLayout:
    """Label line (id, title, status) over a track with the deadline, its history and the news dots."""
    colour, shade = COLOURS[row.status], "#f2f3f5" if i % 2 else "white"
    if i % 2:
        ax.axhspan(i - 0.5, i + 0.5, color=shade, zorder=0, lw=0)
    label_y, y = i - 0.42, i + 0.2
    style = {"transform": ax.get_yaxis_transform(), "fontsize": LABEL_PT, "va": "top", "zorder": 6,
             "bbox": {"boxstyle": "square,pad=0.08", "fc": shade, "ec": "none"}}  # hides lines behind the text
    ident = ax.text(LABEL_X, label_y, "", fontweight="bold", color=INK, ha="left", **style)
    text.fit(ident, row.commitment_id, AXES_PX * 0.6)
    status = ax.text(1 - LABEL_X, label_y, row.status.label, fontweight="bold", color=colour, ha="right", **style)
    start_px = LABEL_X * AXES_PX + text.width(ident) + LABEL_GAP_PX
    title_art = ax.text(start_px / AXES_PX, label_y, "", color=INK, ha="left", **style)
    title = text.fit(title_art, row.title, (1 - LABEL_X) * AXES_PX - text.width(status) - LABEL_GAP_PX - start_px)
    markers = spans = links = 0
    if row.deadline is None:
        start = row.agreed or today
        ax.barh(y, _num(today) - _num(start), left=_num(start), height=0.36, color=colour, alpha=0.25, lw=0, zorder=1)
    else:
        links = _history(ax, row, y, today, colour, min_width)
        spans = int(_mark(ax, row.deadline, y, colour, min_width, solid=True))
        markers = 1 - spans
        _deadline_label(ax, text, row, y, shade)
    if row.headlines:
        ax.scatter([_num(d) for d in row.headlines], [y] * len(row.headlines), s=80, color=HEADLINE,
                   edgecolors="white", linewidths=1.2, alpha=0.85, zorder=5)
    return RowLayout(row.commitment_id, f"{row.commitment_id}  {title}", colour, markers, spans,
                     len(row.superseded), links, row.ongoing, row.overdue, len(row.headlines))


def _history(ax: Any, row: Row, y: float, today: date, colour: str, min_width: float) -> int:
    """The time given (agreed → deadline), the overdue stretch, and superseded deadlines linked to the next one."""
    assert row.deadline is not None
    if row.agreed and row.agreed < row.deadline.start:
        ax.plot([_num(row.agreed), _num(row.deadline.start)], [y, y], color=colour, lw=2, alpha=0.5, zorder=1)
    if row.overdue:
        ax.plot([_num(row.deadline.due), _num(today)], [y, y], color=colour, lw=2.5, ls=(0, (4, 3)), zorder=1)
    chain = [*row.superseded, row.deadline]
    for old, new in zip(chain, chain[1:]):  # old → new along the track, edge to edge
        tip = new.start if new.start > old.due else new.due
        ax.annotate("", xy=(_num(tip), y), xytext=(_num(old.due) + 1, y), zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.5, "shrinkA": 6, "shrinkB": 10,
                                "mutation_scale": 22})
        _mark(ax, old, y, colour, min_width, solid=False)
    return len(chain) - 1


def _mark(ax: Any, window: Window, y: float, colour: str, min_width: float, *, solid: bool) -> bool:
    """A span for a period deadline, a diamond for a day; superseded ones hollow and faded. True for a span."""
    if window.fuzzy:
        width = max(_num(window.due) - _num(window.start) + 1, min_width)
        ax.barh(y, width, left=_num(window.due) + 1 - width, height=0.5, zorder=3, lw=2.5,
                color=colour if solid else "white", alpha=1 if solid else 0.75, edgecolor=colour,
                ls="solid" if solid else (0, (2, 1.5)))
        return True
    ax.plot([_num(window.due)], [y], marker="D", ms=16, zorder=3, color=colour, mec=colour,
            mfc=colour if solid else "white", mew=2.5, alpha=1 if solid else 0.75, ls="none")
    return False


def _deadline_label(ax: Any, text: Measure, row: Row, y: float, shade: str) -> None:
    """Beside the deadline marks, on the side with more room, cut to fit, over a patch so lines don't cross it."""
    assert row.deadline is not None
    windows = (*row.superseded, row.deadline)
    lo, hi = ax.get_xlim()
    left_px = (min(_num(w.start) for w in windows) - lo) / (hi - lo) * AXES_PX - DEADLINE_GAP_PX
    right_px = AXES_PX - (max(_num(w.due) for w in windows) + 1 - lo) / (hi - lo) * AXES_PX - DEADLINE_GAP_PX
    right = right_px >= left_px
    x = max(_num(w.due) + 1 for w in windows) if right else min(_num(w.start) for w in windows)
    label = ax.annotate("", xy=(x, y), xytext=(DEADLINE_GAP_PX * 72 / DPI * (1 if right else -1), 0),
                        textcoords="offset points", ha="left" if right else "right", va="center", fontsize=SMALL_PT,
                        color=INK, zorder=6, bbox={"boxstyle": "round,pad=0.2", "fc": shade, "ec": "none"})
    text.fit(label, deadline_text(row), (right_px if right else left_px) - 8)


def _axes(ax: Any, n: int, x0: float, x1: float, today: date) -> None:
    """Dates on both edges (a tall chart is read far from one), year gridlines, the today line."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    ax.set_xlim(x0, x1)
    ax.set_ylim(n - 0.5, -0.5)
    ax.axvline(_num(today), color=TODAY, lw=2.5, ls=(0, (6, 3)), zorder=4)
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
