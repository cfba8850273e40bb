"""Shared fixtures: a tiny but valid configuration directory that tests modify one key at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MINIMAL_COMMITMENTS = '''\
timezone = "Asia/Karachi"
remind_before = ["30d", "7d", "1d"]
remind_at = "09:00"
overdue_every = "7d"

[[agreement]]
id = "shared-vision"
title = "A Shared Vision"
parties = ["Pakistan", "Afghanistan"]
signed = 2020-11-19

[[commitment]]
id = "joint-intel"
agreement = "shared-vision"
title = "Re-energise joint intelligence work"
deadline = 2020-12-15
keywords = ['"joint intelligence" AND (Pakistan OR Afghanistan)']
status = "pending"

[[commitment]]
id = "reciprocal-visit"
agreement = "shared-vision"
title = "Ghani visits Islamabad"
deadline = "2021-Q1"
keywords = ["Ghani AND Islamabad"]
'''

MINIMAL_FEEDS = '''\
interval = "30m"
backfill = "2d"

[[feed]]
id = "local"
url = "http://127.0.0.1:9/feed.xml"
name = "Local test feed"
'''


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A directory holding a minimal valid commitments.toml and feeds.toml."""
    (tmp_path / "commitments.toml").write_text(MINIMAL_COMMITMENTS, encoding="utf-8")
    (tmp_path / "feeds.toml").write_text(MINIMAL_FEEDS, encoding="utf-8")
    return tmp_path
