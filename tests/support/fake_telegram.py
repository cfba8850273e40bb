"""A fake Telegram Bot API server for offline tests, driven by the real python-telegram-bot client.

Start it, point PTB at it with ``base_url``, and drive the bot as a user would::

    with FakeTelegram() as tg:
        tg.add_chat(-1001234567890, "channel", title="Pledges")
        bot = telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)
        ...
        tg.push_message(42, 42, "/start")          # a user writes to the bot
        tg.wait_for_messages(42, 1, timeout=5)      # block until the bot has answered

All state lives in this process (an HTTP server on 127.0.0.1 in a background thread), so a bot
started as a *subprocess* works the same way: hand it ``tg.base_url`` and ``tg.token``.

Replies follow the Bot API documentation: ``{"ok": true, "result": ...}`` on success and
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` with the same
HTTP status on failure. Faults are injected with :meth:`FakeTelegram.fail_next`,
:meth:`FakeTelegram.migrate` and :meth:`FakeTelegram.block`; Telegram's flood limits are
enforced when ``enforce_limits=True``.

Run ``python -m tests.support.fake_telegram`` to serve one by hand.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import email.parser
import email.policy
import itertools
import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.support.telegram_html import HtmlParseError, parse_html, utf16_len

DEFAULT_TOKEN = "7000000001:AAF-pledgewatch-fake-telegram-token0"
DEFAULT_USERNAME = "pledgewatch_test_bot"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_POLL_TIMEOUT = 50.0

_TOKEN_FORMAT = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_BOT_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "from_chat_id",
        "max_connections",
        "user_id",
        "width",
        "height",
        "duration",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "message_ids",
    }
)

# Methods that put a new message into a chat: these count against the flood limits.
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
_EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})

_PROXY_ERROR_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error reply of the Bot API."""

    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


class WaitTimeout(AssertionError):
    """A ``wait_for_*`` helper gave up; the message says what was there instead."""


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


class Call(tuple):
    """One API request as the server saw it: unpacks as ``(method, params)``.

    Also has ``.status`` (the HTTP status returned, ``None`` when the connection was dropped or
    while the call is still running), ``.at`` (``time.monotonic()`` on arrival), ``.token`` and
    ``.fault`` (the injected :class:`Fault`, if any). Uploaded files appear in ``params`` as
    :class:`Upload` objects.
    """

    token: str
    at: float
    status: int | None
    fault: "Fault | None"

    def __new__(cls, method: str, params: dict, *, token: str, at: float) -> "Call":
        obj = super().__new__(cls, (method, params))
        obj.token = token
        obj.at = at
        obj.status = None
        obj.fault = None
        return obj

    @property
    def method(self) -> str:
        return self[0]

    @property
    def params(self) -> dict:
        return self[1]

    def __repr__(self) -> str:
        return f"Call({self.method!r}, {self.params!r}, status={self.status})"


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"Upload({self.name!r}, {self.filename!r}, {self.size} bytes)"


@dataclass
class Message:
    """A message in a chat, either sent by the bot (``outgoing``) or pushed as a user's.

    ``text``/``caption`` are what the bot sent (still with its HTML markup); ``plain_text``/
    ``plain_caption`` and ``entities``/``caption_entities`` are what Telegram made of it.
    ``edits`` lists every successful edit in order (each a dict with the method and the new
    values); the fields above always hold the current state.
    """

    message_id: int
    chat_id: int
    date: int
    outgoing: bool
    method: str | None = None
    kind: str = "text"  # text | photo | document
    text: str | None = None
    plain_text: str | None = None
    entities: list[dict] = field(default_factory=list)
    parse_mode: str | None = None
    caption: str | None = None
    plain_caption: str | None = None
    caption_entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None
    reply_to_message_id: int | None = None
    disable_notification: bool = False
    media: dict | list | None = None
    from_user: dict | None = None
    params: dict = field(default_factory=dict, repr=False)
    edits: list[dict] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def visible_text(self) -> str | None:
        """The rendered text (or caption), what a user reads."""
        return self.plain_text if self.kind == "text" else self.plain_caption


@dataclass
class Fault:
    """An injected failure, see :meth:`FakeTelegram.fail_next`."""

    method: str  # canonical method name or "*"
    status: int | None = None
    retry_after: int | None = None
    description: str | None = None
    parameters: dict | None = None
    reset: bool = False
    delay: float = 0.0
    apply: bool = False
    html: bool = False
    chat_id: int | str | None = None
    times: int = 1
    fired: int = 0


@dataclass(frozen=True)
class Limits:
    """Flood limits as ``(messages, window_seconds)`` sliding windows.

    Defaults follow Telegram's bot FAQ: no more than about one message per second in a chat,
    20 per minute in a group (we apply it to groups, supergroups and channels), and about 30
    per second overall. The real server "may allow short bursts"; pass e.g. ``per_chat=(3, 3.0)``
    to model that, or shrink the windows to keep a benchmark short.
    """

    per_chat: tuple[int, float] = (1, 1.0)
    per_group: tuple[int, float] = (20, 60.0)
    overall: tuple[int, float] = (30, 1.0)
    count_edits: bool = False


@dataclass
class Stats:
    """Counters; :attr:`FakeTelegram.stats` returns a snapshot."""

    requests: collections.Counter = field(default_factory=collections.Counter)
    flood_429: int = 0
    flood_429_by_chat: collections.Counter = field(default_factory=collections.Counter)
    injected: collections.Counter = field(default_factory=collections.Counter)
    messages_sent: int = 0


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


