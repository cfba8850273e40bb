"""What every command gets from the edge: arguments, environment, clock and output streams."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from bot.agenda import StatusOf, toml_status
from bot.clock import Clock
from bot.config import check_config
from bot.model import Config
from bot.statuses import effective_statuses
from bot.store import Store

ENV_CONFIG_DIR = "PLEDGEWATCH_CONFIG_DIR"
STATE_DB_HELP = "state database (default: $PLEDGEWATCH_DB or DIR/pledgewatch.sqlite3)"
"""The --db help of every command that reads or writes the state database."""


class Context:
    """What every command needs from the edge: streams, environment, clock and the parsed arguments."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str], clock: Clock, out: TextIO, err: TextIO):
        self.args, self.env, self.clock, self.out, self.err = args, env, clock, out, err

    @property
    def config_dir(self) -> Path:
        return Path(self.args.config_dir or self.env.get(ENV_CONFIG_DIR) or ".")

    @property
    def width(self) -> int:
        """The terminal's width; pipes and files get full lines instead of truncated titles."""
        isatty = getattr(self.out, "isatty", None)
        return shutil.get_terminal_size((100, 24)).columns if isatty and isatty() else 250

    def load(self) -> Config | None:
        """Load the config or print every problem (as `check` does) and return None."""
        config, problems = check_config(self.config_dir)
        if problems:
            for p in problems:
                print(p, file=self.err)
            print(f"{len(problems)} problem(s) found; fix them and run `pledgewatch check` again.", file=self.err)
            return None
        return config

    def emit_json(self, value: object) -> None:
        json.dump(value, self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")

    @property
    def db_path(self) -> Path:
        """--db, else $PLEDGEWATCH_DB, else pledgewatch.sqlite3 in the config folder."""
        from bot.app import Runtime  # the composition root owns the rule; imported late to keep this module light
        return Runtime.default_db_path(self.env, self.config_dir, getattr(self.args, "db", None))

    def status_of(self, config: Config) -> StatusOf:
        """Effective statuses (TOML plus /mark history) when the bot's database exists; never creates it."""
        if not self.db_path.is_file():
            return toml_status
        store = Store.open(self.db_path)
        try:
            statuses = effective_statuses(store, config.catalog.commitments)
        finally:
            store.close()
        return lambda c: statuses.get(c.id, c.status)
