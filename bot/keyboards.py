"""Inline keyboards and their callback data: built as plain values, parsed back only after validation.

Callback data comes back from the user's client, so anyone can forge it: parsing accepts only the exact
shapes we emit, and resolves every id against the current catalog. Telegram caps callback data at 64
bytes; an id too long to fit travels as ``~`` plus a short digest, resolved the same way.
The values here do not import python-telegram-bot, so the announcer can queue keyboards in the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.curation import EVIDENCE, IRRELEVANT, Verdict
from bot.buttons import Button, Keyboard
from bot.model import Catalog

MAX_DATA_BYTES = 64
MAX_BUTTON_TEXT = 48
MAX_PAGE = 10_000
DIGEST_MARK = "~"
_VERDICT_CODES: dict[str, Verdict] = {"e": EVIDENCE, "i": IRRELEVANT}
_CODE_OF = {v: k for k, v in _VERDICT_CODES.items()}
_STORY = re.compile(r"^[1-9][0-9]{0,18}$")
_PAGE = re.compile(r"^(0|[1-9][0-9]{0,4})$")
_PLAIN_REF = re.compile(r"^[A-Za-z0-9_.\-]+$")  # ids are slugs; anything else goes as a digest
NOOP = "cur:n"


@dataclass(frozen=True)
class OpenCommitment:
    """Show one commitment in full."""

    commitment_id: str


@dataclass(frozen=True)
class OpenNews:
    """Show one commitment's latest headlines."""

    commitment_id: str


@dataclass(frozen=True)
class ListPage:
    """Show a page of /list, with its filter (an agreement id, a tag, or "" for all)."""

    page: int
    filter: str


@dataclass(frozen=True)
class Curate:
    """An admin's verdict on a matched story for a commitment."""

    verdict: Verdict
    story_id: int
    commitment_id: str


@dataclass(frozen=True)
class Noop:
    """A button that only reports (e.g. a verdict already given)."""


Action = OpenCommitment | OpenNews | ListPage | Curate | Noop


def digest(value: str) -> str:
    """A short, stable stand-in for a value too long for callback data (72 bits: no collisions in practice)."""
    return DIGEST_MARK + base64.urlsafe_b64encode(hashlib.sha256(value.encode("utf-8")).digest()[:9]).decode("ascii")


def ref(value: str, room: int) -> str:
    """The value itself when it is a plain slug that fits in ``room`` bytes, else its digest."""
    if value == "" or (_PLAIN_REF.match(value) and len(value) <= room):
        return value
    return digest(value)


def resolve(token: str, choices: Iterable[str]) -> str | None:
    """The choice a token stands for (itself or its digest), or None when it names nothing we know."""
    pool = list(choices)
    if token.startswith(DIGEST_MARK):
        return next((c for c in pool if digest(c) == token), None)
    return token if token in pool else None


def label(text: str, limit: int = MAX_BUTTON_TEXT) -> str:
    """Button text short enough to read on a phone."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _data(*parts: str) -> str:
    data = ":".join(parts)
    if len(data.encode("utf-8")) > MAX_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_DATA_BYTES} bytes: {data!r}")
    return data


def open_button(text: str, commitment_id: str) -> Button:
    """A button that opens a commitment's full status."""
    return Button(label(text), _data("o", ref(commitment_id, MAX_DATA_BYTES - 2)))


def news_button(text: str, commitment_id: str) -> Button:
    """A button that shows a commitment's latest headlines."""
    return Button(label(text), _data("n", ref(commitment_id, MAX_DATA_BYTES - 2)))


def page_button(text: str, page: int, filter_: str) -> Button:
    """A prev/next button of /list that remembers the filter."""
    head = f"l:{page}:"
    return Button(text, _data("l", str(page), ref(filter_, MAX_DATA_BYTES - len(head))))


def curation_buttons(story_id: int, commitment_id: str, named: bool = False) -> Keyboard:
    """The admin buttons under a headline copy: count it as evidence, or dismiss it for this commitment.

    ``named`` puts the commitment id on the buttons, for a headline that bears on several commitments."""
    if story_id <= 0:
        raise ValueError(f"story ids are positive, got {story_id}")
    room = MAX_DATA_BYTES - len(f"cur:e:{story_id}:")
    target = ref(commitment_id, room)
    suffix = f" · {commitment_id}" if named else ""
    return Keyboard(((Button(label("✅ counts as evidence" + suffix), _data("cur", _CODE_OF[EVIDENCE], str(story_id), target)),
                      Button(label("🚫 not relevant" + suffix), _data("cur", _CODE_OF[IRRELEVANT], str(story_id), target))),))


def curation_keyboard(story_id: int, commitment_ids: Sequence[str]) -> Keyboard:
    """One row of curation buttons per commitment the headline matched."""
    named = len(commitment_ids) > 1
    return Keyboard(tuple(row for cid in commitment_ids for row in curation_buttons(story_id, cid, named).rows))


def settle(keyboard: Keyboard, pressed: str, verdict: Verdict, actor: str, commitment_id: str) -> Keyboard:
    """Replace only the row whose button was pressed with the verdict, keeping the other commitments' rows."""
    named = len(keyboard.rows) > 1
    done = verdict_keyboard(verdict, actor, commitment_id if named else None).rows[0]
    rows = tuple(done if any(b.data == pressed for b in row) else row for row in keyboard.rows)
    return Keyboard(rows) if rows != keyboard.rows else verdict_keyboard(verdict, actor)


def verdict_keyboard(verdict: Verdict, actor: str, commitment_id: str | None = None) -> Keyboard:
    """What replaces the curation buttons once an admin has acted, so everyone sees the outcome."""
    text = "✅ evidence" if verdict == EVIDENCE else "🚫 not relevant"
    where = f" · {commitment_id}" if commitment_id else ""
    return Keyboard(((Button(label(f"{text}{where} · {actor}"), NOOP),),))


def list_filters(catalog: Catalog) -> list[str]:
    """Every valid /list filter: agreement ids and tags."""
    return [a.id for a in catalog.agreements] + sorted({t for c in catalog.commitments for t in c.tags})


def parse_callback(data: str | None, catalog: Catalog) -> Action | None:
    """The action a button asks for, or None when the data is not exactly something we could have sent."""
    try:
        if not data or len(data.encode("utf-8")) > MAX_DATA_BYTES:
            return None
    except UnicodeEncodeError:  # a lone surrogate: JSON can carry one, we never send one
        return None
    if data == NOOP:
        return Noop()
    parts = data.split(":")
    ids = catalog.by_id.keys()
    if parts[0] in ("o", "n") and len(parts) == 2:
        found = resolve(parts[1], ids)
        if found is None:
            return None
        return OpenCommitment(found) if parts[0] == "o" else OpenNews(found)
    if parts[0] == "l" and len(parts) == 3 and _PAGE.match(parts[1]) and int(parts[1]) <= MAX_PAGE:
        found = "" if parts[2] == "" else resolve(parts[2], list_filters(catalog))
        return ListPage(int(parts[1]), found) if found is not None else None
    if parts[0] == "cur" and len(parts) == 4 and parts[1] in _VERDICT_CODES and _STORY.match(parts[2]):
        story = int(parts[2])
        found = resolve(parts[3], ids)
        if found and story < 2**63:
            return Curate(_VERDICT_CODES[parts[1]], story, found)
    return None
