"""Configuration shared by test modules: commitments/feeds TOML text and the set-up that uses it.

The TOML pieces are plain text, meant to be joined in an f-string next to what a test adds itself, so the
test still reads as one commitments.toml.  Ids, titles and keywords here are what tests assert on: change
them only together with every test that uses them (``grep -rn NAME tests``).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.clock import FakeClock
from bot.config import check_config, load_config
from bot.fetch import FetchPolicy, HttpFetcher
from bot.parser_pool import ParserPool
from bot.poller import Poller
from bot.store import Store
from tests.support.fake_telegram import DEFAULT_TOKEN, FakeTelegram

# --- the minimal valid configuration (the ``config_dir`` fixture in tests/conftest.py) ---------------

MINIMAL_COMMITMENTS = '''\
timezone = "Asia/Karachi"
remind_before = ["30d", "7d", "1d"]
remind_at = "09:00"
overdue_every = "7d"

[[agreement]]
id = "shared-vision"
title = "A Shared Vision"
parties = ["Pakistan", "Afghanistan"]
signed = 2020-11-19

[[commitment]]
id = "joint-intel"
agreement = "shared-vision"
title = "Re-energise joint intelligence work"
deadline = 2020-12-15
keywords = ['"joint intelligence" AND (Pakistan OR Afghanistan)']
status = "pending"

[[commitment]]
id = "reciprocal-visit"
agreement = "shared-vision"
title = "Ghani visits Islamabad"
deadline = "2021-Q1"
keywords = ["Ghani AND Islamabad"]
'''

MINIMAL_FEEDS = '''\
interval = "30m"
backfill = "2d"

[[feed]]
id = "local"
url = "http://127.0.0.1:9/feed.xml"
name = "Local test feed"
'''

# --- pieces of a commitments.toml around the agreement "sv" -----------------------------------------

SHARED_VISION = '''
[[agreement]]
id = "sv"
title = "A Shared Vision"
signed = 2020-11-19
'''

# Two pledges long overdue (December 2020, Q1 2021): each has a reminder due at the first tick.
INTEL_AND_VISIT = '''
[[commitment]]
id = "intel"
agreement = "sv"
title = "Re-energise joint intelligence work"
deadline = 2020-12-15
keywords = ['"joint intelligence"']

[[commitment]]
id = "visit"
agreement = "sv"
title = "President Ghani visits Islamabad"
deadline = "2021-Q1"
keywords = ['Ghani AND Islamabad']
'''

# An undated pledge that transit-trade headlines match.
CORRIDOR = '''
[[commitment]]
id = "corridor"
agreement = "sv"
title = "Reopen the transit trade corridor"
keywords = ['transit AND trade']
'''

# An undated pledge matched in English and in Urdu.
REFUGEES = '''
[[commitment]]
id = "refugees"
agreement = "sv"
title = "Refugee return"
keywords = ['مہاجرین OR refugee*']
'''

# What ``pledgewatch run`` is started with in tests/test_run.py and the token tests: one overdue pledge (one
# reminder) and one undated pledge whose title needs HTML escaping.
RUN_COMMITMENTS = f'''
timezone = "Asia/Karachi"
digest = "off"
{SHARED_VISION}
[[commitment]]
id = "sv-joint-intel"
agreement = "sv"
title = "Re-energise joint intelligence work"
deadline = 2020-12-15
quote = "By December 15, 2020, both the countries would be re-energizing joint intelligence services-led work"
keywords = ['"joint intelligence"']

[[commitment]]
id = "sv-trade"
agreement = "sv"
title = "Transit trade <steps> & more"
keywords = ['transit AND trade']
'''

# --- set-up ------------------------------------------------------------------------------------------

# Fetching from the loopback feed server only, with timeouts short enough for a failing test to end fast.
LOOPBACK_POLICY = FetchPolicy(allowed_networks=("127.0.0.1",), connect_timeout=1, read_timeout=1, total_timeout=2)


def write_config(directory: Path, commitments: str, feeds: str = "") -> Path:
    """Write commitments.toml and feeds.toml (empty by default) into ``directory``; returns ``directory``."""
    (directory / "commitments.toml").write_text(commitments, encoding="utf-8")
    (directory / "feeds.toml").write_text(feeds, encoding="utf-8")
    return directory


def problems_for(directory: Path, commitments: str = MINIMAL_COMMITMENTS, feeds: str = MINIMAL_FEEDS) -> list[str]:
    """Write both files and return what `pledgewatch check` would print about them."""
    write_config(directory, commitments, feeds)
    return [str(p) for p in check_config(directory)[1]]


def only(problems: list[str]) -> str:
    """The one problem there must be."""
    assert len(problems) == 1, problems
    return problems[0]


def telegram_env(tg: FakeTelegram, chat_id: int, admins: tuple[int, ...] = (),
                 token: str = DEFAULT_TOKEN) -> dict[str, str]:
    """The environment that points ``pledgewatch run`` at the fake Bot API and allows loopback feeds."""
    env = {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_CHAT_ID": str(chat_id),
           "TELEGRAM_API_BASE_URL": tg.base_url, "PLEDGEWATCH_ALLOW_PRIVATE_HOSTS": "1"}
    if admins:
        env["TELEGRAM_ADMIN_IDS"] = ",".join(str(a) for a in admins)
    return env


@asynccontextmanager
async def loopback_poller(directory: Path, clock: FakeClock) -> AsyncIterator[Poller]:
    """The production poller on ``directory``'s configuration and ``directory/state.sqlite3``, parsing in-process."""
    store = Store.open(directory / "state.sqlite3")
    try:
        async with HttpFetcher(LOOPBACK_POLICY, clock=clock) as fetcher:
            yield Poller(store, fetcher, ParserPool(0), clock, load_config(directory), random.Random(1))
    finally:
        store.close()
