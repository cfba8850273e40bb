"""The pure reply builders and keyboard codecs, called directly: data and ``now`` in, Rich text out.

Every reply must be valid Telegram HTML (checked with the same parser the fake server uses) and fit
in 4,096 characters whatever the catalog or the feeds contain.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agenda import Standing, standing, standings
from bot.command_lists import (MENU, bad_status_view, help_view, list_view, marked_view, news_view,
                               private_only_view, subscriptions_view, unknown_filter_view, upcoming_view)
from bot.command_views import (MAX_CHARS, choices_view, fit, not_found_view, overview_view, search, status_view,
                               suggest, utf16_len, visible_len)
from bot.curation import CuratedEvidence
from bot.deadlines import parse_deadline
from bot.history import Headline
from bot.keyboards import (MAX_DATA_BYTES, Curate, Keyboard, ListPage, Noop, OpenCommitment, OpenNews,
                           curation_buttons, digest, list_filters, open_button, page_button, parse_callback,
                           verdict_keyboard)
from bot.model import Agreement, Catalog, Commitment, Evidence, Revision, Settings, Status
from bot.buttons import Keyboard
from bot.richtext import Rich
from bot.statuses import StatusChange
from tests.support.telegram_html import parse_html

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
LONG_ID = "a" + "b" * 63  # the longest valid slug
LONG_TAG = "санкции и транзит " * 4


def commitment(ident: str, title: str, deadline: str | None = None, **kwargs: object) -> Commitment:
    return Commitment(id=ident, agreement="kabul", title=title,
                      deadline=parse_deadline(deadline, date(2025, 4, 19)) if deadline else None, **kwargs)  # type: ignore[arg-type]


CATALOG = Catalog(
    Settings(timezone="Asia/Karachi"),
    (Agreement("kabul", "Kabul visit pledges", signed=date(2025, 4, 19)),),
    (
        commitment("joint-intel", "Re-energise joint intelligence work", "2020-12-15", tags=("security",)),
        commitment("dar-visit", "Foreign Minister Dâr visits Kabul", "2026-Q2", tags=("diplomacy",)),
        commitment("transit-fees", "Cut transit fees on Afghan trade", "2025-12-31", tags=("trade", LONG_TAG),
                   revisions=(Revision(parse_deadline("2026-03-15"), "https://example.org/rev", "moved"),),
                   quote="reduce fees", source="citation: minutes of the May meeting",
                   evidence=(Evidence("https://example.org/e", date(2025, 5, 1), "Ministry notice"),
                             Evidence("Gazette No. 12, p. 4"))),
        commitment(LONG_ID, "A commitment with the longest possible id", tags=("trade",)),
    ),
)


def item(ident: str, status: Status | None = None) -> Standing:
    c = CATALOG.by_id[ident]
    return standing(c, NOW, CATALOG.settings.tz, lambda x: status or x.status)


def valid(rich: Rich) -> str:
    """The plain text Telegram would show, after checking the HTML is accepted and short enough."""
    parsed = parse_html(rich.html())
    assert utf16_len(parsed.text) <= MAX_CHARS
    return parsed.text


# ------------------------------------------------------------------------------------- search


def test_search_exact_id_words_and_accents() -> None:
    assert [c.id for c in search(CATALOG, "JOINT-INTEL")] == ["joint-intel"]
    assert [c.id for c in search(CATALOG, "trade")] == ["transit-fees", LONG_ID]
    assert [c.id for c in search(CATALOG, "dar kabul")] == ["dar-visit"]  # "Dâr" found by "dar"
    assert search(CATALOG, "trade intelligence") == [] and search(CATALOG, "  ") == []


def test_suggest_offers_the_closest_ids() -> None:
    assert suggest(CATALOG, "joint-intl")[0] == "joint-intel"
    assert suggest(CATALOG, "transit")[0] == "transit-fees"
    assert suggest(CATALOG, "qqqqqqqqqqqq") == []


def test_choices_and_not_found() -> None:
    hits = search(CATALOG, "trade")
    rich, keyboard = choices_view("trade", hits)
    assert "2 commitments match “trade”" in valid(rich)
    assert [b.data for row in keyboard.rows for b in row] == ["o:transit-fees", "o:" + digest(LONG_ID)]
    _, news = choices_view("trade", hits, news=True)
    assert news.rows[0][0].data == "n:transit-fees"
    text = valid(not_found_view("joint-intl", ["joint-intel"], CATALOG))
    assert "Did you mean:\n• joint-intel — Re-energise joint intelligence work" in text
    assert "Did you mean" not in valid(not_found_view("zzz", [], CATALOG))


# ------------------------------------------------------------------------------------- /status


def test_status_view_with_revision_history_evidence_and_headlines() -> None:
    changes = [StatusChange("transit-fees", Status.PENDING, "commitments.toml", NOW - timedelta(days=30)),
               StatusChange("transit-fees", Status.MET, "telegram", NOW, "@ann", 1, "https://example.org/r", "done")]
    curated = [CuratedEvidence(5, "transit-fees", "Fees cut", "https://n.example/1", NOW, "dawn", 1, NOW)]
    headlines = [Headline("transit-fees", "Fees cut", "https://n.example/1", "dawn", NOW, ("fees",), 5)]
    text = valid(status_view(item("transit-fees", Status.MET), CATALOG, changes, curated, headlines, {"dawn": "Dawn"}))
    assert "Deadline: by 15 Mar 2026 · closed (met)" in text
    assert "Originally: by 31 Dec 2025 (written “2025-12-31”)" in text
    assert "Revised to: by 15 Mar 2026 · moved · source" in text
    assert "📊 Status: met\n   History:\n   • 30 Jan 2026 14:00 PKT: not yet rated, from commitments.toml\n" \
           "   • 1 Mar 2026 14:00 PKT: met, by @ann · evidence · done" in text
    assert "• Ministry notice (1 May 2025)\n• Gazette No. 12, p. 4\n• ✅ Fees cut (Dawn, 1 Mar 2026)" in text
    assert "Source: citation: minutes of the May meeting" in text
    assert text.endswith("📰 Latest headlines\n• Fees cut\n   Dawn · 1 Mar 2026")


def test_status_view_of_an_ongoing_commitment_without_news() -> None:
    text = valid(status_view(item(LONG_ID), CATALOG, [], [], [], {}))
    assert "⏰ Deadline: ongoing (no deadline)" in text and "No matched headlines yet." in text
    assert "History" not in text and "Evidence" not in text


def test_everything_that_grows_is_capped() -> None:
    huge = commitment("huge", "T" * 5000, "2026-12", quote="q " * 5000,
                      evidence=tuple(Evidence(f"https://e.example/{n}", None, "note " * 20) for n in range(50)))
    catalog = Catalog(CATALOG.settings, CATALOG.agreements, (huge,))
    changes = [StatusChange("huge", Status.STALLED, "telegram", NOW, "@ann", 1, None, "n" * 2000) for _ in range(40)]
    headlines = [Headline("huge", "😀" * 3000, None, "f", NOW, ("x",) * 500, n) for n in range(3)]
    rich = status_view(standings(catalog, NOW)[0], catalog, changes, [], headlines, {})
    text = valid(rich)
    assert "…and 34 earlier" in text and "…and 45 more" in text
    assert visible_len(rich) <= MAX_CHARS
    worse = status_view(standings(catalog, NOW)[0], catalog, changes, [], [h for h in headlines for _ in range(30)], {})
    assert valid(worse).endswith("(message shortened)")


def test_fit_drops_trailing_lines_and_says_so() -> None:
    rich = Rich()
    for n in range(400):
        rich.line(f"line {n:03d} 😀😀😀")
    short = fit(rich)
    assert visible_len(short) <= MAX_CHARS
    assert short.plain().splitlines()[-1].startswith("…and ") and short.plain().endswith("more lines (message shortened)")
    small = Rich().line("ok")
    assert fit(small) is small


def test_overview_counts_effective_statuses() -> None:
    items = [item("joint-intel"), item("dar-visit", Status.IN_PROGRESS), item("transit-fees", Status.IN_PROGRESS)]
    text = valid(overview_view(items))
    assert text.startswith("📊 3 commitments tracked\n• not yet rated: 1\n• in progress: 2\n⚠️ 1 overdue")


@settings(max_examples=60, deadline=None)
@given(title=st.text(min_size=1, max_size=400), quote=st.text(max_size=400), headline=st.text(max_size=400))
def test_any_text_from_the_toml_or_feeds_renders_as_valid_escaped_html(title: str, quote: str, headline: str) -> None:
    c = commitment("x", title, "2026-05", quote=quote, source=quote, tags=(title,))
    catalog = Catalog(CATALOG.settings, CATALOG.agreements, (c,))
    hl = [Headline("x", headline, quote, "f", NOW, (headline,), 1)]
    text = valid(status_view(standings(catalog, NOW)[0], catalog, [], [], hl, {}))
    assert " ".join(title.split())[:50] in text
    valid(news_view(c, hl, {}, catalog.settings.tz))
    valid(list_view(standings(catalog, NOW), 0, "", "")[0])


# ------------------------------------------------------------------------------------- the other commands


def test_help_lists_every_command() -> None:
    text = valid(help_view(greeting=True))
    assert text.startswith("👋 Welcome to pledgewatch.")
    assert all(f"/{name} — {about}" in text for name, about in MENU)


def test_list_view_pages_and_clamps() -> None:
    items = standings(CATALOG, NOW)
    rich, keyboard = list_view(items, 1, "trade", "tag trade", per_page=3)
    text = valid(rich)
    assert "📋 Commitments · tag trade — page 2 of 2 (4 in all)" in text and f"4. A commitment" in text
    assert [[b.data for b in row] for row in keyboard.rows] == [["o:" + digest(LONG_ID)], ["l:0:trade"]]
    rich, keyboard = list_view(items, 99, "", "", per_page=3)
    assert "page 2 of 2" in valid(rich)
    first, keyboard = list_view(items, 0, "", "", per_page=3)
    assert keyboard.rows[-1][0].text == "next »" and len(keyboard.rows) == 4
    empty, none = list_view([], 0, "", "")
    assert "None." in valid(empty) and not none


def test_upcoming_unknown_filter_and_subscriptions() -> None:
    soon = [s for s in standings(CATALOG, NOW) if s.days_left is not None and 0 <= s.days_left <= 30]
    assert "Due in the next 1 day (0)" in valid(upcoming_view([], 1))
    text = valid(upcoming_view(soon, 30))  # transit-fees counts by its revised deadline
    assert "Due in the next 30 days (1)\n• Cut transit fees on Afghan trade transit-fees\n   by 15 Mar 2026 · 14 days" in text
    text = valid(unknown_filter_view("trad", ["kabul"], ["security", "trade"]))
    assert "; did you mean 'trade'?" in text and "Agreements: kabul\nTags: security, trade" in text
    subs = valid(subscriptions_view(["joint-intel", "gone", "*"], CATALOG))
    assert "• Re-energise joint intelligence work joint-intel\n• gone (no longer tracked)\n• all commitments" in subs
    assert "message me at @pw_bot and send /subscribe there" in valid(private_only_view("subscribe", "pw_bot"))


def test_mark_replies() -> None:
    assert "“in progres” is not a status; did you mean 'in_progress'?" in valid(bad_status_view("in progres"))
    change = StatusChange("joint-intel", Status.MET, "telegram", NOW, "Ann Smith", 7, "javascript:alert(1)", "<b>")
    rich = marked_view(change, CATALOG.by_id["joint-intel"], CATALOG.settings.tz)
    text = valid(rich)
    assert "Status is now met, set by Ann Smith on 1 Mar 2026 14:00 PKT." in text
    assert "Evidence: javascript:alert(1)" in text and "href" not in rich.html() and "Note: <b>" in text


# ------------------------------------------------------------------------------------- keyboards and callback data


def test_curation_buttons_fit_telegram_and_parse_back() -> None:
    keyboard = curation_buttons(12, "transit-fees")
    assert [b.data for b in keyboard.rows[0]] == ["cur:e:12:transit-fees", "cur:i:12:transit-fees"]
    assert parse_callback("cur:i:12:transit-fees", CATALOG) == Curate("irrelevant", 12, "transit-fees")
    big = curation_buttons(2**62, LONG_ID)
    for button in big.rows[0]:
        assert len(button.data.encode()) <= MAX_DATA_BYTES and digest(LONG_ID) in button.data
    assert parse_callback(big.rows[0][0].data, CATALOG) == Curate("evidence", 2**62, LONG_ID)
    assert Keyboard.from_json(big.to_json()) == big
    stored = Keyboard.from_json(big.to_json())  # the announcer queues our keyboard in the outbox as JSON
    assert [(b.text, b.data) for b in stored.rows[0]] == [(b.text, b.data) for b in big.rows[0]]
    assert big.to_dict()["inline_keyboard"][0][1] == {"text": "🚫 not relevant", "callback_data": big.rows[0][1].data}
    assert verdict_keyboard("evidence", "@ann").rows == ((verdict_keyboard("evidence", "@ann").rows[0][0],),)
    assert parse_callback(verdict_keyboard("irrelevant", "x").rows[0][0].data, CATALOG) == Noop()
    with pytest.raises(ValueError):
        curation_buttons(0, "transit-fees")


def test_open_and_page_buttons_round_trip_even_for_long_values() -> None:
    assert parse_callback(open_button("t", LONG_ID).data, CATALOG) == OpenCommitment(LONG_ID)
    assert parse_callback("n:joint-intel", CATALOG) == OpenNews("joint-intel")
    tag_page = page_button("next »", 3, LONG_TAG)
    assert len(tag_page.data.encode()) <= MAX_DATA_BYTES and tag_page.data.startswith("l:3:~")
    assert parse_callback(tag_page.data, CATALOG) == ListPage(3, LONG_TAG)
    assert parse_callback("l:0:kabul", CATALOG) == ListPage(0, "kabul")
    assert LONG_TAG in list_filters(CATALOG)


@pytest.mark.parametrize("data", [
    None, "", "o", "o:", "o:nope", "o:joint-intel:x", "O:joint-intel", "n:~AAAAAAAAAAAA", "l:-1:", "l:01:", "l:x:",
    "l:10001:", "l:0:nope", "cur:e:1", "cur:e:0:joint-intel", "cur:e:99999999999999999999:joint-intel",
    "cur:E:1:joint-intel", "cur:e:1:joint-intel:", "cur:n:1", "cur:e:1:" + "x" * 60, "cur:e:9223372036854775808:joint-intel",
])
def test_forged_or_stale_callback_data_parses_to_nothing(data: str | None) -> None:
    assert parse_callback(data, CATALOG) is None
