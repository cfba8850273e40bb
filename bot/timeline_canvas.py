"""The timeline chart's canvas: its pixel geometry, type sizes and colours, and the fitting of dates and text onto it.

Shared by the page layout (``bot.timeline_chart``) and the row drawing (``bot.timeline_rows``) so both
measure in the same units. Nothing here imports matplotlib at module level: other commands must start
without paying for it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.model import Status

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


def date_x(day: date) -> float:
    """Days since matplotlib's epoch, the unit its date locators and formatters read."""
    from matplotlib.dates import date2num

    return float(date2num(day))
