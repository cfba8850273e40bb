"""Run ``python -m bot`` in a subprocess and read its output without blocking the test."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path


class BotProcess:
    """A pledgewatch subprocess whose stdout and stderr lines are collected by reader threads."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PLEDGEWATCH_"))}
        full_env.update(env)
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=cwd, env=full_env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8")
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line)
            self._lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Block until a line containing ``text`` appears on stdout or stderr."""
        deadline = time.monotonic() + timeout
        for line in self.out + self.err:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen in {timeout}s; stdout={''.join(self.out)[-2000:]!r} "
                             f"stderr={''.join(self.err)[-2000:]!r}")

    def stop(self, sig: int, timeout: float = 5.0) -> tuple[int, float]:
        """Send ``sig`` and return (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
