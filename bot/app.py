"""The composition root: the one place that turns configuration and environment into live services."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.agenda import standing
from bot.clock import Clock
from bot.fetch import FetchPolicy, HttpFetcher
from bot.history import also_reported_by
from bot.messages import headline_message
from bot.model import Config
from bot.notify import ConsoleNotifier, Notifier
from bot.parse import ParserPool
from bot.poller import Poller, PollSummary
from bot.store import Store

log = logging.getLogger("pledgewatch.app")
DB_FILE = "pledgewatch.sqlite3"


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
        admins = tuple(int(x) for x in (env.get("TELEGRAM_ADMIN_IDS") or "").replace(" ", "").split(",") if x.lstrip("-").isdigit())
        return cls(
            config_dir=config_dir,
            db_path=Path(db_path or env.get("PLEDGEWATCH_DB") or config_dir / DB_FILE),
            allow_private_hosts=truthy(env.get("PLEDGEWATCH_ALLOW_PRIVATE_HOSTS")),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_chat_id=env.get("TELEGRAM_CHAT_ID") or None,
            admin_ids=admins,
            api_base_url=env.get("TELEGRAM_API_BASE_URL") or None,
        )


def fetch_policy(config: Config, runtime: Runtime) -> FetchPolicy:
    settings = config.feeds.settings
    return FetchPolicy(total_timeout=settings.timeout.total_seconds(),
                       allow_private_hosts=settings.allow_private_hosts or runtime.allow_private_hosts)


@dataclass
class Services:
    """Everything a command or the service needs, opened together and closed together."""

    config: Config
    runtime: Runtime
    clock: Clock
    store: Store
    fetcher: HttpFetcher
    parser: ParserPool
    poller: Poller
    notifier: Notifier

    async def announce(self, summary: PollSummary) -> int:
        """Send one message per new match, in the order they were found."""
        catalog, sent = self.config.catalog, 0
        names = {f.id: f.name or f.id for f in self.config.feeds.feeds}
        for match in summary.matches:
            commitment = catalog.by_id.get(match.commitment_id)
            if commitment is None:
                continue
            item = standing(commitment, self.clock.now(), catalog.settings.tz)
            also = [names.get(f, f) for f in also_reported_by(self.store, match.story_id)]
            await self.notifier.send(headline_message(item, match, names.get(match.feed_id, match.feed_id), also))
            sent += 1
        return sent


@asynccontextmanager
async def open_services(config: Config, runtime: Runtime, clock: Clock, notifier: Notifier | None = None,
                        parser_workers: int | None = None) -> AsyncIterator[Services]:
    """Open the store, HTTP client and parser pool; close them all whatever happens."""
    store = Store.open(runtime.db_path)
    try:
        async with HttpFetcher(fetch_policy(config, runtime), clock=clock) as fetcher:
            with ParserPool(parser_workers) as parser:
                poller = Poller(store, fetcher, parser, clock, config, random.Random())
                yield Services(config, runtime, clock, store, fetcher, parser, poller,
                               notifier or ConsoleNotifier())
    finally:
        store.close()
