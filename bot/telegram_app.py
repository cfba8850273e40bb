"""The python-telegram-bot Application: every handler registered, the command menu set, errors logged safely.

``build_application`` only builds; the caller decides how the loop runs. ``run_polling`` calls ``post_init``
and ``post_shutdown`` itself; a caller driving the lifecycle by hand (as ``pledgewatch run`` does, next to
the feed poller) uses ``polling`` below, which calls them in the same order. The bot token is secret: it
is scrubbed from everything this module logs, including httpx's request lines, which embed it in the URL.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (Application, BaseRateLimiter, CallbackQueryHandler, CommandHandler, ContextTypes,
                          filters)

from bot.command_lists import MENU
from bot.commands import BotServices, Handlers
from bot.commands_timeline import timeline_command

__all__ = ["BotServices", "build_application", "polling"]

log = logging.getLogger("pledgewatch.telegram")
Hook = Callable[[Application], Awaitable[None]]
# httpx logs each request URL (which holds the token); PTB's own loggers log errors that may quote one.
LEAKY_LOGGERS = ("httpx", "telegram", "telegram.Bot", "telegram.ext", "telegram.ext.Updater",
                 "telegram.ext.Application", "telegram.ext.ExtBot", "telegram.request.HTTPXRequest",
                 "telegram.request.BaseRequest")
MIN_SECRET = 16  # a real token's secret half is 35 characters; a shorter one is not worth scrubbing alone


class TokenFilter(logging.Filter):
    """Replaces the bot token in a log record's text, so logs can be shared without leaking the bot."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not a reason to break the caller
            return True
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(record.exc_info[1])).rstrip()
        if self.token and (self.token in text or _secret(self.token) in text):
            record.msg, record.args = redact(text, self.token), None
            record.exc_info, record.exc_text = None, None
        return True


def _secret(token: str) -> str:
    secret = token.split(":", 1)[-1]
    return secret if len(secret) >= MIN_SECRET else token


def redact(text: str, token: str) -> str:
    """The text with the token (and its secret half, should it appear alone) replaced."""
    return text.replace(token, "<token>").replace(_secret(token), "<secret>") if token else text


def _error_handler(token: str) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler's failure without the token, and tell the user something went wrong."""
        error = context.error
        details = "".join(traceback.format_exception(error)) if error else "unknown error"
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("error while handling update %s: %s", update_id, redact(details, token))
        if not isinstance(update, Update):
            return
        try:
            if update.callback_query is not None:
                await update.callback_query.answer("Sorry, something went wrong. Please try again.", show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text("Sorry, something went wrong. Please try again later.")
        except TelegramError as exc:
            log.warning("could not tell the user about the error: %s", redact(str(exc), token))

    return on_error


def build_application(token: str, *, base_url: str | None, services: BotServices, base_file_url: str | None = None,
                      rate_limiter: BaseRateLimiter | None = None, concurrent_updates: bool | int = 16,
                      post_init: Hook | None = None, post_shutdown: Hook | None = None) -> Application:
    """An Application with every command and button handler; polling is left to the caller.

    ``post_init``/``post_shutdown`` are extra hooks run after ours (menu set, filters installed) and
    before our cleanup respectively.
    """
    token_filter = TokenFilter(token)
    for name in LEAKY_LOGGERS:
        logging.getLogger(name).addFilter(token_filter)

    async def on_init(app: Application) -> None:
        """Publish the command menu, so Telegram's "/" list shows what the bot understands."""
        try:
            await app.bot.set_my_commands([BotCommand(name, text) for name, text in MENU])
        except TelegramError as exc:  # a missing menu is cosmetic: keep answering commands
            log.warning("could not set the command menu: %s", redact(str(exc), token))
        if post_init is not None:
            await post_init(app)

    async def on_shutdown(app: Application) -> None:
        """Run the caller's cleanup, then stop filtering loggers for this token."""
        try:
            if post_shutdown is not None:
                await post_shutdown(app)
        finally:
            for name in LEAKY_LOGGERS:
                logging.getLogger(name).removeFilter(token_filter)

    builder = Application.builder().token(token).post_init(on_init).post_shutdown(on_shutdown)
    builder = builder.concurrent_updates(concurrent_updates)
    if base_url:
        builder = builder.base_url(base_url)
    if base_file_url:
        builder = builder.base_file_url(base_file_url)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    app = builder.build()
    register(app, Handlers(services))
    app.add_error_handler(_error_handler(token))
    return app


def register(app: Application, handlers: Handlers) -> None:
    """Every command (new messages only: an edited command is not answered twice) and the button handler."""
    only_new = filters.UpdateType.MESSAGE
    for name, callback in (("start", handlers.start), ("help", handlers.help_command),
                           ("status", handlers.status), ("list", handlers.list_command),
                           ("upcoming", handlers.upcoming), ("overdue", handlers.overdue),
                           ("news", handlers.news), ("subscribe", handlers.subscribe),
                           ("unsubscribe", handlers.unsubscribe), ("mark", handlers.mark)):
        app.add_handler(CommandHandler(name, callback, filters=only_new))
    app.add_handler(CommandHandler("timeline", timeline_command(handlers.services), filters=only_new))
    app.add_handler(CallbackQueryHandler(handlers.button))


@asynccontextmanager
async def polling(app: Application, *, timeout: float = 10,
                  drop_pending_updates: bool = False) -> AsyncIterator[Application]:
    """Run the bot by long polling inside the caller's event loop, with the same hooks ``run_polling`` calls."""
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.start()
        try:
            updater = app.updater
            assert updater is not None, "polling needs the Application's updater"
            await updater.start_polling(timeout=timedelta(seconds=timeout), poll_interval=0,
                                        drop_pending_updates=drop_pending_updates)
            try:
                yield app
            finally:
                await updater.stop()
        finally:
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
