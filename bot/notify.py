"""Messages as the core produces them; delivery lives behind ``bot.telegram_transport.Transport``.

The notifier seam has two implementations, ``TelegramTransport`` and ``ConsoleTransport``, chosen by
whether ``TELEGRAM_BOT_TOKEN`` is set; the poller, announcer and planner only produce Message values and
queue them in the outbox, so the core never imports python-telegram-bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.richtext import Rich


@dataclass(frozen=True)
class Message:
    """One message to deliver: HTML for Telegram, plain text for the console."""

    html: str
    text: str
    kind: str = "headline"  # "headline", "reminder", "digest", "admin"
    chat_id: str | None = None  # None: the configured channel

    @classmethod
    def from_rich(cls, rich: Rich, kind: str = "headline", chat_id: str | None = None) -> Message:
        return cls(rich.html(), rich.plain(), kind, chat_id)
