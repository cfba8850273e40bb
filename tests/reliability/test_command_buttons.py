"""Forged callback data: any string a client sends as a button press never raises and never acts.

``parse_callback`` is driven with Hypothesis (arbitrary strings, strings shaped like ours, and real button
data with one edit), then a sample of presses goes through the real application and the fake Bot API:
each forged press is answered "out of date" and changes nothing in the chat or the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.commands import STALE
from bot.curation import EVIDENCE
from bot.keyboards import (MAX_DATA_BYTES, MAX_PAGE, NOOP, Action, Curate, ListPage, Noop, OpenCommitment, OpenNews,
                           curation_buttons, list_filters, news_button, open_button, page_button, parse_callback)
from bot.model import Catalog
from bot.telegram_app import BotServices, build_application, polling
from tests.reliability.test_command_args import ADMIN, GROUP, LONG_ID, NOW, USER, World, headline, make_world
from tests.support.fake_telegram import FakeTelegram

HOSTILE_TAG = "<tag>&"


def emitted(action: Action) -> str:
    """The callback data our own keyboards put on the button for ``action``."""
    if isinstance(action, OpenCommitment):
        return open_button("x", action.commitment_id).data
    if isinstance(action, OpenNews):
        return news_button("x", action.commitment_id).data
    if isinstance(action, ListPage):
        return page_button("x", action.page, action.filter).data
    if isinstance(action, Curate):
        evidence, irrelevant = curation_buttons(action.story_id, action.commitment_id).rows[0]
        return (evidence if action.verdict == EVIDENCE else irrelevant).data
    return NOOP


def valid_data(catalog: Catalog) -> list[str]:
    """Button data the bot really sends for this catalog: every shape, plain ids and digests."""
    ids = list(catalog.by_id)
    out = [NOOP, page_button("x", 0, "").data, page_button("x", MAX_PAGE, HOSTILE_TAG).data]
    out += [open_button("x", c).data for c in ids[:3] + [LONG_ID]] + [news_button("x", ids[0]).data]
    out += [b.data for row in curation_buttons(2**63 - 1, LONG_ID).rows + curation_buttons(7, ids[1]).rows for b in row]
    return out + [page_button("x", 3, f).data for f in list_filters(catalog)[:4]]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    world = make_world(tmp_path_factory.mktemp("buttons"), count=6)
    world.store.close()
    return world.config.catalog


def edited(data: str, position: int, replacement: str) -> str:
    """``data`` with one character replaced (or removed, for ""), or ``replacement`` appended past the end."""
    position %= len(data) + 1
    return data[:position] + replacement + data[position + 1:]


def shaped() -> st.SearchStrategy[str]:
    """Strings built from our grammar's pieces, so the parser's every branch is reached."""
    head = st.sampled_from(["o", "n", "l", "cur", "O", "cur ", "", "x"])
    piece = st.one_of(st.sampled_from(["e", "i", "n", "0", "00", "01", "-1", "9" * 19, "9" * 20, "10000", "10001",
                                       "bulk-00", "BULK-00", "~", "~AAAAAAAAAAAA", LONG_ID, LONG_ID + "c", HOSTILE_TAG,
                                       " ", "\n", "", "٣", "１"]),
                      st.text(max_size=12))
    return st.tuples(head, st.lists(piece, max_size=5)).map(lambda t: ":".join([t[0], *t[1]]))


def assert_refused_or_exactly_ours(data: str, catalog: Catalog) -> None:
    """The invariant: an action comes only from data equal to what our keyboards emit for it, on real ids."""
    action = parse_callback(data, catalog)
    if action is None:
        return
    assert emitted(action) == data, (data, action)
    assert len(data.encode()) <= MAX_DATA_BYTES
    if isinstance(action, (OpenCommitment, OpenNews, Curate)):
        assert action.commitment_id in catalog.by_id
    if isinstance(action, ListPage):
        assert action.filter in ["", *list_filters(catalog)] and 0 <= action.page <= MAX_PAGE
    if isinstance(action, Curate):
        assert 1 <= action.story_id < 2**63
    if isinstance(action, Noop):
        assert data == NOOP


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.text(max_size=80).map(lambda s: "cur:e:1:" + s), shaped()))
@example("")
@example("o:" + "~" * 70)
@example("l:10000:")
@example("cur:e:9223372036854775808:bulk-00")
@example("\ud800")  # a lone surrogate (JSON can carry one) once crashed the byte-length check
@example("o:\udfff")
def test_any_string_is_refused_unless_it_is_exactly_our_button(catalog: Catalog, data: str) -> None:
    assert_refused_or_exactly_ours(data, catalog)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 200), st.one_of(st.just(""), st.characters(), st.sampled_from(":~0-_9")))
def test_real_button_data_with_one_edit_is_refused_or_still_exactly_ours(catalog: Catalog, data: st.DataObject,
                                                                         position: int, replacement: str) -> None:
    original = data.draw(st.sampled_from(valid_data(catalog)))
    assert parse_callback(original, catalog) is not None
    assert_refused_or_exactly_ours(edited(original, position, replacement), catalog)


def test_every_button_we_emit_parses_back_to_its_action(catalog: Catalog) -> None:
    for data in valid_data(catalog):
        action = parse_callback(data, catalog)
        assert action is not None and emitted(action) == data


# ------------------------------------------------------------------------------------- end to end


@dataclass
class Chat:
    """The application polling the fake Bot API, and the message whose buttons get pressed."""

    tg: FakeTelegram
    world: World
    story: int

    async def press(self, chat: int, user: int, message_id: int, data: str) -> dict:
        query_id = self.tg.push_callback(chat, user, message_id, data)["callback_query"]["id"]
        return await self.tg.await_callback_answer(query_id)

    def state(self) -> tuple[int, int, int, int]:
        """What a press could change: verdicts, status history, subscriptions, and every call that writes to a chat."""
        q = self.world.store.query
        writes = sum(len(self.tg.calls_to(m)) for m in ("sendMessage", "editMessageText", "editMessageReplyMarkup"))
        return (q("SELECT COUNT(*) FROM curation")[0][0], q("SELECT COUNT(*) FROM status_history")[0][0],
                q("SELECT COUNT(*) FROM subscriptions")[0][0], writes)


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[Chat]:
    world = make_world(tmp_path, count=6)
    story = headline(world.store, "bulk-01", "A headline to curate", "https://news.example/c", NOW, ("bulk",))
    with FakeTelegram() as tg:
        for user in (ADMIN, USER):
            tg.add_chat(user, "private", first_name=f"u{user}")
            tg.add_user(user, first_name=f"u{user}")
        tg.add_chat(GROUP, "group", title="Watchers")
        services = BotServices(world.store, FakeClock(NOW), lambda: world.config, frozenset({ADMIN}))
        app = build_application(tg.token, base_url=tg.base_url, services=services)
        try:
            async with polling(app, timeout=1):
                for where in (ADMIN, GROUP):
                    await app.bot.send_message(where, "📰 A headline to curate")
                yield Chat(tg, world, story)
        finally:
            world.store.close()


E2E = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@E2E
@given(st.one_of(st.text(min_size=1), shaped().filter(bool)), st.sampled_from([(ADMIN, ADMIN), (GROUP, USER), (GROUP, ADMIN)]))
async def test_a_forged_press_is_answered_out_of_date_and_changes_nothing(chat: Chat, data: str,
                                                                          where: tuple[int, int]) -> None:
    if parse_callback(data, chat.world.config.catalog) is not None:
        return  # by the invariant above it is exactly one of our buttons: pressing it is not a forgery
    before = chat.state()
    answer = await chat.press(where[0], where[1], 1, data)
    assert answer == {"text": STALE, "show_alert": True}  # the handler's last act on a refused press
    assert chat.state() == before


async def test_well_formed_presses_on_things_that_do_not_exist_act_on_nothing(chat: Chat) -> None:
    catalog = chat.world.config.catalog
    forged = [f"cur:e:{chat.story}:bulk-02", f"cur:i:{chat.story + 1}:bulk-01", "o:bulk-99", "n:" + LONG_ID + "c",
              "l:0:not-a-tag", "l:10001:", "cur:e:0:bulk-01", f"cur:e:{chat.story}:BULK-01", "cur:n:extra",
              f"cur:e:{chat.story}:bulk-01:" + "x" * 80]
    before = chat.state()
    for data in forged:
        answer = await chat.press(ADMIN, ADMIN, 1, data)
        assert answer["show_alert"] is True and "Recorded" not in answer["text"], (data, answer)
        assert parse_callback(data, catalog) is None or isinstance(parse_callback(data, catalog), Curate)
    assert chat.state() == before
