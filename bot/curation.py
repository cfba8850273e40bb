"""Admins' verdicts on matched headlines: "counts as evidence" or "not relevant".

Keyword matching is approximate, so a person has the last word: evidence is shown by /status next to the
TOML's own evidence, and a dismissed story is never announced for that commitment again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from bot.errors import StoreError
from bot.store import Store, from_db, to_db

Verdict = Literal["evidence", "irrelevant"]
EVIDENCE: Verdict = "evidence"
IRRELEVANT: Verdict = "irrelevant"
VERDICTS: tuple[str, ...] = get_args(Verdict)
CHUNK = 500  # stay well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Curation:
    """One recorded verdict, with who gave it and when."""

    story_id: int
    commitment_id: str
    verdict: Verdict
    actor_id: int | None
    at: datetime


@dataclass(frozen=True)
class CuratedEvidence:
    """A headline an admin accepted as evidence, dated by when it was published."""

    story_id: int
    commitment_id: str
    title: str
    link: str | None
    published: datetime | None
    feed_id: str
    actor_id: int | None
    at: datetime


def record_verdict(store: Store, story_id: int, commitment_id: str, verdict: Verdict, actor_id: int | None,
                   now: datetime) -> Curation:
    """Record (or change) a verdict; the latest press of a button wins, so a mistake can be corrected."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}")
    try:
        with store.transaction() as tx:
            tx.execute("INSERT INTO curation (story_id, commitment_id, verdict, actor_id, at) VALUES (?,?,?,?,?) "
                       "ON CONFLICT(story_id, commitment_id) DO UPDATE SET verdict = excluded.verdict, "
                       "actor_id = excluded.actor_id, at = excluded.at",
                       (story_id, commitment_id, verdict, actor_id, to_db(now)))
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"cannot record a verdict on story {story_id}: {exc}") from exc
    return Curation(story_id, commitment_id, verdict, actor_id, now)


def verdict_of(store: Store, story_id: int, commitment_id: str) -> Curation | None:
    """The verdict on one pair, if any, so a button press can report what is already recorded."""
    rows = store.query("SELECT * FROM curation WHERE story_id = ? AND commitment_id = ?", (story_id, commitment_id))
    if not rows:
        return None
    r = rows[0]
    return Curation(int(r["story_id"]), r["commitment_id"], r["verdict"], r["actor_id"], from_db(r["at"]) or datetime.min)


def curated_evidence(store: Store, commitment_id: str) -> list[CuratedEvidence]:
    """Headlines accepted as evidence for a commitment, newest first, each as its story was first reported."""
    rows = store.query(
        "SELECT c.story_id, c.commitment_id, c.actor_id, c.at, e.title, e.link, e.published, e.feed_id "
        "FROM curation c JOIN entries e ON e.id = (SELECT MIN(id) FROM entries WHERE story_id = c.story_id) "
        "WHERE c.commitment_id = ? AND c.verdict = ? ORDER BY e.published DESC, c.story_id DESC",
        (commitment_id, EVIDENCE))
    return [CuratedEvidence(int(r["story_id"]), r["commitment_id"], r["title"], r["link"], from_db(r["published"]),
                            r["feed_id"], r["actor_id"], from_db(r["at"]) or datetime.min) for r in rows]


def is_dismissed(store: Store, story_id: int, commitment_id: str) -> bool:
    """True when an admin said this story is not about this commitment, so it must not be posted again."""
    return bool(store.query("SELECT 1 FROM curation WHERE story_id = ? AND commitment_id = ? AND verdict = ?",
                            (story_id, commitment_id, IRRELEVANT)))


def dismissed(store: Store, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (story_id, commitment_id) pairs among ``pairs`` that were dismissed: one query per chunk, for batches."""
    wanted = set(pairs)
    story_ids = sorted({story for story, _ in wanted})
    found: set[tuple[int, str]] = set()
    for start in range(0, len(story_ids), CHUNK):
        part = story_ids[start:start + CHUNK]
        rows = store.query(f"SELECT story_id, commitment_id FROM curation WHERE verdict = ? AND story_id IN "
                           f"({', '.join('?' * len(part))})", [IRRELEVANT, *part])
        found.update((int(r[0]), r[1]) for r in rows)
    return found & wanted


def matched(store: Store, story_id: int, commitment_id: str) -> bool:
    """True when the story really matched the commitment: only such pairs can be curated, whatever a button says."""
    return bool(store.query("SELECT 1 FROM matches WHERE story_id = ? AND commitment_id = ?", (story_id, commitment_id)))
