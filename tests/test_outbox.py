"""The durable outbox on a real SQLite file: idempotent enqueue, per-chat order, chat states, kept failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import outbox
from bot.notify import Message
from bot.buttons import Button, Keyboard
from bot.outbox import due, enqueue, failed, mark_failed, mark_retry, mark_sent, pending_count
from bot.store import Store, to_db

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
CHANNEL = "-1001234567890"
USER = "4242"
GROUP = "-4001"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store.open(tmp_path / "state.sqlite3")
    yield db
    db.close()


def msg(text: str, kind: str = "headline") -> Message:
    return Message(f"<b>{text}</b>", text, kind)


def put(store: Store, chat: str, text: str, ref: str | None = None, now: datetime = T0,
        buttons: Keyboard | None = None) -> int:
    with store.transaction() as tx:
        return enqueue(tx, chat, msg(text), ref or text, now, buttons)


def texts(items: list[outbox.OutboxItem]) -> list[str]:
    return [i.text for i in items]


def test_enqueue_is_idempotent_by_ref_per_chat(store: Store) -> None:
    assert put(store, CHANNEL, "A", "match:1") == 1
    assert put(store, CHANNEL, "A again", "match:1") == 0
    assert put(store, USER, "A", "match:1") == 1  # the same ref in another chat is another message
    assert put(store, " -1001234567890 ", "A", "match:1") == 0  # ids are normalised
    assert pending_count(store) == 2


def test_enqueue_commits_with_the_callers_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.execute("INSERT INTO subscriptions VALUES (?, 'joint-intel', ?)", (USER, to_db(T0)))
            enqueue(tx, USER, msg("subscribed"), "sub:1", T0)
            raise RuntimeError("the caller fails after enqueuing")
    assert pending_count(store) == 0 and store.query("SELECT * FROM subscriptions") == []


def test_a_long_message_becomes_ordered_parts_with_buttons_on_the_last(store: Store) -> None:
    lines = [f"<b>{n}.</b> Commitment number {n} is due soon &amp; nothing happened" for n in range(300)]
    html = "\n".join(lines)
    text = "\n".join(line.replace("<b>", "").replace("</b>", "").replace("&amp;", "&") for line in lines)
    keyboard = Keyboard.of([("Snooze", "snooze:joint-intel"), ("Done", "done:joint-intel")])
    with store.transaction() as tx:
        added = enqueue(tx, CHANNEL, Message(html, text, "digest"), "digest:2026-01-01", T0, keyboard)
    assert added == 5
    items = due(store, T0)
    assert [i.ref for i in items] == [f"digest:2026-01-01#{n}" for n in range(1, 6)]
    assert [i.buttons for i in items] == [None, None, None, None, keyboard]
    assert "\n".join(i.text for i in items) == text and all(i.kind == "digest" for i in items)
    with store.transaction() as tx:
        assert enqueue(tx, CHANNEL, Message(html, text, "digest"), "digest:2026-01-01", T0, keyboard) == 0


def test_due_is_oldest_first_and_strictly_in_order_per_chat(store: Store) -> None:
    for n in range(3):
        put(store, CHANNEL, f"c{n}")
        put(store, USER, f"u{n}")
    assert texts(due(store, T0)) == ["c0", "u0", "c1", "u1", "c2", "u2"]
    assert texts(due(store, T0, limit=3)) == ["c0", "u0", "c1"]
    first = due(store, T0)[0]
    mark_retry(store, first.id, "HTTP 502", T0 + timedelta(minutes=1))
    assert texts(due(store, T0)) == ["u0", "u1", "u2"]  # c1 and c2 wait behind c0
    assert texts(due(store, T0 + timedelta(minutes=1))) == ["c0", "u0", "c1", "u1", "c2", "u2"]
    mark_sent(store, first.id, 77, T0 + timedelta(minutes=1))
    assert texts(due(store, T0)) == ["u0", "c1", "u1", "c2", "u2"]
    sent = outbox.item(store, first.id)
    assert sent is not None and (sent.state, sent.message_id, sent.attempts) == ("sent", 77, 2)
    assert due(store, T0 - timedelta(seconds=1)) == []  # enqueued at T0: not due before


def test_a_blocked_chat_is_skipped_until_its_time_even_after_a_restart(store: Store, tmp_path: Path) -> None:
    put(store, CHANNEL, "held")
    put(store, USER, "free")
    outbox.block_chat(store, CHANNEL, T0 + timedelta(hours=1), now=T0)
    assert texts(due(store, T0)) == ["free"]
    store.close()
    reopened = Store.open(tmp_path / "state.sqlite3")
    try:
        assert texts(due(reopened, T0 + timedelta(minutes=59))) == ["free"]
        assert texts(due(reopened, T0 + timedelta(hours=1))) == ["held", "free"]
    finally:
        reopened.close()


def test_failed_items_are_kept_with_their_error_and_listed(store: Store) -> None:
    put(store, USER, "one")
    put(store, USER, "two")
    one, two = due(store, T0)
    mark_failed(store, one.id, "Bad Request: message is too long", T0 + timedelta(seconds=5))
    assert texts(due(store, T0)) == ["two"]  # a failure is final, so it no longer holds the chat
    assert pending_count(store) == 1
    (kept,) = failed(store)
    assert (kept.text, kept.state, kept.error, kept.attempts) == ("one", "failed", "Bad Request: message is too long", 1)
    assert kept.failed_at == T0 + timedelta(seconds=5)
    mark_sent(store, one.id, 5, T0)  # settling a failed item again changes nothing
    assert outbox.item(store, one.id).state == "failed"  # type: ignore[union-attr]
    assert store.query("SELECT COUNT(*) FROM outbox")[0][0] == 2


def test_disabling_a_chat_fails_its_pending_items_and_later_ones(store: Store) -> None:
    put(store, USER, "pending")
    outbox.disable_chat(store, USER, "Forbidden: bot was blocked by the user", now=T0)
    assert due(store, T0 + timedelta(days=1)) == [] and pending_count(store) == 0
    assert put(store, USER, "later") == 1
    assert [(i.text, i.error) for i in failed(store)] == [
        ("later", "chat disabled: Forbidden: bot was blocked by the user"),
        ("pending", "chat disabled: Forbidden: bot was blocked by the user"),
    ]
    assert outbox.chat_state(store, USER)["disabled"] == "Forbidden: bot was blocked by the user"  # type: ignore[index]


def test_migrating_moves_pending_items_and_subscriptions_to_the_64_bit_id(store: Store) -> None:
    new = "-1009999999999"
    put(store, GROUP, "sent before")
    mark_sent(store, due(store, T0)[0].id, 1, T0)
    put(store, GROUP, "pending")
    put(store, GROUP, "clash", "same-ref")
    put(store, new, "already there", "same-ref")
    store.conn.execute("INSERT INTO subscriptions VALUES (?, 'joint-intel', ?)", (GROUP, to_db(T0)))
    assert outbox.migrate_chat(store, GROUP, new, now=T0) == 1
    assert [(i.chat_id, i.text) for i in due(store, T0)] == [(new, "pending"), (new, "already there")]
    assert store.query("SELECT chat_id FROM outbox WHERE text = 'sent before'")[0][0] == GROUP
    assert [(i.text, i.error) for i in failed(store)] == [("clash", f"duplicate: already queued for {new}")]
    assert [r[0] for r in store.query("SELECT chat_id FROM subscriptions")] == [new]
    put(store, GROUP, "after the move")  # enqueue follows the migration
    assert due(store, T0)[-1].chat_id == new
    assert outbox.chat_state(store, GROUP)["migrated_to"] == new  # type: ignore[index]
    assert outbox.chat_kind(new) == "channel" and outbox.chat_kind(GROUP) == "group" and outbox.chat_kind(USER) == "private"


def test_buttons_round_trip_and_refuse_oversized_callback_data(store: Store) -> None:
    keyboard = Keyboard.of([("Snooze 7 days", "snooze:joint-intel:7d")], [("Ünïcode ✓", "ok")])
    assert Keyboard.from_json(keyboard.to_json()) == keyboard
    put(store, USER, "with buttons", buttons=keyboard)
    assert due(store, T0)[0].buttons == keyboard
    with pytest.raises(ValueError, match="callback data"):
        Button("x", "é" * 33)  # 66 bytes
    with pytest.raises(ValueError):
        Button("", "data")


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        put(store, USER, "x", now=datetime(2026, 1, 1))
