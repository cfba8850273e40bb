"""A deterministic corpus of realistic news feeds, for benchmarks.

Every feed is generated from its own seeded ``random.Random`` (seed, feed index), so feed *i* is the
same bytes whatever the corpus size and whichever process builds it: a server process and a
measuring process can each build the corpus and agree byte for byte.

What the feeds look like (shares are per feed, drawn from the feed's own RNG):

* ~55% WordPress-style RSS 2.0: ``content:encoded`` and ``description`` in CDATA, ``dc:creator``,
  several ``<category>``, ``guid isPermaLink="false"`` (``?p=123``), ``slash:comments``, ``media:content``;
* ~25% agency/broadcaster RSS 2.0: escaped HTML in ``description`` (``&lt;p&gt;``), ``media:thumbnail``,
  permalink GUIDs;
* ~20% Atom 1.0: ``title type="html"``, escaped HTML ``summary`` and ``content``, ``category term``,
  ``author/name``, RFC 3339 dates with a +05:00 offset;
* ~10% are Urdu-language feeds (Urdu titles, descriptions and categories, right-to-left text);
* ~30% are served gzip (``FeedSpec.gzip``), ~10% are broad "international" feeds that a real
  deployment gives a feed-level keyword filter (``FeedSpec.international``).

Bodies are 30-100 KB for 50 entries. Entry HTML has ``<p>``, ``<a href>``, ``<img src>``,
``<figure>``, ``<strong>``/``<em>`` and entities (``&#8217;``, ``&#8220;``, ``&nbsp;``, ``&amp;``, ``&#8230;``).
About 3% of entries are written to match the bundled commitments.toml (``MATCHING_*``), about 1%
are near misses (cricket stories the queries exclude), and about 4% are wire copy that several
feeds carry under the same headline (the poller folds those into one story). The filler text never
names Afghanistan, Kabul, the Taliban or the other words the bundled queries pair with Pakistan, so
matches come from the designated entries only.

    corpus = Corpus(1000)
    body = corpus.body(7)                 # bytes of feed 7, version 0
    new_body = corpus.add_entries(7, 5)   # 5 newer entries on top, the 5 oldest dropped
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

__all__ = ["Corpus", "FeedSpec", "GenEntry", "NOW", "DEFAULT_SEED", "ENTRIES_PER_FEED"]

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
DEFAULT_SEED = 20261123
ENTRIES_PER_FEED = 50
MIN_BYTES, MAX_BYTES = 30_000, 100_000
PKT = timezone(timedelta(hours=5))

# --- vocabulary ---------------------------------------------------------------------------------
# Filler is built from whole sentences (cheap to generate, realistic token mix). It deliberately never
# names Afghanistan/Afghan/Kabul/Taliban/TTP/Torkham etc., so it cannot satisfy the bundled queries.

_CITIES = ["ISLAMABAD", "KARACHI", "LAHORE", "PESHAWAR", "QUETTA", "MULTAN", "FAISALABAD", "HYDERABAD",
           "RAWALPINDI", "GILGIT", "SIALKOT", "GWADAR"]
_ACTORS = ["The federal cabinet", "The Sindh government", "Punjab's chief minister", "The Supreme Court",
           "The Election Commission", "The State Bank", "Opposition leaders", "The finance ministry",
           "The National Assembly", "Provincial health officials", "The Lahore High Court", "Traders' associations",
           "The Meteorological Department", "Farmers' groups", "University students", "The IMF mission",
           "The Planning Commission", "City administrators", "Police officials", "The Senate standing committee"]
_VERBS = ["announced", "approved", "rejected", "discussed", "criticised", "welcomed", "postponed", "reviewed",
          "questioned", "defended", "unveiled", "suspended", "extended", "proposed", "finalised"]
_OBJECTS = ["a new tax on retail traders", "the annual development programme", "the wheat procurement target",
            "plans for a metro line", "the circular debt reduction plan", "a polio vaccination drive",
            "the by-election schedule", "a rise in petrol prices", "new smog control measures",
            "the privatisation of the national airline", "a water-sharing formula", "the solar net-metering policy",
            "school timings during winter", "the cotton crop estimate", "an inquiry into flour shortages",
            "the budget deficit target", "the 27th constitutional amendment", "a digital census follow-up",
            "electricity tariffs for industry", "a housing scheme for low-income families"]
_TAILS = ["on Monday", "on Tuesday", "late on Wednesday", "after a lengthy session", "amid protests outside",
          "despite objections from the opposition", "according to officials", "in a statement on Sunday",
          "ahead of the budget", "after weeks of negotiation", "citing fiscal constraints", "for the second time this year"]
_QUOTES = ["&#8220;We will not compromise on transparency,&#8221; the spokesperson said.",
           "&#8220;This decision was long overdue,&#8221; an official told reporters.",
           "Analysts said the move could ease pressure on the rupee &#8212; at least for now.",
           "Markets reacted cautiously, with the KSE-100 index closing 0.4% higher.",
           "Critics argued the plan lacked funding &amp; a clear timeline.",
           "The officials said details would be shared &#8220;in due course&#8221;.",
           "Residents complained of long power outages&nbsp;&#8212; up to 10 hours a day.",
           "The ministry&#8217;s spokesperson declined to comment further.",
           "A notification is expected within the next two weeks&#8230;",
           "The next hearing was fixed for December 4."]
_SECTIONS_EN = ["Pakistan", "Business", "Sport", "World", "Opinion", "Editorial", "Sindh", "Punjab", "Balochistan",
                "Khyber Pakhtunkhwa", "Islamabad", "Technology", "Health", "Education", "Environment", "Courts",
                "Politics", "Economy", "Energy", "Markets"]
_AUTHORS = ["Staff Reporter", "News Desk", "Our Correspondent", "Web Desk", "Shahbaz Rana", "Ayesha Siddiqa",
            "Kamran Yousaf", "Mehtab Haider", "Reuters", "AFP", "APP", "Zubair Qureshi", "Sana Jamal"]
_WORLD = ["Oil prices rose in Asian trade as traders weighed supply risks.",
          "The European Central Bank kept interest rates unchanged.",
          "Floods in southern Brazil displaced thousands of families.",
          "Tech shares led a rally on Wall Street on Friday.",
          "A strong earthquake struck off the coast of Japan; no tsunami warning was issued.",
          "Climate negotiators in Belem struggled to agree a text on adaptation finance."]

_UR_SENTENCES = [
    "وفاقی کابینہ نے آئندہ مالی سال کے ترقیاتی بجٹ کی منظوری دے دی ہے۔",
    "اسلام آباد میں شدید سردی کے باعث گیس کی لوڈشیڈنگ میں اضافہ ہو گیا ہے۔",
    "سپریم کورٹ نے کیس کی سماعت آئندہ ہفتے تک ملتوی کر دی۔",
    "وزیر خزانہ کا کہنا ہے کہ مہنگائی کی شرح میں کمی آ رہی ہے۔",
    "لاہور میں سموگ کی صورتحال کے پیش نظر اسکول بند رکھنے کا فیصلہ کیا گیا۔",
    "کراچی اسٹاک ایکسچینج میں کاروبار کا مثبت رجحان دیکھا گیا۔",
    "محکمہ موسمیات نے ملک کے بیشتر علاقوں میں خشک موسم کی پیشگوئی کی ہے۔",
    "الیکشن کمیشن نے ضمنی انتخابات کا شیڈول جاری کر دیا۔",
    "پنجاب حکومت نے گندم کی خریداری کا ہدف مقرر کر دیا ہے۔",
    "ماہرین کے مطابق بجلی کی قیمتوں میں اضافے سے صنعت متاثر ہوگی۔",
    "قومی اسمبلی کا اجلاس کل صبح دس بجے طلب کر لیا گیا ہے۔",
    "پولیو کے خاتمے کی مہم میں لاکھوں بچوں کو قطرے پلائے گئے۔",
    "حکام کا کہنا ہے کہ تفصیلات جلد جاری کی جائیں گی&#8230;",
    "سندھ میں کپاس کی فصل کے تخمینے پر نظرثانی کی جا رہی ہے۔",
]
_UR_TITLES = ["وفاقی کابینہ کا اجلاس، اہم فیصلے متوقع", "سموگ: لاہور میں اسکول ایک ہفتے کے لیے بند",
              "پیٹرول کی قیمت میں اضافے کا امکان", "سپریم کورٹ میں آئینی ترمیم کیس کی سماعت",
              "کراچی میں بارش سے نظام زندگی متاثر", "اسٹیٹ بینک نے شرح سود برقرار رکھی",
              "ضمنی انتخابات: پولنگ کا عمل مکمل", "بجلی کے نرخوں میں کمی کا اعلان",
              "پنجاب میں گندم کی امدادی قیمت مقرر", "قومی اسمبلی میں بجٹ پر بحث جاری",
              "پولیو مہم کا تیسرا مرحلہ شروع", "گیس کی لوڈشیڈنگ کے خلاف احتجاج"]
_SECTIONS_UR = ["پاکستان", "کاروبار", "کھیل", "دنیا", "صحت", "تعلیم", "سیاست", "معیشت"]

# Entries written to match the bundled commitments' keywords (title, summary); checked by bench/poll.py.
MATCHING_EN = [
    ("Pakistan, Afghanistan agree to expand transit trade through Torkham and Chaman",
     "Officials from Islamabad and Kabul said the Afghanistan-Pakistan Transit Trade Agreement would be reviewed."),
    ("Torkham crossing reopened for trade after week-long closure",
     "Hundreds of trucks and containers crossed the border as the crossing reopened on Monday."),
    ("Islamabad asks Kabul to act against TTP hideouts on Afghan soil",
     "The Foreign Office said the Tehreek-e-Taliban Pakistan continued to use sanctuaries across the border."),
    ("Pakistan extends PoR cards of Afghan refugees until June",
     "Holders of Proof of Registration cards will not be deported before the new expiry, the interior ministry said."),
    ("CASA-1000 transmission line work resumes in Afghanistan",
     "Engineers said the power project linking Central Asia and Pakistan was back on schedule."),
    ("Uzbekistan-Afghanistan-Pakistan railway framework agreement signed",
     "The trans-Afghan railway is expected to connect Termez with Peshawar via Kabul."),
    ("State Bank of Pakistan and Da Afghanistan Bank discuss payment channels",
     "The central banks explored banking channels for traders on both sides."),
    ("Ishaq Dar says Afghan soil must not be used for terrorism against Pakistan",
     "Dar met Muttaqi in Kabul and raised concerns over terrorist attacks."),
    ("Pakistan, Afghanistan hold security talks in Kabul on border management",
     "A security delegation led by the defence minister discussed the border fence and Durand Line incidents."),
    ("Afghan refugees face harassment and detention in Islamabad raids, rights groups say",
     "Police detained Afghan nationals in several raids under the Illegal Foreigners Repatriation Plan."),
    ("Pakistan and Afghanistan sign customs cooperation MoU",
     "FBR and Afghan customs officials signed the agreement in Kabul to speed up clearance at Torkham."),
    ("Pakistan airstrikes in Khost and Paktika draw protest from Afghanistan",
     "Kabul said the strikes violated its sovereignty and territorial integrity."),
]
MATCHING_UR = [
    ("پاکستان اور افغانستان کے درمیان تجارت بڑھانے پر اتفاق", "دونوں ممالک نے ٹرانزٹ تجارت میں حائل رکاوٹیں دور کرنے کا فیصلہ کیا۔"),
    ("افغان مہاجرین کی پاکستان سے واپسی کا عمل تیز", "حکام کے مطابق ہزاروں خاندان طورخم کے راستے واپس گئے۔"),
    ("طورخم سرحد تجارت کے لیے کھول دی گئی", "سرحد کی بندش کے بعد ٹرکوں کی آمد و رفت بحال ہو گئی۔"),
]
NEAR_MISS_EN = [
    ("Pakistan beat Afghanistan by six wickets in T20 World Cup warm-up",
     "Pakistan and Afghanistan players traded words during the cricket match in Kabul-style heat; trade of barbs continued."),
    ("Cricket: Afghanistan tour of Pakistan confirmed for February",
     "The cricket boards of Pakistan and Afghanistan agreed a three-match T20 series."),
]
_WIRE_POOL_SIZE = 200
_SIZE_MODEL = {"wordpress": (1.18, 1630), "agency": (1.25, 755), "atom": (1.10, 1050)}  # refit if markup changes


def _sentence(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return f"{rng.choice(_ACTORS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}."
    if roll < 0.85:
        return rng.choice(_QUOTES)
    return rng.choice(_WORLD)


def _headline(rng: random.Random) -> str:
    actor = rng.choice(_ACTORS).removeprefix("The ")
    obj = rng.choice(_OBJECTS)
    style = rng.random()
    if style < 0.4:
        return f"{actor} {rng.choice(_VERBS)} {obj}"
    if style < 0.7:
        return f"{rng.choice(_CITIES).title()}: {obj[0].upper()}{obj[1:]} {rng.choice(_VERBS)}"
    return f"&#8216;{obj[0].upper()}{obj[1:]}&#8217; {rng.choice(_VERBS)} &amp; {rng.choice(_TAILS)}"


def _slug(text: str, seq: int) -> str:
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words[:6] or ["story"]) + f"-{seq}"


# --- model ------------------------------------------------------------------------------------


@dataclass
class GenEntry:
    """One generated item; ``title`` and ``html`` are markup (may contain entities), unescaped."""

    seq: int
    title: str
    link: str
    guid: str
    published: datetime
    author: str
    categories: tuple[str, ...]
    description: str  # HTML
    content: str  # HTML; "" when the style carries none
    image: str
    kind: str  # "filler" | "match" | "near-miss" | "wire"


@dataclass
class FeedSpec:
    """One feed of the corpus: where it is served and how it is built."""

    index: int
    path: str  # e.g. /feeds/0007.xml
    style: str  # "wordpress" | "agency" | "atom"
    language: str  # "en" | "ur"
    gzip: bool
    international: bool
    host: str
    title: str
    per_entry: int  # text budget per entry, chars
    cadence: float  # mean minutes between entries
    entries: list[GenEntry] = field(default_factory=list)  # newest first
    version: int = 0
    next_seq: int = 0

    @property
    def content_type(self) -> str:
        kind = "application/atom+xml" if self.style == "atom" else "application/rss+xml"
        return f"{kind}; charset=utf-8"


class Corpus:
    """N feeds, each generated on demand from its own seeded RNG; ``add_entries`` moves a feed on."""

    def __init__(self, n_feeds: int, seed: int = DEFAULT_SEED, *, entries: int = ENTRIES_PER_FEED,
                 now: datetime = NOW) -> None:
        self.seed = seed
        self.now = now
        self.entries_per_feed = entries
        wire_rng = random.Random(f"{seed}:wire")
        self._wire = [(_headline(wire_rng) + " &#8212; report", " ".join(_sentence(wire_rng) for _ in range(3)))
                      for _ in range(_WIRE_POOL_SIZE)]
        self.feeds = [self._spec(i) for i in range(n_feeds)]
        self._bodies: dict[int, bytes] = {}

    # -- building ----------------------------------------------------------------------------
    def _spec(self, index: int) -> FeedSpec:
        rng = random.Random(f"{self.seed}:feed:{index}")
        roll = rng.random()
        style = "wordpress" if roll < 0.55 else "agency" if roll < 0.80 else "atom"
        language = "ur" if rng.random() < 0.10 and style != "atom" else "en"
        spec = FeedSpec(
            index=index, path=f"/feeds/{index:04d}.xml", style=style, language=language,
            gzip=rng.random() < 0.30, international=language == "en" and rng.random() < 0.10,
            host=f"www.{rng.choice(['daily', 'news', 'times', 'herald', 'post', 'tribune', 'voice'])}{index}.com.pk",
            title=f"{rng.choice(['The Daily', 'Pakistan', 'Capital', 'Frontier', 'National'])} "
                  f"{rng.choice(['Herald', 'News', 'Times', 'Observer', 'Post', 'Chronicle'])} {index}",
            per_entry=0, cadence=rng.choice([8, 15, 30, 45, 60, 90, 120]))
        # Size: aim for a body between MIN_BYTES and MAX_BYTES. Full-text styles carry more per entry, so they
        # get the larger targets; _SIZE_MODEL (bytes per entry = a * text budget + b) was fitted on this generator.
        low, high = {"wordpress": (85_000, 98_000), "agency": (38_000, 72_000), "atom": (57_000, 96_000)}[style]
        a, b = _SIZE_MODEL[style]
        spec.per_entry = max(0, int((rng.randint(low, high) / max(1, self.entries_per_feed) - b) / a))
        if language == "ur":
            spec.per_entry = int(spec.per_entry / 1.8)  # the budget is in characters; Urdu is ~1.8 bytes each
        when = self.now - timedelta(minutes=rng.uniform(0, spec.cadence))
        made = []
        for _ in range(self.entries_per_feed):
            made.append(self._entry(spec, rng, when))
            when -= timedelta(minutes=rng.expovariate(1 / spec.cadence) + 1)
        spec.entries = made
        return spec

    def _entry(self, spec: FeedSpec, rng: random.Random, when: datetime) -> GenEntry:
        seq = spec.next_seq
        spec.next_seq += 1
        roll = rng.random()
        urdu = spec.language == "ur"
        if roll < 0.03:
            kind = "match"
            title, lead = rng.choice(MATCHING_UR if urdu else MATCHING_EN)
        elif roll < 0.04 and not urdu:
            kind = "near-miss"
            title, lead = rng.choice(NEAR_MISS_EN)
        elif roll < 0.08 and not urdu:
            kind = "wire"
            title, lead = self._wire[rng.randrange(len(self._wire))]
        else:
            kind = "filler"
            title = rng.choice(_UR_TITLES) if urdu else _headline(rng)
            lead = ""
        paragraphs = self._paragraphs(rng, spec.per_entry, urdu, lead)
        post_id = 100_000 + spec.index * 10_000 + seq
        slug = _slug(title, post_id)
        day = when.astimezone(PKT)
        link = f"https://{spec.host}/{day:%Y/%m/%d}/{slug}/"
        image = f"https://{spec.host}/wp-content/uploads/{day:%Y/%m}/img-{post_id}.jpg"
        sections = _SECTIONS_UR if urdu else _SECTIONS_EN
        categories = tuple(rng.sample(sections, rng.randint(1, 4)))
        if spec.style == "wordpress":
            guid = f"https://{spec.host}/?p={post_id}"
            description = f"<p>{paragraphs[0][:200]}&#8230;</p>" + (
                f'<p>The post <a href="{link}">{title}</a> appeared first on <a href="https://{spec.host}">{spec.title}</a>.</p>')
            content = self._article(rng, paragraphs, link, image, spec)
        elif spec.style == "agency":
            guid = link
            description = self._article(rng, paragraphs, link, image, spec, figure=False)
            content = ""
        else:
            guid = f"tag:{spec.host},{day:%Y}:post-{post_id}"
            description = f"<p>{paragraphs[0][:300]}</p>"
            content = self._article(rng, paragraphs[1:] or paragraphs, link, image, spec)
        return GenEntry(seq, title, link, guid, when, rng.choice(_AUTHORS), categories, description, content,
                        image, kind)

    @staticmethod
    def _paragraphs(rng: random.Random, budget: int, urdu: bool, lead: str) -> list[str]:
        """Paragraphs of 1-4 sentences until about ``budget`` characters (at least one sentence)."""
        out: list[str] = []
        sentences: list[str] = [lead] if lead else []
        used, size = len(lead), rng.randint(2, 4)
        while used < budget or not out and not sentences:
            text = rng.choice(_UR_SENTENCES) if urdu else _sentence(rng)
            if not out and not sentences and not urdu:
                text = f"{rng.choice(_CITIES)}: {text}"
            sentences.append(text)
            used += len(text) + 1
            if len(sentences) >= size:
                out.append(" ".join(sentences))
                sentences, size = [], rng.randint(2, 4)
                used += 7
        if sentences:
            out.append(" ".join(sentences))
        return out

    @staticmethod
    def _article(rng: random.Random, paragraphs: list[str], link: str, image: str, spec: FeedSpec,
                 figure: bool = True) -> str:
        parts = []
        if figure:
            parts.append(f'<figure class="wp-block-image size-large"><img decoding="async" width="1024" height="576" '
                         f'src="{image}" alt="" /></figure>')
        for i, text in enumerate(paragraphs):
            if i == 1:
                text = f'<strong>Read more:</strong> <a href="{link}#related" rel="noopener">{text}</a>'
            elif i == 2:
                text = f"<em>{text}</em>"
            parts.append(f"<p>{text}</p>")
        return "".join(parts)

    # -- rendering ---------------------------------------------------------------------------
    def body(self, index: int) -> bytes:
        """The current bytes of feed ``index`` (cached until the feed changes)."""
        if (cached := self._bodies.get(index)) is not None:
            return cached
        spec = self.feeds[index]
        body = (_atom(spec) if spec.style == "atom" else _rss(spec)).encode("utf-8")
        self._bodies[index] = body
        return body

    def add_entries(self, index: int, count: int, now: datetime | None = None) -> bytes:
        """Put ``count`` newer entries on top of feed ``index`` and drop as many of the oldest; new bytes."""
        spec = self.feeds[index]
        spec.version += 1
        rng = random.Random(f"{self.seed}:feed:{index}:v{spec.version}")
        newest = spec.entries[0].published
        end = now or (self.now + timedelta(hours=spec.version))
        step = (end - newest) / (count + 1)
        fresh = [self._entry(spec, rng, newest + step * (i + 1)) for i in range(count)]
        spec.entries = (fresh[::-1] + spec.entries)[: self.entries_per_feed]
        self._bodies.pop(index, None)
        return self.body(index)

    def forget(self, index: int) -> None:
        """Drop a cached body (memory), e.g. after it has been handed to a server or parsed."""
        self._bodies.pop(index, None)


def _rss(spec: FeedSpec) -> str:
    urdu = spec.language == "ur"
    newest = spec.entries[0].published if spec.entries else NOW
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
        'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" xmlns:media="http://search.yahoo.com/mrss/">\n'
        "<channel>\n"
        f"\t<title>{escape(spec.title)}</title>\n"
        f'\t<atom:link href="https://{spec.host}/feed/" rel="self" type="application/rss+xml" />\n'
        f"\t<link>https://{spec.host}/</link>\n"
        f"\t<description>{'تازہ ترین خبریں' if urdu else 'Latest news from Pakistan and the world'}</description>\n"
        f"\t<lastBuildDate>{format_datetime(newest)}</lastBuildDate>\n"
        f"\t<language>{'ur' if urdu else 'en-US'}</language>\n"
        "\t<sy:updatePeriod>hourly</sy:updatePeriod>\n\t<sy:updateFrequency>1</sy:updateFrequency>\n"
        "\t<generator>https://wordpress.org/?v=6.6.2</generator>\n"
        f"\t<image><url>https://{spec.host}/logo.png</url><title>{escape(spec.title)}</title>"
        f"<link>https://{spec.host}/</link><width>32</width><height>32</height></image>\n"
    )
    parts = [head]
    for e in spec.entries:
        # Titles carry entities (&#8217;, &amp;) as real feeds do; they are already markup.
        item = [f"\t<item>\n\t\t<title>{e.title}</title>\n\t\t<link>{e.link}</link>\n"]
        if spec.style == "wordpress":
            item.append(f"\t\t<comments>{e.link}#respond</comments>\n")
            item.append(f"\t\t<dc:creator><![CDATA[{e.author}]]></dc:creator>\n")
        item.append(f"\t\t<pubDate>{format_datetime(e.published)}</pubDate>\n")
        for c in e.categories:
            item.append(f"\t\t<category><![CDATA[{c}]]></category>\n" if spec.style == "wordpress"
                        else f"\t\t<category>{escape(c)}</category>\n")
        if spec.style == "wordpress":
            item.append(f'\t\t<guid isPermaLink="false">{e.guid}</guid>\n')
            item.append(f"\t\t<description><![CDATA[{e.description}]]></description>\n")
            item.append(f"\t\t<content:encoded><![CDATA[{e.content}]]></content:encoded>\n")
            item.append("\t\t<slash:comments>0</slash:comments>\n")
            item.append(f'\t\t<media:content url="{e.image}" medium="image" width="1024" height="576"/>\n')
        else:
            item.append(f'\t\t<guid isPermaLink="true">{e.guid}</guid>\n')
            item.append(f"\t\t<description>{escape(e.description)}</description>\n")
            item.append(f'\t\t<media:thumbnail width="240" height="135" url="{e.image}"/>\n')
        item.append("\t</item>\n")
        parts.append("".join(item))
    parts.append("</channel>\n</rss>\n")
    return "".join(parts)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(PKT).isoformat(timespec="seconds")


def _atom(spec: FeedSpec) -> str:
    newest = spec.entries[0].published if spec.entries else NOW
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"  <title>{escape(spec.title)}</title>\n"
        f'  <link rel="alternate" type="text/html" href="https://{spec.host}/"/>\n'
        f'  <link rel="self" type="application/atom+xml" href="https://{spec.host}/atom.xml"/>\n'
        f"  <id>tag:{spec.host},2009:feed</id>\n"
        f"  <updated>{_rfc3339(newest)}</updated>\n"
        '  <generator uri="https://ghost.org" version="5.96">Ghost</generator>\n'
    ]
    for e in spec.entries:
        parts.append(
            "  <entry>\n"
            f'    <title type="html">{escape(e.title)}</title>\n'
            f'    <link rel="alternate" type="text/html" href="{e.link}"/>\n'
            f"    <id>{e.guid}</id>\n"
            f"    <published>{_rfc3339(e.published)}</published>\n"
            f"    <updated>{_rfc3339(e.published + timedelta(minutes=7))}</updated>\n"
            f"    <author><name>{escape(e.author)}</name></author>\n"
            + "".join(f'    <category term="{escape(c)}"/>\n' for c in e.categories)
            + f'    <summary type="html">{escape(e.description)}</summary>\n'
            f'    <content type="html" xml:base="https://{spec.host}/">{escape(e.content)}</content>\n'
            "  </entry>\n")
    parts.append("</feed>\n")
    return "".join(parts)
