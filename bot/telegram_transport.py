"""The one place that talks to the Bot API: send one outbox item, say what happened as a value.

Every PTB exception becomes a :data:`Delivery` so the sender decides with a ``match`` and never
has to know PTB's class tree (``BadRequest`` and ``TimedOut`` are both ``NetworkError``s, and
order matters). Texts we produce never contain the bot token: PTB's own messages do not, but we
scrub it anyway, and we never format the bot, its URLs or a request into a message.

Who retries a 429: **our sender, not PTB.** :func:`make_bot` sets ``AIORateLimiter(max_retries=0)``
because PTB's retry sleeps inside the request, in memory, halting *every* request of the bot for
the whole ``retry_after`` (which Telegram can set to an hour), and is forgotten on restart. The
sender instead blocks only that chat, in SQLite, and moves on. The limiter still paces anything
sent outside the outbox (command replies, button answers) at Telegram's published rates.
"""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TextIO

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram import error as tg
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.buttons import Keyboard
from bot.outbox import OutboxItem


@dataclass(frozen=True)
class Sent:
    """Telegram accepted the message and gave it this id."""

    message_id: int


@dataclass(frozen=True)
class FloodWait:
    """429: nothing may be sent to this chat for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Transient:
    """5xx, a network failure or a timeout: try again later (the message *may* have landed)."""

    error: str


@dataclass(frozen=True)
class Forbidden:
    """403: the bot was blocked, kicked, or is not a member; writing there again is pointless."""

    description: str


@dataclass(frozen=True)
class Migrated:
    """The group became a supergroup with a new id; the same message should go there."""

    new_chat_id: str


@dataclass(frozen=True)
class BadEntities:
    """400 "can't parse entities": the HTML was refused, the plain text may still go."""

    description: str


@dataclass(frozen=True)
class BadRequest:
    """Any other 400 (too long, chat not found...): retrying the same request cannot help."""

    description: str


Delivery = Sent | FloodWait | Transient | Forbidden | Migrated | BadEntities | BadRequest


class Transport(Protocol):
    """Sends one outbox item and reports the outcome; never raises for a Telegram refusal."""

    async def send(self, item: OutboxItem) -> Delivery: ...


def make_bot(token: str, base_url: str | None = None) -> ExtBot[int]:
    """The production Bot: PTB's limiter paces requests but leaves 429 retries to our sender."""
    limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=20,
                             group_time_period=60, max_retries=0)
    if base_url is None:
        return ExtBot(token, rate_limiter=limiter)
    return ExtBot(token, base_url=base_url, rate_limiter=limiter)


class TelegramTransport:
    """Sends through an initialised PTB Bot (``async with bot`` is the caller's job)."""

    def __init__(self, bot: Bot):
        self.bot = bot
        secrets = sorted({bot.token, bot.token.partition(":")[2]} - {""}, key=len, reverse=True)
        # case-insensitive: PTB capitalize()s error texts, lowercasing any token echoed in them
        self._secrets = re.compile("|".join(re.escape(s) for s in secrets), re.IGNORECASE)

    async def send(self, item: OutboxItem) -> Delivery:
        chat: int | str = int(item.chat_id) if item.chat_id.lstrip("-").isdigit() else item.chat_id
        markup = to_markup(item.buttons)
        try:
            if item.plain:
                message = await self.bot.send_message(chat, item.text, parse_mode=None, reply_markup=markup)
            else:
                message = await self.bot.send_message(chat, item.html, parse_mode=ParseMode.HTML,
                                                      reply_markup=markup)
        except tg.RetryAfter as exc:
            return FloodWait(_seconds(exc))
        except tg.ChatMigrated as exc:
            return Migrated(str(int(exc.new_chat_id)))
        except tg.Forbidden as exc:
            return Forbidden(self._clean(exc))
        except tg.BadRequest as exc:  # before NetworkError: BadRequest is one
            text = self._clean(exc)
            if "can't parse entities" in text.lower():
                return BadEntities(text)
            return BadRequest(text)
        except tg.TimedOut as exc:
            return Transient(f"timed out: {self._clean(exc)}")
        except tg.NetworkError as exc:
            return Transient(self._clean(exc))
        except tg.InvalidToken:
            return Transient("Telegram refused the bot token (401/404): check TELEGRAM_BOT_TOKEN")
        except tg.TelegramError as exc:
            return BadRequest(self._clean(exc))
        return Sent(message.message_id)

    def _clean(self, exc: BaseException) -> str:
        """The error text with the token scrubbed out, whatever a lower layer put in it."""
        text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return self._secrets.sub("<token>", text)


class ConsoleTransport:
    """Prints the plain text instead of sending, for running without a token."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.sent = 0

    async def send(self, item: OutboxItem) -> Delivery:
        self.sent += 1
        print(f"── {item.kind} → {item.chat_id} ──\n{item.text}\n", file=self.stream, flush=True)
        return Sent(self.sent)


def to_markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """Our keyboard value as python-telegram-bot's markup (None when there are no buttons)."""
    if not keyboard:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row]
                                 for row in keyboard.rows])


def _seconds(exc: tg.RetryAfter) -> float:
    """``retry_after`` in seconds, whether PTB hands out an int or (PTB_TIMEDELTA) a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
