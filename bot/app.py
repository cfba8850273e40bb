"""The composition root: the one place that turns configuration and environment into live services.

Console mode (no ``TELEGRAM_BOT_TOKEN``) and Telegram mode differ only in the transport the sender uses
and where the main chat is; everything else is the same code.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from telegram.error import TelegramError

from bot.announce import Audience
from bot.clock import Clock
from bot.errors import ConfigError, Problem
from bot.fetch import FetchPolicy, HttpFetcher
from bot.model import Config
from bot.parser_pool import ParserPool
from bot.poller import Poller
from bot.sender import UNLIMITED, RateLimits, Sender
from bot.service import Service
from bot.store import Store
from bot.telegram_transport import ConsoleTransport, TelegramTransport, Transport, make_bot

log = logging.getLogger("pledgewatch.app")
DB_FILE = "pledgewatch.sqlite3"
CONSOLE_CHAT = "console"


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Runtime:
    """Settings that come from the environment rather than the TOML files."""

    config_dir: Path
    db_path: Path
    allow_private_hosts: bool = False
    telegram_token: str | None = None
    telegram_chat_id: str | None = None
    admin_ids: tuple[int, ...] = ()
    api_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], config_dir: Path, db_path: str | None = None) -> Runtime:
        """Read the environment once, at the edge; bad values are reported, not guessed at."""
        raw_admins = [x.strip() for x in (env.get("TELEGRAM_ADMIN_IDS") or "").split(",") if x.strip()]
        bad = [x for x in raw_admins if not x.lstrip("-").isdigit()]
        token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip() or None
        chat = (env.get("TELEGRAM_CHAT_ID") or "").strip() or None
        problems = [Problem("environment", f"{x!r} is not a numeric Telegram user id", key="TELEGRAM_ADMIN_IDS")
                    for x in bad]
        if token and not chat:
            problems.append(Problem("environment", "is required when TELEGRAM_BOT_TOKEN is set: the channel or "
                                    "group id (e.g. -1001234567890) or @channelusername", key="TELEGRAM_CHAT_ID"))
        if problems:
            raise ConfigError(problems)
        return cls(
            config_dir=config_dir,
            db_path=cls.default_db_path(env, config_dir, db_path),
            allow_private_hosts=truthy(env.get("PLEDGEWATCH_ALLOW_PRIVATE_HOSTS")),
            telegram_token=token, telegram_chat_id=chat,
            admin_ids=tuple(int(x) for x in raw_admins),
            api_base_url=(env.get("TELEGRAM_API_BASE_URL") or "").strip() or None,
        )

    @staticmethod
    def default_db_path(env: Mapping[str, str], config_dir: Path, explicit: str | None = None) -> Path:
        """--db, else $PLEDGEWATCH_DB, else pledgewatch.sqlite3 in the config folder."""
        return Path(explicit or env.get("PLEDGEWATCH_DB") or config_dir / DB_FILE)

    @property
    def mode(self) -> str:
        return "telegram" if self.telegram_token else "console"


def fetch_policy(config: Config, runtime: Runtime) -> FetchPolicy:
    settings = config.feeds.settings
    return FetchPolicy(total_timeout=settings.timeout.total_seconds(),
                       allow_private_hosts=settings.allow_private_hosts or runtime.allow_private_hosts)


async def chat_is_group(transport: Transport, chat_id: str) -> bool:
    """Whether the main chat is a group (its copies then carry the admins' curation buttons) or a channel."""
    if not isinstance(transport, TelegramTransport):
        return False
    try:
        chat = await transport.bot.get_chat(int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id)
    except TelegramError as exc:
        log.warning("could not look up the main chat (%s); treating it as a channel", type(exc).__name__)
        return False
    return chat.type in ("group", "supergroup")


@dataclass
class Core:
    """The long-lived resources a service runs on: the database, the HTTP client and the parser pool."""

    store: Store
    fetcher: HttpFetcher
    parser: ParserPool
    poller: Poller


@asynccontextmanager
async def open_core(config: Config, runtime: Runtime, clock: Clock,
                    parser_workers: int | None = None) -> AsyncIterator[Core]:
    """Open the store, HTTP client and parser pool; close them all whatever happens."""
    store = Store.open(runtime.db_path)
    try:
        async with HttpFetcher(fetch_policy(config, runtime), clock=clock) as fetcher, \
                ParserPool(parser_workers) as parser:
            yield Core(store, fetcher, parser, Poller(store, fetcher, parser, clock, config, random.Random()))
    finally:
        store.close()


async def build_service(core: Core, config: Config, runtime: Runtime, clock: Clock, transport: Transport) -> Service:
    """Wire the sender and audience for this transport around the core."""
    admins = frozenset(runtime.admin_ids)
    limits = RateLimits() if isinstance(transport, TelegramTransport) else UNLIMITED
    sender = Sender(core.store, transport, admin_chat_ids=[str(a) for a in sorted(admins)], limits=limits)
    main_chat = runtime.telegram_chat_id or CONSOLE_CHAT
    audience = Audience(main_chat, await chat_is_group(transport, main_chat), admins)
    return Service(config, runtime.config_dir, core.store, clock, core.poller, sender, audience)


@asynccontextmanager
async def open_service(config: Config, runtime: Runtime, clock: Clock, transport: Transport,
                       parser_workers: int | None = None) -> AsyncIterator[Service]:
    """Core plus service, for the one-shot commands."""
    async with open_core(config, runtime, clock, parser_workers) as core:
        yield await build_service(core, config, runtime, clock, transport)


@asynccontextmanager
async def transport_for(runtime: Runtime, out: TextIO | None = None) -> AsyncIterator[Transport]:
    """The console printer without a token; an initialised Telegram bot with one (closed afterwards)."""
    if not runtime.telegram_token:
        yield ConsoleTransport(out or sys.stdout)
        return
    bot = make_bot(runtime.telegram_token, runtime.api_base_url)
    async with bot:
        yield TelegramTransport(bot)
