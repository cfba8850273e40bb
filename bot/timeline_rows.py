"""Draws one commitment's row of the timeline chart (label line, deadline marks, history, news) and reports it.

A row is the chart's unit of meaning, so its drawing is kept apart from the page around it
(``bot.timeline_chart``): the RowLayout it returns lets tests check what the row encodes without
reading pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.timeline import Row, Window, deadline_text
from bot.timeline_canvas import (AXES_PX, COLOURS, DEADLINE_GAP_PX, DPI, HEADLINE, INK, LABEL_GAP_PX, LABEL_PT,
                                 LABEL_X, SMALL_PT, Measure, date_x)


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


def draw_row(ax: Any, text: Measure, i: int, row: Row, today: date, min_width: float) -> RowLayout:
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
        ax.barh(y, date_x(today) - date_x(start), left=date_x(start), height=0.36, color=colour, alpha=0.25, lw=0,
                zorder=1)
    else:
        links = _history(ax, row, y, today, colour, min_width)
        spans = int(_mark(ax, row.deadline, y, colour, min_width, solid=True))
        markers = 1 - spans
        _deadline_label(ax, text, row, y, shade)
    if row.headlines:
        ax.scatter([date_x(d) for d in row.headlines], [y] * len(row.headlines), s=80, color=HEADLINE,
                   edgecolors="white", linewidths=1.2, alpha=0.85, zorder=5)
    return RowLayout(row.commitment_id, f"{row.commitment_id}  {title}", colour, markers, spans,
                     len(row.superseded), links, row.ongoing, row.overdue, len(row.headlines))


def _history(ax: Any, row: Row, y: float, today: date, colour: str, min_width: float) -> int:
    """The time given (agreed → deadline), the overdue stretch, and superseded deadlines linked to the next one."""
    assert row.deadline is not None
    if row.agreed and row.agreed < row.deadline.start:
        ax.plot([date_x(row.agreed), date_x(row.deadline.start)], [y, y], color=colour, lw=2, alpha=0.5, zorder=1)
    if row.overdue:
        ax.plot([date_x(row.deadline.due), date_x(today)], [y, y], color=colour, lw=2.5, ls=(0, (4, 3)), zorder=1)
    chain = [*row.superseded, row.deadline]
    for old, new in zip(chain, chain[1:]):  # old → new along the track, edge to edge
        tip = new.start if new.start > old.due else new.due
        ax.annotate("", xy=(date_x(tip), y), xytext=(date_x(old.due) + 1, y), zorder=2,
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.5, "shrinkA": 6, "shrinkB": 10,
                                "mutation_scale": 22})
        _mark(ax, old, y, colour, min_width, solid=False)
    return len(chain) - 1


def _mark(ax: Any, window: Window, y: float, colour: str, min_width: float, *, solid: bool) -> bool:
    """A span for a period deadline, a diamond for a day; superseded ones hollow and faded. True for a span."""
    if window.fuzzy:
        width = max(date_x(window.due) - date_x(window.start) + 1, min_width)
        ax.barh(y, width, left=date_x(window.due) + 1 - width, height=0.5, zorder=3, lw=2.5,
                color=colour if solid else "white", alpha=1 if solid else 0.75, edgecolor=colour,
                ls="solid" if solid else (0, (2, 1.5)))
        return True
    ax.plot([date_x(window.due)], [y], marker="D", ms=16, zorder=3, color=colour, mec=colour,
            mfc=colour if solid else "white", mew=2.5, alpha=1 if solid else 0.75, ls="none")
    return False


def _deadline_label(ax: Any, text: Measure, row: Row, y: float, shade: str) -> None:
    """Beside the deadline marks, on the side with more room, cut to fit, over a patch so lines don't cross it."""
    assert row.deadline is not None
    windows = (*row.superseded, row.deadline)
    lo, hi = ax.get_xlim()
    left_px = (min(date_x(w.start) for w in windows) - lo) / (hi - lo) * AXES_PX - DEADLINE_GAP_PX
    right_px = AXES_PX - (max(date_x(w.due) for w in windows) + 1 - lo) / (hi - lo) * AXES_PX - DEADLINE_GAP_PX
    right = right_px >= left_px
    x = max(date_x(w.due) + 1 for w in windows) if right else min(date_x(w.start) for w in windows)
    label = ax.annotate("", xy=(x, y), xytext=(DEADLINE_GAP_PX * 72 / DPI * (1 if right else -1), 0),
                        textcoords="offset points", ha="left" if right else "right", va="center", fontsize=SMALL_PT,
                        color=INK, zorder=6, bbox={"boxstyle": "round,pad=0.2", "fc": shade, "ec": "none"})
    text.fit(label, deadline_text(row), (right_px if right else left_px) - 8)
