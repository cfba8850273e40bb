"""Run one command module's subcommands (``bot.cli_*.register``) the way ``bot.cli.main`` runs them."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Mapping, Sequence

from bot.cli_context import Context
from bot.clock import Clock
from bot.errors import PledgewatchError

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]", argparse.ArgumentParser], None]


def run_command(register: Register, argv: Sequence[str], *, clock: Clock, env: Mapping[str, str] | None = None,
                out: io.StringIO | None = None) -> tuple[int, str, str]:
    """Run ``argv`` through only ``register``'s subcommands, as bot.cli.main would: (exit code, stdout, stderr).

    Independent of bot/cli.py's wiring: the same shared ``--config-dir``, the same Context, and a
    PledgewatchError printed as ``pledgewatch: ...`` with exit code 1.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config-dir", metavar="DIR", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="pledgewatch", parents=[common])
    register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(list(argv))
    if not hasattr(args, "config_dir"):
        args.config_dir = None
    out, err = out or io.StringIO(), io.StringIO()
    try:
        code = int(args.func(Context(args, env or {}, clock, out, err)))
    except PledgewatchError as exc:
        print(f"pledgewatch: {exc}", file=err)
        code = 1
    return code, out.getvalue(), err.getvalue()