@dataclass
class _Chat:
    info: dict
    migrated_to: int | None = None
    blocked: str | None = None  # description of the 403, when the bot may not write here
    next_message_id: int = 1
    messages: dict[int, Message] = field(default_factory=dict)


class _FloodControl:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.overall: collections.deque[float] = collections.deque()
        self.per_chat: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.per_group: dict[int, collections.deque[float]] = collections.defaultdict(collections.deque)

    @staticmethod
    def _wait(window: collections.deque[float], limit: tuple[int, float], now: float) -> float:
        count, span = limit
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < count:
            return 0.0
        return window[len(window) - count] + span - now

    def check(self, chat_id: int, is_group: bool, now: float) -> int | None:
        waits = [
            self._wait(self.overall, self.limits.overall, now),
            self._wait(self.per_chat[chat_id], self.limits.per_chat, now),
        ]
        if is_group:
            waits.append(self._wait(self.per_group[chat_id], self.limits.per_group, now))
        worst = max(waits)
        if worst <= 0:
            return None
        return max(1, math.ceil(worst))

    def record(self, chat_id: int, is_group: bool, now: float) -> None:
        self.overall.append(now)
        self.per_chat[chat_id].append(now)
        if is_group:
            self.per_group[chat_id].append(now)


def _default_chat_type(chat_id: int) -> str:
    if chat_id > 0:
        return "private"
    if str(chat_id).startswith("-100"):
        return "channel"
    return "group"


