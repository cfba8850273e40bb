"""Inline keyboards as plain values: built by the core, stored in the outbox as JSON, drawn by the Telegram edge."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data


@dataclass(frozen=True)
class Button:
    """One inline button; ``data`` comes back to the bot when pressed (Telegram's callback_data)."""

    text: str
    data: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a button needs a label")
        if not 1 <= len(self.data.encode()) <= MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data must be 1-{MAX_CALLBACK_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True)
class Keyboard:
    """Rows of buttons; stored as JSON rows of ``[text, data]`` pairs so a queued message keeps them."""

    rows: tuple[tuple[Button, ...], ...] = ()

    @classmethod
    def of(cls, *rows: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> Keyboard:
        """Build from rows of ``(text, data)`` pairs."""
        return cls(tuple(tuple(Button(text, data) for text, data in row) for row in rows))

    def to_dict(self) -> dict[str, Any]:
        """The Bot API's ``reply_markup`` object."""
        return {"inline_keyboard": [[{"text": b.text, "callback_data": b.data} for b in row] for row in self.rows]}

    def to_json(self) -> str:
        return json.dumps([[[b.text, b.data] for b in row] for row in self.rows], ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Keyboard:
        return cls.of(*json.loads(raw))

    def __bool__(self) -> bool:
        return any(self.rows)
