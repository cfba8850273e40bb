"""Which private chats follow which commitments, so headlines and reminders can also reach people directly.

Chat ids are stored as text because Telegram's ids are 64-bit and may not fit other tools' integers;
``'*'`` stands for "every commitment", so a new pledge added to the TOML is followed without asking again.
"""

from __future__ import annotations

from datetime import datetime

from bot.store import Store, to_db

ALL = "*"


def _chat(chat_id: int | str) -> str:
    """One canonical text form, so "42" and 42 never become two subscribers."""
    return str(int(chat_id))


def subscribe(store: Store, chat_id: int | str, commitment_id: str, now: datetime) -> bool:
    """Follow one commitment (or ``'*'`` for all); True when this is new, so the reply can say so."""
    with store.transaction() as tx:
        cursor = tx.execute("INSERT OR IGNORE INTO subscriptions (chat_id, commitment_id, created) VALUES (?,?,?)",
                            (_chat(chat_id), commitment_id, to_db(now)))
        return bool(cursor.rowcount)


def unsubscribe(store: Store, chat_id: int | str, commitment_id: str) -> int:
    """Stop following one commitment, or with ``'*'`` stop everything; the count removed tells what happened."""
    with store.transaction() as tx:
        if commitment_id == ALL:
            cursor = tx.execute("DELETE FROM subscriptions WHERE chat_id = ?", (_chat(chat_id),))
        else:
            cursor = tx.execute("DELETE FROM subscriptions WHERE chat_id = ? AND commitment_id = ?",
                                (_chat(chat_id), commitment_id))
        return int(cursor.rowcount)


def subscriptions(store: Store, chat_id: int | str) -> list[str]:
    """What one chat follows, in the order it subscribed, so the list reads like a history."""
    rows = store.query("SELECT commitment_id FROM subscriptions WHERE chat_id = ? ORDER BY created, rowid",
                       (_chat(chat_id),))
    return [r[0] for r in rows]


def subscribers(store: Store, commitment_id: str) -> list[str]:
    """Chat ids to copy a commitment's news to: those following it and those following everything."""
    rows = store.query("SELECT DISTINCT chat_id FROM subscriptions WHERE commitment_id IN (?, ?) ORDER BY chat_id",
                       (commitment_id, ALL))
    return [r[0] for r in rows]
