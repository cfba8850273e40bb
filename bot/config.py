"""Load commitments.toml and feeds.toml into the domain model, reporting every problem at once.

``load_config`` raises ConfigError carrying all problems; ``check_config`` returns them. Nothing here
reads the environment: the caller decides the directory and any overrides. Each file is built by its own
module (``bot.config_commitments``, ``bot.config_feeds``); this one joins them and adds the search feeds,
the only part that needs both files.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.config_commitments import catalog_with_sections, load_catalog
from bot.config_feeds import feed_catalog_with_sections, load_feed_catalog
from bot.config_file import MAX_FILE_BYTES, queries, read_toml, tables, unique
from bot.errors import ConfigError, Problem
from bot.model import Config
from bot.search_feeds import search_feeds

__all__ = ["COMMITMENTS_FILE", "FEEDS_FILE", "MAX_FILE_BYTES", "check_config", "load_catalog", "load_config",
           "load_feed_catalog", "queries", "read_toml", "tables", "unique"]  # the names importable here before the split

COMMITMENTS_FILE = "commitments.toml"
FEEDS_FILE = "feeds.toml"


def check_config(directory: Path) -> tuple[Config, list[Problem]]:
    """Load both files, returning the best-effort config and every problem found."""
    problems: list[Problem] = []
    catalog, commitment_sections = catalog_with_sections(directory / COMMITMENTS_FILE, problems)
    feeds, template_sections = feed_catalog_with_sections(directory / FEEDS_FILE, problems)
    feeds_ok = not any(p.file == str(directory / FEEDS_FILE) for p in problems)
    generated, issues = search_feeds(catalog, feeds, report_unsearched=feeds_ok)
    for issue in issues:
        sections = template_sections if issue.owner == "search" else commitment_sections
        sections[issue.ident].problem(issue.message, issue.key)
    return Config(catalog, replace(feeds, feeds=feeds.feeds + generated)), problems


def load_config(directory: Path, *, allow_private_hosts: bool | None = None) -> Config:
    """Load both files or raise ConfigError with every problem; the override comes from the caller's env."""
    config, problems = check_config(directory)
    if problems:
        raise ConfigError(problems)
    if allow_private_hosts:
        config = replace(config, feeds=replace(config.feeds, settings=replace(
            config.feeds.settings, allow_private_hosts=True)))
    return config
