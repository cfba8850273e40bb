"""The notifier seam: where messages go. Telegram in production, the console without a token.

The poller and planner only produce Message values; delivery (and its retries) lives behind this
Protocol so the core never imports python-telegram-bot.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

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


class Notifier(Protocol):
    """Delivers a message; returns an id for it (Telegram's message_id, or a console counter)."""

    async def send(self, message: Message) -> str: ...


class ConsoleNotifier:
    """Prints messages to a stream; used when no TELEGRAM_BOT_TOKEN is set."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.sent = 0

    async def send(self, message: Message) -> str:
        self.sent += 1
        target = f" → {message.chat_id}" if message.chat_id else ""
        print(f"── {message.kind}{target} ──\n{message.text}\n", file=self.stream, flush=True)
        return f"console-{self.sent}"
