"""Telegram command and button handlers: read the update, compute the reply in a worker thread, send it.

Replies are built by ``bot.command_replies`` off the event loop (SQLite reads can wait behind a big poll's
write), so the bot keeps answering while feeds are being ingested. Inline buttons carry data a client can
forge, so every press is parsed against the current catalog and admin actions check the presser's id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from telegram import (CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message,
                      Update, User)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.clock import Clock
from bot.command_lists import MARK_USAGE, help_view, private_only_view, refusal_view, usage_view
from bot.command_replies import (Reply, detail_reply, list_reply, mark_reply, news_query_reply, news_reply,
                                 overdue_reply, status_reply, subscribe_reply, unsubscribe_reply, upcoming_reply)
from bot.curation import EVIDENCE, matched, record_verdict
from bot.telegram_transport import to_markup
from bot.buttons import Button
from bot.keyboards import Curate, Keyboard, ListPage, Noop, OpenCommitment, OpenNews, parse_callback, settle
from bot.model import Config
from bot.richtext import Rich
from bot.store import Store

log = logging.getLogger("pledgewatch.commands")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
MAX_DAYS = 3650
STALE = "This button is out of date or not valid. Send the command again."
Context = ContextTypes.DEFAULT_TYPE


@dataclass(frozen=True)
class BotServices:
    """What the handlers need: the store, the clock, the live configuration (re-read on every update) and admins."""

    store: Store
    clock: Clock
    config: Callable[[], Config]
    admin_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "admin_ids", frozenset(int(x) for x in self.admin_ids))


def actor_name(user: User) -> str:
    """How a person is named in the status history: @username, else their name."""
    return f"@{user.username}" if user.username else (user.full_name or str(user.id))


def _words(context: Context) -> str:
    return " ".join(context.args or [])


class Handlers:
    """The bot's handlers, bound to the services they read."""

    def __init__(self, services: BotServices) -> None:
        self.services = services
        self.admins = services.admin_ids

    def now(self) -> datetime:
        """Time comes from the injected clock, so tests control it."""
        return self.services.clock.now()

    async def compute(self, fn: Callable[..., Reply], *args: object) -> Reply:
        """Build a reply in a worker thread with the current config."""
        return await asyncio.to_thread(fn, self.services.store, self.services.config(), *args)

    async def send(self, message: Message | None, reply: Reply | Rich) -> None:
        """Answer in the chat the command came from, as escaped HTML without link previews."""
        if message is None:
            return
        if isinstance(reply, Rich):
            reply = Reply(reply)
        await message.reply_html(reply.rich.html(), reply_markup=to_markup(reply.keyboard),
                                 link_preview_options=NO_PREVIEW)

    async def start(self, update: Update, context: Context) -> None:
        """Greet and explain what the bot does."""
        await self.send(update.effective_message, help_view(greeting=True))

    async def help_command(self, update: Update, context: Context) -> None:
        """List the commands."""
        await self.send(update.effective_message, help_view())

    async def status(self, update: Update, context: Context) -> None:
        """Show one commitment in full, a choice, or the overview."""
        await self.send(update.effective_message, await self.compute(status_reply, _words(context), self.now()))

    async def list_command(self, update: Update, context: Context) -> None:
        """Show the first page of commitments, optionally for one agreement or tag."""
        await self.send(update.effective_message, await self.compute(list_reply, _words(context), 0, self.now()))

    async def upcoming(self, update: Update, context: Context) -> None:
        """Show open commitments due within N days."""
        word = _words(context).strip()
        if word and not (word.isdecimal() and int(word) <= MAX_DAYS):
            hint = f"days: 0 to {MAX_DAYS}, e.g. /upcoming 90"
            await self.send(update.effective_message, usage_view("/upcoming [days]", hint))
            return
        await self.send(update.effective_message, await self.compute(upcoming_reply, int(word or 30), self.now()))

    async def overdue(self, update: Update, context: Context) -> None:
        """Show open commitments past their deadline."""
        await self.send(update.effective_message, await self.compute(overdue_reply, self.now()))

    async def news(self, update: Update, context: Context) -> None:
        """Show a commitment's latest matched headlines."""
        if not context.args:
            await self.send(update.effective_message, usage_view("/news ID", "Find ids with /list or /status words."))
            return
        await self.send(update.effective_message, await self.compute(news_query_reply, _words(context), self.now()))

    async def _private(self, update: Update, context: Context, command: str) -> bool:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            return True
        await self.send(update.effective_message, private_only_view(command, context.bot.username))
        return False

    async def subscribe(self, update: Update, context: Context) -> None:
        """Follow a commitment (or all) in this private chat."""
        if await self._private(update, context, "subscribe") and update.effective_chat:
            await self.send(update.effective_message, await self.compute(
                subscribe_reply, update.effective_chat.id, _words(context), self.now()))

    async def unsubscribe(self, update: Update, context: Context) -> None:
        """Stop following a commitment (or all) in this private chat."""
        if await self._private(update, context, "unsubscribe") and update.effective_chat:
            await self.send(update.effective_message, await self.compute(
                unsubscribe_reply, update.effective_chat.id, _words(context)))

    async def mark(self, update: Update, context: Context) -> None:
        """Record a status set by an admin, with who and when."""
        user = update.effective_user
        if user is None or user.id not in self.admins:
            await self.send(update.effective_message, refusal_view())
            return
        args = list(context.args or [])
        if len(args) < 2:
            await self.send(update.effective_message, usage_view(MARK_USAGE, "e.g. /mark sv-regular-review "
                                                                  "in_progress https://example.org/report talks resumed"))
            return
        await self.send(update.effective_message, await self.compute(
            mark_reply, args, actor_name(user), user.id, self.now()))

    async def button(self, update: Update, context: Context) -> None:
        """Act on an inline button, trusting nothing in its data."""
        query = update.callback_query
        if query is None:
            return
        action = parse_callback(query.data, self.services.config().catalog)
        if action is None:
            await query.answer(STALE, show_alert=True)
        elif isinstance(action, Noop):
            await query.answer("Already recorded.")
        elif isinstance(action, Curate):
            await self._curate(query, action)
        elif not isinstance(query.message, Message):
            await query.answer(STALE, show_alert=True)
        elif isinstance(action, ListPage):
            reply = await self.compute(list_reply, action.filter, action.page, self.now())
            await query.answer()
            await _edit(query, reply)
        else:
            config = self.services.config()
            commitment = config.catalog.by_id[action.commitment_id]
            reply = (await self.compute(detail_reply, commitment, self.now()) if isinstance(action, OpenCommitment)
                     else await self.compute(news_reply, commitment))
            await query.answer()
            await query.message.reply_html(reply.rich.html(), do_quote=False, link_preview_options=NO_PREVIEW,
                                           reply_markup=to_markup(reply.keyboard))

    async def _curate(self, query: CallbackQuery, action: Curate) -> None:
        user = query.from_user
        if user.id not in self.admins:
            await query.answer("Only the bot's admins can curate headlines.", show_alert=True)
            return
        store, now = self.services.store, self.now()

        def record() -> bool:
            if not matched(store, action.story_id, action.commitment_id):
                return False
            record_verdict(store, action.story_id, action.commitment_id, action.verdict, user.id, now)
            return True

        if not await asyncio.to_thread(record):
            await query.answer("That headline is not a match for this commitment.", show_alert=True)
            return
        await query.answer("Recorded: counts as evidence." if action.verdict == EVIDENCE
                           else "Recorded: not relevant. It won't be posted for this commitment again.")
        if isinstance(query.message, Message):
            try:
                current = query.message.reply_markup
                shown = Keyboard(tuple(tuple(Button(b.text, str(b.callback_data)) for b in row if b.callback_data)
                                       for row in current.inline_keyboard)) if current else Keyboard()
                settled = settle(shown, query.data or "", action.verdict, actor_name(user), action.commitment_id)
                await query.edit_message_reply_markup(to_markup(settled))
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise


async def _edit(query: CallbackQuery, reply: Reply) -> None:
    """Replace a message in place (paging); a double press that changes nothing is not an error."""
    try:
        await query.edit_message_text(reply.rich.html(), parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                      reply_markup=to_markup(reply.keyboard))
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
