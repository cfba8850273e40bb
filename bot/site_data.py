"""What the status page needs from the state database, gathered read-only in one place.

The page renderer (``bot.site``) stays pure: it gets these facts plus ``now``. Gathering never writes,
so building the page from cron while the bot runs cannot disturb the bot, and a missing database
simply means "no news and no /mark history yet" rather than an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.curation import IRRELEVANT, CuratedEvidence, curated_evidence, dismissed
from bot.history import Headline, latest_headlines
from bot.model import Commitment, Status
from bot.statuses import TOML_SOURCE, StatusChange, history
from bot.store import Store

PAGE_HEADLINES = 5  # a web page has more room than /status (3), but a card should stay scannable


@dataclass(frozen=True)
class SiteFacts:
    """Per-commitment facts from the database, keyed by commitment id; empty without a database."""

    statuses: Mapping[str, Status] = field(default_factory=dict)
    headlines: Mapping[str, Sequence[Headline]] = field(default_factory=dict)
    curated: Mapping[str, Sequence[CuratedEvidence]] = field(default_factory=dict)
    marks: Mapping[str, Sequence[StatusChange]] = field(default_factory=dict)  # /mark entries citing evidence
    has_database: bool = False

    def status_of(self, commitment: Commitment) -> Status:
        """The effective status, falling back to the TOML value so the page works with no database."""
        return self.statuses.get(commitment.id, commitment.status)


def effective_status(commitment: Commitment, changes: Sequence[StatusChange]) -> Status:
    """The newest history entry, unless the TOML was edited since the bot last synced it (then the TOML wins).

    ``effective_statuses`` trusts the history, which is right while the bot runs; the page may be built
    from cron right after an edit, before the bot has recorded it, and must not show the superseded value.
    """
    last_toml = next((c for c in reversed(changes) if c.source == TOML_SOURCE), None)
    if not changes or last_toml is None or last_toml.status != commitment.status:
        return commitment.status
    return changes[-1].status


def public_headlines(store: Store, commitment_id: str, limit: int = PAGE_HEADLINES) -> list[Headline]:
    """The latest matched headlines minus those an admin dismissed as "not relevant": a public page must
    not show what the curators already rejected."""
    rows = store.query("SELECT COUNT(*) FROM curation WHERE commitment_id = ? AND verdict = ?",
                       (commitment_id, IRRELEVANT))
    extra = int(rows[0][0]) if rows else 0
    found = latest_headlines(store, commitment_id, limit + extra)
    hidden = dismissed(store, [(h.story_id, commitment_id) for h in found]) if extra else set()
    return [h for h in found if (h.story_id, commitment_id) not in hidden][:limit]


def gather(store: Store, commitments: Iterable[Commitment], limit: int = PAGE_HEADLINES) -> SiteFacts:
    """Everything the page shows from the database, for every commitment, without writing anything."""
    statuses: dict[str, Status] = {}
    headlines: dict[str, list[Headline]] = {}
    curated: dict[str, list[CuratedEvidence]] = {}
    marks: dict[str, list[StatusChange]] = {}
    for c in commitments:
        changes = history(store, c.id)
        statuses[c.id] = effective_status(c, changes)
        headlines[c.id] = public_headlines(store, c.id, limit)
        curated[c.id] = curated_evidence(store, c.id)
        marks[c.id] = [ch for ch in reversed(changes) if ch.source != TOML_SOURCE and ch.evidence_url]
    return SiteFacts(statuses, headlines, curated, marks, has_database=True)
