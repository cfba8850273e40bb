"""Search feeds: each ``[[search]]`` URL template × each commitment with ``search = true`` becomes one feed.

News search engines publish results as RSS (Google News, Bing News), so a monitor need not hunt for the
outlets covering a pledge: the engine is asked for the commitment's keywords, translated by
:mod:`bot.search_syntax`, and the poller matches what comes back against the commitment's own queries.

One URL per template and commitment, its queries ORed together: one feed per commitment bounds the
requests we make of an engine, and an id built from the template and commitment ids alone
(``search-<template>-<commitment>``) survives edits to the keywords, since polling history is keyed on it.
The generated feeds join the loaded FeedCatalog, so polling, due times, live reload and ``check`` treat
them like any ``[[feed]]``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from bot.model import Catalog, Feed, FeedCatalog, SearchOrigin, SearchTemplate
from bot.search_syntax import DIALECTS, PLACEHOLDER, SYNTAXES, Translation, search_url, translate
from bot.validate import Section, did_you_mean, type_name

SEARCH_KEYS = ("id", "url", "syntax", "name", "interval", "language", "max_words", "enabled")
MAX_FEED_ID = 64  # the longest id feeds.toml accepts (bot.validate.SLUG)
EXAMPLE_TEMPLATE = "https://news.google.com/rss/search?q={query}&hl=en-PK&gl=PK&ceid=PK:en"


@dataclass(frozen=True)
class SearchIssue:
    """A problem only visible with both files loaded; config.py turns it into a located Problem."""

    owner: str  # "search" (a template in feeds.toml) or "commitment" (in commitments.toml)
    ident: str
    key: str
    message: str


def search_template(s: Section, interval: timedelta) -> SearchTemplate:
    """Validate one ``[[search]]`` table of feeds.toml; problems go to the section, like every other table's."""
    s.unknown_keys(SEARCH_KEYS)
    url = s.text("url", required=True)
    if url and (error := template_url_problem(url)):
        s.problem(error, "url")
    if "syntax" not in s.data:
        s.problem(f"missing; it is required (how the engine reads queries: {', '.join(SYNTAXES)})", "syntax")
    return SearchTemplate(id=s.slug(), url=url, syntax=s.converted("syntax", _syntax, ""), name=s.text("name"),
                          interval=s.duration("interval", interval), language=s.text("language"),
                          max_words=s.converted("max_words", _max_words, None), enabled=s.get("enabled", bool, True))


def template_url_problem(url: str) -> str | None:
    """Check a template URL: one ``{query}`` slot, no other placeholder, and an http(s) address."""
    count = url.count(PLACEHOLDER)
    if count == 0:
        return f"must contain {PLACEHOLDER} where the search words go, e.g. {EXAMPLE_TEMPLATE}"
    if count > 1:
        return f"contains {PLACEHOLDER} {count} times; put it once, where the search words go"
    other = next((m for m in re.findall(r"\{[^{}]*\}", url) if m != PLACEHOLDER), None)
    if other is not None:
        return f"unknown placeholder {other}: only {PLACEHOLDER} is filled in (write the other values out)"
    try:
        parts = urlsplit(url.replace(PLACEHOLDER, "x").strip())
    except ValueError as exc:  # e.g. an unclosed [IPv6 host
        return f"not a valid URL ({exc}), e.g. {EXAMPLE_TEMPLATE}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// address with a host name, e.g. {EXAMPLE_TEMPLATE}"
    return None


def search_feed_id(template_id: str, commitment_id: str) -> str:
    """``search-<template>-<commitment>``, shortened with a stable hash when it would pass 64 characters."""
    base = f"search-{template_id}-{commitment_id}"
    if len(base) <= MAX_FEED_ID:
        return base
    digest = hashlib.sha1(f"{template_id}\0{commitment_id}".encode()).hexdigest()[:8]
    return f"{base[:MAX_FEED_ID - 9].rstrip('-_')}-{digest}"


def search_feeds(catalog: Catalog, feeds: FeedCatalog, report_unsearched: bool = True
                 ) -> tuple[tuple[Feed, ...], tuple[SearchIssue, ...]]:
    """Generate the search feeds for every valid template × searched commitment, and the cross-file problems."""
    issues: list[SearchIssue] = []
    generated: list[Feed] = []
    taken = {f.id: "the id of a [[feed]] table" for f in feeds.feeds}
    searched = [c for c in catalog.commitments if c.search and c.keywords]
    answered: set[str] = set()
    templates = [t for t in feeds.searches if t.syntax in DIALECTS and t.id and not template_url_problem(t.url)]
    for template in templates:
        for commitment in searched:
            found = translate(commitment.keywords, template)
            if not found.candidates:
                continue
            answered.add(commitment.id)
            if not found.query:
                issues.append(SearchIssue("commitment", commitment.id, "search", _unfit_message(template, found)))
                continue
            feed_id = search_feed_id(template.id, commitment.id)
            if feed_id in taken:
                message = (f"the feed id '{feed_id}' generated for commitment '{commitment.id}' is already "
                           f"{taken[feed_id]}; rename this template")
                issues.append(SearchIssue("search", template.id, "id", message))
                continue
            taken[feed_id] = f"generated for template '{template.id}' and commitment '{commitment.id}'"
            generated.append(Feed(
                id=feed_id, url=search_url(template.url, found.query), name=template.name or template.id,
                interval=template.interval, language=template.language, enabled=template.enabled,
                search=SearchOrigin(template.id, commitment.id, found.query)))
    if report_unsearched:
        issues += [SearchIssue("commitment", c.id, "search", _unsearched_message(templates))
                   for c in searched if c.id not in answered]
    return tuple(generated), tuple(issues)


def _unfit_message(template: SearchTemplate, found: Translation) -> str:
    """Explain a commitment whose every query is too long for an engine, and what to do about it."""
    budget = template.max_words or DIALECTS[template.syntax].max_words
    which = ", ".join(f"keywords[{i}]" for i in found.candidates)
    words = "word" if budget == 1 else "words"
    return (f"none of its keywords fits search template '{template.id}' ({template.syntax} syntax: at most {budget} "
            f"{words}; the shortest form of {which} still has {found.fewest_words}); add a query of a few distinctive "
            f"words, or set max_words in the template if the engine reads more")


def _unsearched_message(templates: Sequence[SearchTemplate]) -> str:
    """Explain a commitment that asked for search feeds and got none."""
    if not templates:
        return ("search = true, but feeds.toml has no valid [[search]] template to search with; add one "
                "(see README, 'Search feeds') or remove 'search'")
    listed = ", ".join(f"'{t.id}' ({t.language})" if t.language else f"'{t.id}'" for t in templates)
    return (f"search = true, but no [[search]] template takes its keywords: their script does not match the "
            f"templates' language ({listed}); add a template for that language or without one")


def _syntax(value: object) -> str:
    """Accept a known syntax name, suggesting the nearest one for a typo."""
    if isinstance(value, str) and value in SYNTAXES:
        return value
    hint = did_you_mean(value, SYNTAXES) if isinstance(value, str) else ""
    raise ValueError(f"expected one of {', '.join(SYNTAXES)} (how queries are written for the engine), "
                     f"got {type_name(value)}{hint}")


def _max_words(value: object) -> int:
    """Accept a positive whole number: how many words of a query the engine reads."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"expected a whole number of at least 1 (words the engine reads), got {type_name(value)}")
