"""Shared fixtures: a tiny but valid configuration directory that tests modify one key at a time.

Its text, MINIMAL_COMMITMENTS and MINIMAL_FEEDS, lives in tests/support/fixtures.py; import it from there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fixtures import MINIMAL_COMMITMENTS, MINIMAL_FEEDS, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A directory holding a minimal valid commitments.toml and feeds.toml."""
    return write_config(tmp_path, MINIMAL_COMMITMENTS, MINIMAL_FEEDS)