def _strip_message(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram trims leading and trailing white space, shifting and clipping the entities."""
    stripped_left = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    limit = utf16_len(result)
    out = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return result, out


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None when it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
        return 1, 1
    return None


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: "FakeTelegram"):
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # noqa: ANN001 - stdlib signature
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # noqa: ANN001
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def drop_all_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "nginx/1.18.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.app._handle(self)  # type: ignore[attr-defined]

    do_POST = do_GET

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def respond(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) or was killed: nothing to tell it
            self.close_connection = True

    def drop(self) -> None:
        """Close the connection without any response, as a crashed proxy or a reset would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """A local, stateful stand-in for ``https://api.telegram.org``.

    Args:
        token: the bot's token (``<bot id>:<secret>``); getMe reports the id before the colon.
        extra_tokens: more tokens the server accepts (each its own bot id, same username).
        username, first_name: the bot's identity in getMe and in ``from`` of its messages.
        enforce_limits: answer 429 when Telegram's flood limits (:class:`Limits`) are exceeded.
        limits: the limits to enforce.
        strict_html: reject a ``&`` that starts no entity (see :mod:`tests.support.telegram_html`).
        host, port: where to listen; port 0 picks a free one.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        extra_tokens: tuple[str, ...] = (),
        username: str = DEFAULT_USERNAME,
        first_name: str = "Pledgewatch Test",
        enforce_limits: bool = False,
        limits: Limits | None = None,
        strict_html: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        for tok in (token, *extra_tokens):
            if not _TOKEN_FORMAT.match(tok):
                raise ValueError(f"not a Telegram token (<id>:<secret>): {tok!r}")
        self.token = token
        self._tokens = {token, *extra_tokens}
        self.username = username
        self.first_name = first_name
        self.enforce_limits = enforce_limits
        self.limits = limits or Limits()
        self.strict_html = strict_html
        self._host = host
        self._port = port

        self._cond = threading.Condition(threading.RLock())
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, dict] = {}
        self._updates: list[dict] = []
        self._next_update_id = 1000
        self._poll_generation = 0
        self._allowed_updates: list[str] | None = None
        self._webhook_url = ""
        self._commands: dict[str, list[dict]] = {}
        self._callback_queries: dict[str, dict] = {}
        self._callback_answers: dict[str, dict] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._files: dict[str, dict] = {}
        self._file_counter = itertools.count(1)
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._stats = Stats()
        self._flood = _FloodControl(self.limits)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "FakeTelegram":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-telegram", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._httpd.shutdown()
        self._httpd.drop_all_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    close = stop

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeTelegram is not running; use it as a context manager or call start()")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url``: PTB appends the token, then ``/<method>``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    # ---------------------------------------------------------------- identity, chats, users

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def bot_user(self, token: str | None = None) -> dict:
        bot_id = int((token or self.token).split(":", 1)[0])
        return {"id": bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def add_chat(
        self,
        chat_id: int,
        type: str | None = None,  # noqa: A002 - the Bot API's field name
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        is_forum: bool | None = None,
    ) -> dict:
        """Register a chat the bot can write to; returns its Chat object.

        ``type`` defaults by id like Telegram's: positive -> ``private``, ``-100…`` -> ``channel``
        (pass ``"supergroup"`` for a supergroup), other negative -> ``group``.
        """
        chat_type = type or _default_chat_type(chat_id)
        if chat_type not in ("private", "group", "supergroup", "channel"):
            raise ValueError(f"unknown chat type {chat_type!r}")
        info: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            info["first_name"] = first_name or (username or f"User{chat_id}")
            if last_name:
                info["last_name"] = last_name
        else:
            info["title"] = title or f"Chat {chat_id}"
        if username:
            info["username"] = username
        if is_forum is not None:
            info["is_forum"] = is_forum
        with self._cond:
            existing = self._chats.get(chat_id)
            if existing is None:
                self._chats[chat_id] = _Chat(info)
            else:
                existing.info = info
            return dict(info)

    def add_user(
        self,
        user_id: int,
        *,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> dict:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        with self._cond:
            self._users[user_id] = user
        return dict(user)

    def chat(self, chat_id: int) -> dict:
        with self._cond:
            return dict(self._chats[chat_id].info)

    def migrate(self, chat_id: int, new_chat_id: int | None = None, *, notify: bool = False) -> int:
        """Upgrade group ``chat_id`` to a supergroup, as Telegram does when a group grows.

        Afterwards every request naming the old id gets 400 "Bad Request: group chat was
        upgraded to a supergroup chat" with ``parameters.migrate_to_chat_id`` (PTB raises
        ``ChatMigrated``). With ``notify=True`` the bot also receives the two service messages
        (``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in the new one).
        Returns the new id.
        """
        with self._cond:
            old = self._chats.get(chat_id)
            if old is None:
                old = self._chats[chat_id] = _Chat({"id": chat_id, "type": "group", "title": f"Chat {chat_id}"})
            if new_chat_id is None:
                new_chat_id = -(10**12 + abs(chat_id))
            title = old.info.get("title", f"Chat {chat_id}")
            self.add_chat(new_chat_id, "supergroup", title=title)
            if notify:
                self._push_service(chat_id, {"migrate_to_chat_id": new_chat_id})
                self._push_service(new_chat_id, {"migrate_from_chat_id": chat_id})
            old.migrated_to = new_chat_id
            return new_chat_id

    def block(self, chat_id: int, description: str | None = None) -> None:
        """From now on the bot gets 403 Forbidden for this chat (user blocked it / bot removed)."""
        with self._cond:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = _Chat({"id": chat_id, "type": _default_chat_type(chat_id)})
            if description is None:
                description = {
                    "private": "Forbidden: bot was blocked by the user",
                    "group": "Forbidden: bot was kicked from the group chat",
                    "supergroup": "Forbidden: bot was kicked from the supergroup chat",
                    "channel": "Forbidden: bot is not a member of the channel chat",
                }[chat.info["type"]]
            chat.blocked = description

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._chats[chat_id].blocked = None

    # ---------------------------------------------------------------- driving the bot

    def push_message(
        self,
        chat_id: int,
        user_id: int | None,
        text: str,
        *,
        chat_type: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict:
        """Queue an Update carrying a Message from ``user_id`` in ``chat_id``; returns the update.

        The chat (and user) are registered if new. Text starting a word with ``/`` gets
        ``bot_command`` entities, ``/cmd@botname`` included. In a channel (``chat_type=
        "channel"``) the update is a ``channel_post`` with ``sender_chat`` and no ``from``.
        """
        with self._cond:
            chat = self._chats.get(chat_id)
            if chat is None or (chat_type and chat.info["type"] != chat_type):
                if chat_type == "private" or (chat_type is None and chat_id > 0):
                    self.add_chat(chat_id, chat_type, username=username, first_name=first_name)
                else:
                    self.add_chat(chat_id, chat_type, title=title)
                chat = self._chats[chat_id]
            is_channel = chat.info["type"] == "channel"
            user = None
            if user_id is not None and not is_channel:
                user = self._users.get(user_id)
                if user is None or (username and user.get("username") != username):
                    user = self.add_user(user_id, username=username, first_name=first_name)
            message = Message(
                message_id=chat.next_message_id,
                chat_id=chat_id,
                date=int(time.time()),
                outgoing=False,
                text=text,
                plain_text=text,
                entities=self._command_entities(text),
                from_user=user,
                reply_to_message_id=reply_to_message_id,
            )
            chat.next_message_id += 1
            chat.messages[message.message_id] = message
            kind = "channel_post" if is_channel else "message"
            return self._queue_update({kind: self._message_json(message)})

    def push_callback(self, chat_id: int, user_id: int, message_id: int, data: str, *, username: str | None = None) -> dict:
        """Queue a ``callback_query`` Update: ``user_id`` pressed a button with ``data`` under the
        bot's message ``message_id`` in ``chat_id``. Returns the update; its
        ``["callback_query"]["id"]`` is what the bot must pass to answerCallbackQuery."""
        with self._cond:
            chat = self._chats.get(chat_id)
            message = chat.messages.get(message_id) if chat else None
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id} to press a button under")
            user = self._users.get(user_id)
            if user is None or (username and user.get("username") != username):
                user = self.add_user(user_id, username=username)
            query_id = str(next(self._query_ids))
            query = {
                "id": query_id,
                "from": user,
                "message": self._message_json(message),
                "chat_instance": str(abs(hash((chat_id, self.bot_id))) % 10**18),
                "data": data,
            }
            self._callback_queries[query_id] = {"query": query, "answered": False}
            return self._queue_update({"callback_query": query})

    def push_update(self, update: dict) -> dict:
        """Queue any raw Update (``update_id`` is assigned); returns it."""
        with self._cond:
            return self._queue_update(dict(update))

    def pending_updates(self) -> list[dict]:
        """Updates not yet confirmed by the bot (a later getUpdates offset)."""
        with self._cond:
            return copy.deepcopy(self._updates)

    # ---------------------------------------------------------------- observing the bot

    @property
    def calls(self) -> list[Call]:
        """Every authorised request in arrival order, as ``(method, params)`` tuples."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def messages(self, chat_id: int, *, include_deleted: bool = True) -> list[Message]:
        """Messages the bot sent to ``chat_id`` (snapshots, oldest first)."""
        with self._cond:
            return self._outgoing(chat_id, include_deleted)

    def history(self, chat_id: int) -> list[Message]:
        """Every message in the chat, the users' included."""
        with self._cond:
            chat = self._chats.get(chat_id)
            return [copy.deepcopy(m) for m in chat.messages.values()] if chat else []

    def message(self, chat_id: int, message_id: int) -> Message:
        with self._cond:
            return copy.deepcopy(self._chats[chat_id].messages[message_id])

    @property
    def callback_answers(self) -> dict[str, dict]:
        """answerCallbackQuery parameters by query id."""
        with self._cond:
            return copy.deepcopy(self._callback_answers)

    def commands(self, *, scope: dict | None = None, language_code: str = "") -> list[dict]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def stats(self) -> Stats:
        with self._cond:
            return copy.deepcopy(self._stats)

    def wait_until(self, predicate: Callable[["FakeTelegram"], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        """Block until ``predicate(self)`` is truthy (re-checked on every server event)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    recent = self._calls[-10:]
                    raise WaitTimeout(f"timed out after {timeout}s waiting for {what}; last calls: {recent}")
                self._cond.wait(remaining)

    def wait_for_messages(self, chat_id: int, n: int = 1, timeout: float = 5.0) -> list[Message]:
        """Block until the bot has sent at least ``n`` messages to ``chat_id``; return them all.

        Blocks the calling thread: from a coroutine running on the bot's own event loop use
        :meth:`await_messages` instead, or the bot never gets to run.
        """
        try:
            return self.wait_until(
                lambda s: s._outgoing_count(chat_id) >= n and s._outgoing(chat_id, True),
                timeout,
                f"{n} message(s) in chat {chat_id}",
            )
        except WaitTimeout as exc:
            got = [m.text if m.kind == "text" else f"<{m.kind}>" for m in self.messages(chat_id)]
            raise WaitTimeout(f"{exc}; messages in chat {chat_id}: {got}") from None

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``method`` has been called at least ``n`` times; return those calls."""
        wanted = _canonical_method(method) or method
        return self.wait_until(
            lambda s: s._stats.requests[wanted] >= n and [c for c in s._calls if c.method == wanted],
            timeout,
            f"{n} call(s) to {method}",
        )

    def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict:
        return self.wait_until(
            lambda s: copy.deepcopy(s._callback_answers.get(query_id)), timeout, f"an answer to callback query {query_id}"
        )

    async def await_messages(self, chat_id: int, n: int = 1, timeout: float = 5.0) -> list[Message]:
        """:meth:`wait_for_messages` for coroutines: waits in a worker thread."""
        return await asyncio.to_thread(self.wait_for_messages, chat_id, n, timeout)

    async def await_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        return await asyncio.to_thread(self.wait_for_calls, method, n, timeout)

    async def await_callback_answer(self, query_id: str, timeout: float = 5.0) -> dict:
        return await asyncio.to_thread(self.wait_for_callback_answer, query_id, timeout)

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str = "*",
        *,
        status: int | None = None,
        retry_after: int | None = None,
        description: str | None = None,
        parameters: dict | None = None,
        reset: bool = False,
        delay: float = 0.0,
        apply: bool = False,
        html: bool | None = None,
        chat_id: int | str | None = None,
        times: int = 1,
    ) -> Fault:
        """Make the next ``times`` calls to ``method`` (``"*"``: any method) fail.

        * ``status=429, retry_after=5`` (the default when nothing else is given): Too Many
          Requests with ``parameters.retry_after`` (PTB: ``RetryAfter``).
        * ``status=403, description="Forbidden: bot was blocked by the user"`` and other
          JSON errors; ``description`` defaults to Telegram's usual wording for the status.
        * ``status=502`` (also 503/504): a proxy's HTML error page, not JSON (PTB:
          ``NetworkError``). ``html=False`` sends a JSON body instead; ``html=True`` forces HTML.
        * ``reset=True``: close the connection without any response (PTB: ``NetworkError``).
        * ``delay=seconds``: hold the request that long first. Alone, the request is then
          processed and answered normally -- after a client timeout (PTB: ``TimedOut``) that is
          a message sent although the bot saw a failure. With ``reset``/``status`` the fault
          follows the delay.
        * ``apply=True``: the request takes effect (message recorded, counters advanced) before
          the fault is delivered -- the "sent but the answer was lost" window that makes a
          duplicate on retry unavoidable.
        * ``chat_id``: only requests naming this chat.
        """
        canonical = "*" if method == "*" else _canonical_method(method)
        if canonical is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        if status is None and not reset and not delay:
            status = 429
        if status == 429 and retry_after is None:
            retry_after = 5
        if html is None:
            html = status in (502, 503, 504)
        fault = Fault(
            method=canonical,
            status=status,
            retry_after=retry_after,
            description=description,
            parameters=parameters,
            reset=reset,
            delay=delay,
            apply=apply,
            html=html,
            chat_id=chat_id,
            times=times,
        )
        with self._cond:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    # ================================================================ request handling

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        try:
            body = handler.read_body()
        except (OSError, ValueError):
            handler.drop()
            return

        if path.startswith("/file/bot"):
            self._serve_file(handler, path[len("/file/bot") :])
            return
        if not path.startswith("/bot") or path.count("/") != 2:
            self._reply_error(handler, ApiError(404, "Not Found"))
            return
        token, _, method_name = path[len("/bot") :].partition("/")
        if not _TOKEN_FORMAT.match(token):
            self._reply_error(handler, ApiError(404, "Not Found"))
            return
        if token not in self._tokens:
            self._reply_error(handler, ApiError(401, "Unauthorized"))
            return
        method = _canonical_method(method_name)
        if method is None:
            self._reply_error(handler, ApiError(404, "Not Found"))
            return
        try:
            params = _parse_params(split.query, handler.headers.get("Content-Type", ""), body)
        except ApiError as exc:
            self._reply_error(handler, exc)
            return

        call = Call(method, params, token=token, at=time.monotonic())
        with self._cond:
            self._calls.append(call)
            self._stats.requests[method] += 1
            fault = self._take_fault(method, params)
            call.fault = fault
            self._cond.notify_all()

        self._run(handler, call, token, fault)

    def _settle(self, call: Call, status: int | None) -> None:
        """Record the status before the reply goes out, so a client that has its answer sees it logged."""
        with self._cond:
            call.status = status
            self._cond.notify_all()

    def _run(self, handler: _Handler, call: Call, token: str, fault: Fault | None) -> int | None:
        method, params = call
        outcome: tuple[int, dict] | None = None
        if fault is not None and fault.apply:
            outcome = self._execute(method, params, token)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and fault.reset:
            self._settle(call, None)
            handler.drop()
            return None
        if fault is not None and fault.status is not None:
            self._settle(call, fault.status)
            return self._reply_fault(handler, fault)
        if outcome is None:
            outcome = self._execute(method, params, token)
        status, body = outcome
        self._settle(call, status)
        handler.respond(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")
        return status

    def _execute(self, method: str, params: dict, token: str) -> tuple[int, dict]:
        try:
            result = getattr(self, f"_api_{method}")(params, token)
        except ApiError as exc:
            return exc.code, exc.body()
        return 200, {"ok": True, "result": result}

    def _reply_error(self, handler: _Handler, error: ApiError) -> None:
        handler.respond(error.code, json.dumps(error.body()).encode(), "application/json")

    def _reply_fault(self, handler: _Handler, fault: Fault) -> int:
        status = fault.status
        assert status is not None
        if fault.html:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            page = _PROXY_ERROR_PAGE.format(code=status, phrase=phrase).encode()
            handler.respond(status, page, "text/html")
            return status
        parameters = dict(fault.parameters or {})
        if fault.retry_after is not None:
            parameters["retry_after"] = fault.retry_after
        if fault.description is not None:
            description = fault.description
        elif status == 429:
            description = f"Too Many Requests: retry after {fault.retry_after}"
        else:
            try:
                description = _DEFAULT_DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
            except ValueError:
                description = "Error"
        self._reply_error(handler, ApiError(status, description, parameters or None))
        return status

    def _take_fault(self, method: str, params: dict) -> Fault | None:
        for fault in self._faults:
            if fault.method not in ("*", method):
                continue
            if fault.chat_id is not None and str(params.get("chat_id")) != str(fault.chat_id):
                continue
            fault.fired += 1
            if fault.fired >= fault.times:
                self._faults.remove(fault)
            self._stats.injected[method] += 1
            return fault
        return None

    def _serve_file(self, handler: _Handler, rest: str) -> None:
        token, _, file_path = rest.partition("/")
        if token not in self._tokens:
            self._reply_error(handler, ApiError(401, "Unauthorized"))
            return
        with self._cond:
            entry = next((f for f in self._files.values() if f.get("file_path") == file_path), None)
        if entry is None or entry.get("data") is None:
            self._reply_error(handler, ApiError(404, "Not Found"))
            return
        handler.respond(200, entry["data"], entry.get("mime_type") or "application/octet-stream")

    # ================================================================ state helpers (lock held)

    def _queue_update(self, update: dict) -> dict:
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        self._updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    def _push_service(self, chat_id: int, fields: dict) -> None:
        chat = self._chats[chat_id]
        message = {
            "message_id": chat.next_message_id,
            "date": int(time.time()),
            "chat": dict(chat.info),
            **fields,
        }
        chat.next_message_id += 1
        self._queue_update({"message": message})

    def _outgoing(self, chat_id: int, include_deleted: bool) -> list[Message]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [
            copy.deepcopy(m) for m in chat.messages.values() if m.outgoing and (include_deleted or not m.deleted)
        ]

    def _outgoing_count(self, chat_id: int) -> int:
        chat = self._chats.get(chat_id)
        return sum(1 for m in chat.messages.values() if m.outgoing) if chat else 0

    def _command_entities(self, text: str) -> list[dict]:
        entities = []
        for match in _BOT_COMMAND.finditer(text):
            entities.append(
                {
                    "type": "bot_command",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        return entities

    def _message_json(self, message: Message, token: str | None = None) -> dict:
        chat = self._chats[message.chat_id]
        data: dict[str, Any] = {"message_id": message.message_id}
        if message.outgoing:
            if chat.info["type"] == "channel":
                data["sender_chat"] = dict(chat.info)
            else:
                data["from"] = self.bot_user(token)
        elif message.from_user is not None:
            data["from"] = dict(message.from_user)
        elif chat.info["type"] == "channel":
            data["sender_chat"] = dict(chat.info)
        data["date"] = message.date
        data["chat"] = dict(chat.info)
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to_message_id is not None:
            replied = chat.messages.get(message.reply_to_message_id)
            if replied is not None and replied is not message:
                inner = self._message_json(replied, token)
                inner.pop("reply_to_message", None)
                data["reply_to_message"] = inner
        if message.kind == "text":
            data["text"] = message.plain_text
            if message.entities:
                data["entities"] = copy.deepcopy(message.entities)
        else:
            data[message.kind] = copy.deepcopy(message.media)
            if message.plain_caption:
                data["caption"] = message.plain_caption
                if message.caption_entities:
                    data["caption_entities"] = copy.deepcopy(message.caption_entities)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = copy.deepcopy(message.reply_markup)
        return data

    def _resolve_chat(self, params: dict, key: str = "chat_id") -> _Chat:
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad_request(f"{key} is empty")
        if isinstance(raw, str):
            if raw.startswith("@"):
                wanted = raw[1:].lower()
                chat = next(
                    (c for c in self._chats.values() if str(c.info.get("username", "")).lower() == wanted), None
                )
                if chat is None:
                    raise bad_request("chat not found")
                raw = chat.info["id"]
            else:
                raise bad_request("chat not found")
        chat = self._chats.get(raw)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.blocked:
            raise ApiError(403, chat.blocked)
        return chat

    def _render(self, text: str, parse_mode: str | None, entities: list | None, *, caption: bool) -> tuple[str, list[dict]]:
        if parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                try:
                    parsed = parse_html(text, strict=self.strict_html)
                except HtmlParseError as exc:
                    raise bad_request(f"can't parse entities: {exc}") from None
                plain, found = parsed.text, parsed.entities
            elif mode in ("markdown", "markdownv2"):
                plain, found = text, []  # accepted as is: this fake checks HTML only
            else:
                raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        else:
            plain, found = text, list(entities or [])
            for entity in found:
                if not isinstance(entity, dict) or "type" not in entity:
                    raise bad_request("can't parse entities: entity type is empty")
        plain, found = _strip_message(plain, found)
        limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
        if utf16_len(plain) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return plain, found

    def _check_reply_markup(self, markup: Any) -> dict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise bad_request("can't parse inline keyboard button: Field \"text\" must be of type String")
                    data = button.get("callback_data")
                    if data is not None and not (1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES):
                        raise bad_request("BUTTON_DATA_INVALID")
                    if not any(k in button for k in ("url", "callback_data", "switch_inline_query", "login_url",
                                                      "switch_inline_query_current_chat", "web_app", "pay",
                                                      "callback_game", "copy_text",
                                                      "switch_inline_query_chosen_chat")):
                        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        elif not any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return copy.deepcopy(markup)

    def _reply_target(self, chat: _Chat, params: dict) -> int | None:
        reply = params.get("reply_parameters")
        message_id = None
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return int(message_id)

    def _check_flood(self, chat: _Chat, method: str) -> None:
        if not self.enforce_limits:
            return
        if method in _EDIT_METHODS and not self.limits.count_edits:
            return
        chat_id = chat.info["id"]
        is_group = chat.info["type"] != "private"
        retry_after = self._flood.check(chat_id, is_group, time.monotonic())
        if retry_after is not None:
            self._stats.flood_429 += 1
            self._stats.flood_429_by_chat[chat_id] += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def _count_flood(self, chat: _Chat, method: str) -> None:
        if method in _EDIT_METHODS and not self.limits.count_edits:
            return
        self._flood.record(chat.info["id"], chat.info["type"] != "private", time.monotonic())

    def _new_message(self, chat: _Chat, method: str, params: dict, **fields: Any) -> Message:
        message = Message(
            message_id=chat.next_message_id,
            chat_id=chat.info["id"],
            date=int(time.time()),
            outgoing=True,
            method=method,
            parse_mode=params.get("parse_mode"),
            reply_markup=self._check_reply_markup(params.get("reply_markup")),
            disable_notification=bool(params.get("disable_notification")),
            params=copy.copy(params),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        self._stats.messages_sent += 1
        self._count_flood(chat, method)
        self._cond.notify_all()
        return message

    def _store_file(self, kind: str, upload: Upload | None, extra: dict) -> dict:
        n = next(self._file_counter)
        file_id = f"{kind[:2].upper()}AgACAgQAAx{n:08d}fake"
        entry = {
            "file_id": file_id,
            "file_unique_id": f"AQAD{n:08d}",
            "data": upload.data if upload else None,
            "file_path": f"{kind}s/file_{n}{_extension(upload.filename) if upload else ''}",
            **extra,
        }
        if upload is not None:
            entry["file_size"] = upload.size
        self._files[file_id] = entry
        return entry

    def _media_input(self, params: dict, name: str) -> Upload | str | None:
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        return value

    def _target_message(self, params: dict, verb: str) -> tuple[_Chat, Message]:
        if params.get("inline_message_id"):
            raise bad_request(f"message to {verb} not found")
        chat = self._resolve_chat(params)
        if params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(params["message_id"])
        if message is None or message.deleted:
            raise bad_request(f"message to {verb} not found")
        return chat, message

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> str:
        scope = scope or {"type": "default"}
        return json.dumps([scope, language_code or ""], sort_keys=True)

    # ================================================================ Bot API methods

    def _api_getMe(self, params: dict, token: str) -> dict:
        return {
            **self.bot_user(token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logOut(self, params: dict, token: str) -> bool:
        return True

    def _api_close(self, params: dict, token: str) -> bool:
        return True

    def _api_getUpdates(self, params: dict, token: str) -> list[dict]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        if not 1 <= limit <= 100:
            limit = max(1, min(limit, 100))
        timeout = max(0.0, min(timeout, MAX_POLL_TIMEOUT))
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                )
            if "allowed_updates" in params and params["allowed_updates"] is not None:
                self._allowed_updates = list(params["allowed_updates"]) or None
            if offset is not None:
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older long poll still waiting is terminated (409)
            while True:
                if self._allowed_updates:
                    allowed = set(self._allowed_updates)
                    self._updates = [u for u in self._updates if set(u) - {"update_id"} <= allowed]
                if self._updates:
                    return copy.deepcopy(self._updates[:limit])
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return []
                self._cond.wait(remaining)
                if self._poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    )

    def _api_deleteWebhook(self, params: dict, token: str) -> bool:
        with self._cond:
            self._webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_setWebhook(self, params: dict, token: str) -> bool:
        url = params.get("url", "")
        if url and not str(url).startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        with self._cond:
            self._webhook_url = str(url)
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._poll_generation += 1
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: dict, token: str) -> dict:
        with self._cond:
            info: dict[str, Any] = {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            return info

    def _api_setMyCommands(self, params: dict, token: str) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("parameter \"commands\" is required")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        clean = []
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_NAME.match(str(cmd.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            description = str(cmd.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": cmd["command"], "description": description})
        with self._cond:
            self._commands[self._commands_key(params.get("scope"), params.get("language_code"))] = clean
        return True

    def _api_getMyCommands(self, params: dict, token: str) -> list[dict]:
        with self._cond:
            key = self._commands_key(params.get("scope"), params.get("language_code"))
            return copy.deepcopy(self._commands.get(key, []))

    def _api_deleteMyCommands(self, params: dict, token: str) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(params.get("scope"), params.get("language_code")), None)
        return True

    def _api_sendMessage(self, params: dict, token: str) -> dict:
        with self._cond:
            chat = self._resolve_chat(params)
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("message text is empty")
            plain, entities = self._render(text, params.get("parse_mode"), params.get("entities"), caption=False)
            if not plain:
                raise bad_request("message text is empty")
            reply_to = self._reply_target(chat, params)
            self._check_flood(chat, "sendMessage")
            message = self._new_message(
                chat, "sendMessage", params, text=text, plain_text=plain, entities=entities, reply_to_message_id=reply_to
            )
            return self._message_json(message, token)

    def _send_media(self, params: dict, token: str, method: str, kind: str) -> dict:
        with self._cond:
            chat = self._resolve_chat(params)
            caption = params.get("caption")
            plain_caption: str | None = None
            caption_entities: list[dict] = []
            if caption:
                plain_caption, caption_entities = self._render(
                    str(caption), params.get("parse_mode"), params.get("caption_entities"), caption=True
                )
            media_input = self._media_input(params, kind)
            if media_input is None or media_input == "":
                raise bad_request(f"there is no {kind} in the request")
            if isinstance(media_input, Upload):
                if not media_input.data:
                    raise bad_request("file must be non-empty")
                if kind == "photo":
                    size = _image_size(media_input.data)
                    if size is None:
                        raise bad_request("IMAGE_PROCESS_FAILED")
                    entry = self._store_file("photo", media_input, {"width": size[0], "height": size[1]})
                else:
                    entry = self._store_file(
                        "document",
                        media_input,
                        {"file_name": media_input.filename, "mime_type": media_input.content_type},
                    )
            elif isinstance(media_input, str):
                if media_input in self._files:
                    entry = self._files[media_input]
                elif media_input.startswith(("http://", "https://")):
                    extra = {"width": 800, "height": 600} if kind == "photo" else {"file_name": media_input.rsplit("/", 1)[-1] or "file", "mime_type": "application/octet-stream"}
                    entry = self._store_file(kind, None, extra)
                else:
                    raise bad_request("wrong file identifier/HTTP URL specified")
            else:
                raise bad_request(f"there is no {kind} in the request")
            reply_to = self._reply_target(chat, params)
            self._check_flood(chat, method)
            public = {k: v for k, v in entry.items() if k not in ("data", "file_path")}
            if kind == "photo":
                width, height = entry["width"], entry["height"]
                scale = min(1.0, 90 / max(width, height, 1))
                thumb = {
                    "file_id": entry["file_id"] + "_s",
                    "file_unique_id": entry["file_unique_id"] + "_s",
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
                media: dict | list = [thumb, public]
            else:
                media = public
            message = self._new_message(
                chat,
                method,
                params,
                kind=kind,
                caption=caption,
                plain_caption=plain_caption,
                caption_entities=caption_entities,
                media=media,
                reply_to_message_id=reply_to,
            )
            return self._message_json(message, token)

    def _api_sendPhoto(self, params: dict, token: str) -> dict:
        return self._send_media(params, token, "sendPhoto", "photo")

    def _api_sendDocument(self, params: dict, token: str) -> dict:
        return self._send_media(params, token, "sendDocument", "document")

    def _api_getFile(self, params: dict, token: str) -> dict:
        with self._cond:
            entry = self._files.get(str(params.get("file_id", "")))
            if entry is None:
                raise bad_request("invalid file_id")
            result = {"file_id": entry["file_id"], "file_unique_id": entry["file_unique_id"], "file_path": entry["file_path"]}
            if entry.get("file_size") is not None:
                result["file_size"] = entry["file_size"]
            return result

    def _api_editMessageText(self, params: dict, token: str) -> dict:
        with self._cond:
            chat, message = self._target_message(params, "edit")
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("message text is empty")
            if not message.outgoing:
                raise bad_request("message can't be edited")
            if message.kind != "text":
                raise bad_request("there is no text in the message to edit")
            plain, entities = self._render(text, params.get("parse_mode"), params.get("entities"), caption=False)
            if not plain:
                raise bad_request("message text is empty")
            markup = self._check_reply_markup(params.get("reply_markup"))
            if plain == message.plain_text and entities == message.entities and markup == message.reply_markup:
                raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
            self._check_flood(chat, "editMessageText")
            self._count_flood(chat, "editMessageText")
            message.text, message.plain_text, message.entities = text, plain, entities
            message.parse_mode = params.get("parse_mode")
            message.reply_markup = markup
            message.edit_date = int(time.time())
            message.edits.append(
                {"method": "editMessageText", "text": text, "parse_mode": params.get("parse_mode"), "reply_markup": markup, "date": message.edit_date}
            )
            self._cond.notify_all()
            return self._message_json(message, token)

    def _api_editMessageCaption(self, params: dict, token: str) -> dict:
        with self._cond:
            chat, message = self._target_message(params, "edit")
            if not message.outgoing:
                raise bad_request("message can't be edited")
            if message.kind == "text":
                raise bad_request("there is no caption in the message to edit")
            caption = params.get("caption") or ""
            plain, entities = self._render(str(caption), params.get("parse_mode"), params.get("caption_entities"), caption=True) if caption else ("", [])
            markup = self._check_reply_markup(params.get("reply_markup"))
            if (plain or None) == message.plain_caption and entities == message.caption_entities and markup == message.reply_markup:
                raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
            self._check_flood(chat, "editMessageCaption")
            self._count_flood(chat, "editMessageCaption")
            message.caption, message.plain_caption, message.caption_entities = caption or None, plain or None, entities
            message.reply_markup = markup
            message.edit_date = int(time.time())
            message.edits.append(
                {"method": "editMessageCaption", "caption": caption, "parse_mode": params.get("parse_mode"), "reply_markup": markup, "date": message.edit_date}
            )
            self._cond.notify_all()
            return self._message_json(message, token)

    def _api_editMessageReplyMarkup(self, params: dict, token: str) -> dict:
        with self._cond:
            chat, message = self._target_message(params, "edit")
            if not message.outgoing:
                raise bad_request("message can't be edited")
            markup = self._check_reply_markup(params.get("reply_markup"))
            if markup == message.reply_markup or (not markup and not message.reply_markup):
                raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
            self._check_flood(chat, "editMessageReplyMarkup")
            self._count_flood(chat, "editMessageReplyMarkup")
            message.reply_markup = markup
            message.edit_date = int(time.time())
            message.edits.append({"method": "editMessageReplyMarkup", "reply_markup": markup, "date": message.edit_date})
            self._cond.notify_all()
            return self._message_json(message, token)

    def _api_deleteMessage(self, params: dict, token: str) -> bool:
        with self._cond:
            _, message = self._target_message(params, "delete")
            message.deleted = True
            self._cond.notify_all()
            return True

    def _api_answerCallbackQuery(self, params: dict, token: str) -> bool:
        with self._cond:
            query_id = str(params.get("callback_query_id", ""))
            query = self._callback_queries.get(query_id)
            if query is None or query["answered"]:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            text = params.get("text")
            if text is not None and len(str(text)) > 200:
                raise bad_request("MESSAGE_TOO_LONG")
            query["answered"] = True
            self._callback_answers[query_id] = {k: v for k, v in params.items() if k != "callback_query_id"}
            self._cond.notify_all()
            return True

    def _api_sendChatAction(self, params: dict, token: str) -> bool:
        with self._cond:
            self._resolve_chat(params)
            if params.get("action") not in _CHAT_ACTIONS:
                raise bad_request("wrong parameter action in request")
            return True

    def _api_getChat(self, params: dict, token: str) -> dict:
        with self._cond:
            chat = self._resolve_chat(params)
            return {
                **chat.info,
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }


# --------------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------------

_METHODS = {
    name.lower(): name
    for name in (
        attr[len("_api_") :] for attr in dir(FakeTelegram) if attr.startswith("_api_")
    )
}


def _canonical_method(name: str) -> str | None:
    return _METHODS.get(name.lower())


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:] if 0 < dot < len(filename) - 1 and len(filename) - dot <= 6 else ""


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";", 1)[0].strip().lower()
    if body:
        if ctype == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise bad_request("can't parse JSON object")
            raw.update(data)
        elif ctype == "multipart/form-data":
            raw.update(_parse_multipart(content_type, body))
        else:  # application/x-www-form-urlencoded and anything else form-like
            try:
                raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise bad_request("request body must be encoded in UTF-8") from None
    return {key: _coerce(key, value) for key, value in raw.items()}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise bad_request("can't parse multipart/form-data body")
    result: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            result[name] = Upload(name, filename, part.get_content_type(), payload)
        else:
            charset = part.get_content_charset() or "utf-8"
            result[name] = payload.decode(charset, "replace")
    return result


def _coerce(key: str, value: Any) -> Any:
    if isinstance(value, Upload):
        return value
    if key in ("chat_id", "from_chat_id"):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        return value
    if key in _INT_PARAMS:
        if isinstance(value, bool):
            raise bad_request(f"invalid {key} specified")
        if isinstance(value, (int, float)):
            return int(value)
        try:
            return int(float(str(value).strip()))
        except ValueError:
            raise bad_request(f"invalid {key} specified") from None
    if key in _BOOL_PARAMS:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")
    if key in _JSON_PARAMS and isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {key} JSON object") from None
    return value


# --------------------------------------------------------------------------------------------
# Manual use
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a fake Telegram Bot API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--chat", action="append", default=[], metavar="ID[:TYPE]", help="register a chat")
    parser.add_argument("--enforce-limits", action="store_true")
    args = parser.parse_args(argv)
    server = FakeTelegram(token=args.token, port=args.port, enforce_limits=args.enforce_limits)
    for spec in args.chat:
        chat_id, _, chat_type = spec.partition(":")
        server.add_chat(int(chat_id), chat_type or None)
    with server:
        print(f"base_url={server.base_url} base_file_url={server.base_file_url} token={server.token}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
