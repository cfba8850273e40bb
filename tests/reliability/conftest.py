"""Shared harness for the reliability tests: the ``--soak`` switch, the bot as a killable process, and reports.

The tests here run ``pledgewatch run`` as a real subprocess against loopback servers (the fake Bot API of
``tests/support/fake_telegram.py`` and the feed server of ``tests/support/feedserver.py``), kill it, starve
it and flood it, and then read the truth from two places that cannot lie to each other: what the fake
Telegram server received, and what the bot's SQLite file says it sent.

``--soak`` (or ``PLEDGEWATCH_SOAK=1``) makes the long variants long (200 kills instead of 20).  pytest only
reads options from the conftest files it loads at start-up, so pass a path under this folder with it:
``python -m pytest tests/reliability --soak`` (``bench/soak.py`` does that).  ``--reliability-seed N``
replays one seeded run; every seed is printed in the terminal summary.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import FeedServer, _Route

REPO = Path(__file__).resolve().parents[2]
REPORT_KEY = pytest.StashKey[list[str]]()
SOAK_ENV = "PLEDGEWATCH_SOAK"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the soak switch and the seed, so a long run or a failing seed can be replayed on demand."""
    group = parser.getgroup("reliability", "pledgewatch reliability tests")
    group.addoption("--soak", action="store_true", default=False,
                    help="run the long variants (200 kills); pass a path under tests/reliability with it")
    group.addoption("--reliability-seed", type=int, default=None,
                    help="seed for the random kill moments and feed updates (default: a fresh one, printed)")


def pytest_configure(config: pytest.Config) -> None:
    """Start an empty report, so every test can add the numbers a reader of the CI log wants to see."""
    config.stash[REPORT_KEY] = []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the reliability numbers (seeds, kills, duplicates, latencies) even when everything passed."""
    lines = config.stash.get(REPORT_KEY, [])
    if lines:
        terminalreporter.section("reliability")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether the long variants run: ``--soak`` or ``PLEDGEWATCH_SOAK=1``."""
    flag = request.config.getoption("--soak", default=False)
    return bool(flag) or os.environ.get(SOAK_ENV, "").strip() in ("1", "true", "yes")


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A seed for everything random in a test; fixed with ``--reliability-seed``, reported before the test
    runs (in the summary and in the captured output), so a failing run can always be replayed."""
    given = request.config.getoption("--reliability-seed", default=None)
    value = int(given) if given is not None else random.SystemRandom().randrange(1, 2**31)
    line = f"{request.node.name}: seed {value} (replay: --reliability-seed {value})"
    request.config.stash[REPORT_KEY].append(line)
    print(line)
    return value


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add one line to the terminal summary, prefixed with the test's name."""
    lines = request.config.stash[REPORT_KEY]
    name = request.node.name

    def add(line: str) -> None:
        lines.append(f"{name}: {line}")
    return add


# servers ------------------------------------------------------------------------------------------


class FlakyFeedServer(FeedServer):
    """The loopback feed server plus one more misbehaviour: a route that alternates 200 and 500."""

    def __init__(self) -> None:
        super().__init__()
        self._flips: dict[str, int] = {}

    def flip(self, path: str, body: bytes) -> None:
        """Answer ``path`` with ``body`` on the 1st, 3rd, 5th... request and 500 on the others."""
        self._put(path, _Route(kind="flip", body=body, etag=False, last_modified=None))
        with self._lock:
            self._flips[path] = 0

    def _serve_flip(self, h: Any, route: _Route, req: Any) -> None:
        """Count the request, then answer like a static route or with a bare 500."""
        path = h.path.split("?", 1)[0]
        with self._lock:
            self._flips[path] = self._flips.get(path, 0) + 1
            healthy = self._flips[path] % 2 == 1
        if healthy:
            self._serve_static(h, route, req)
        else:
            self._plain(h, 500, b"internal server error\n")


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running fake Bot API server (state in this process, so it outlives every bot we kill)."""
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FlakyFeedServer]:
    """A running loopback feed server, stopped (hanging handlers released) after the test."""
    server = FlakyFeedServer()
    try:
        yield server
    finally:
        server.stop()


# the bot as a process -----------------------------------------------------------------------------


def _session_members(sid: int) -> list[int]:
    """Processes whose session id is ``sid`` (the bot and any helper it forked), read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session ...
        if int(fields[3]) == sid:
            found.append(int(entry))
    return found


@dataclass
class Bot:
    """One ``pledgewatch run`` process in its own session, its output collected by reader threads.

    Its own session lets the test find what the bot leaves behind when only the main process is
    killed (parser workers, multiprocessing helpers) and end those too, each by its pid.
    """

    args: list[str]
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[str] = field(init=False)
    started: float = field(init=False)
    lines: list[str] = field(default_factory=list, init=False)
    leftovers: int = field(default=0, init=False)  # helper processes still alive after the main one died

    def __post_init__(self) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PLEDGEWATCH_"))}
        full_env.update(self.env)
        full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
        self._queue: queue.Queue[str] = queue.Queue()
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", *self.args], cwd=self.cwd, env=full_env,
                                     text=True, encoding="utf-8", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        """Drain the merged stdout/stderr so the bot never blocks on a full pipe."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._queue.put(line)

    @property
    def pid(self) -> int:
        """The main process id (also its session and process group id)."""
        return self.proc.pid

    def output(self, tail: int = 4000) -> str:
        """The end of what the bot printed, for assertion messages."""
        return "".join(self.lines)[-tail:]

    def saw(self, text: str) -> bool:
        """Whether any line so far contains ``text`` (e.g. whether start-up was over when it was killed)."""
        return any(text in line for line in list(self.lines))

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Block until a line containing ``text`` appears; fail with the output if it does not in time."""
        deadline = time.monotonic() + timeout
        for line in list(self.lines):
            if text in line:
                return line
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty():
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen in {timeout}s (exit code {self.proc.poll()}); "
                             f"output:\n{self.output()}")

    def alive_for(self, seconds: float) -> None:
        """Let the bot run ``seconds`` more (a bounded wait for its exit); fail if it died on its own meanwhile."""
        try:
            code = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise AssertionError(f"the bot exited by itself with code {code}; output:\n{self.output()}")

    def kill(self) -> int:
        """SIGKILL the bot, then end whatever it left running in its session; returns how many were left."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        left = [pid for pid in _session_members(self.pid) if pid != os.getpid()]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.leftovers = len(left)
        return len(left)

    def terminate(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM and wait for a clean exit; returns (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return code, time.monotonic() - started

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak resident set) of the running bot, in kB, from /proc/<pid>/status."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Bot]]:
    """Start ``pledgewatch run --config-dir tmp_path`` with an environment; every bot is killed at teardown."""
    bots: list[Bot] = []

    def start(env: dict[str, str]) -> Bot:
        bot = Bot(["run", "--config-dir", str(tmp_path)], env, tmp_path)
        bots.append(bot)
        return bot
    yield start
    for bot in bots:
        bot.kill()


# reading the database -----------------------------------------------------------------------------


def db_rows(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the bot's database, on a connection of our own (WAL readers never block its writers)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_until(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.2) -> object:
    """Poll ``predicate`` until it is truthy (a bounded wait for something the bot does), else fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)
