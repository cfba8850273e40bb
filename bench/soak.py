"""Soak the kill test: SIGKILL ``pledgewatch run`` 200 times at random moments instead of CI's 20.

    python bench/soak.py                 # 200 kills, a fresh seed (printed in the "reliability" summary)
    python bench/soak.py --seed 1234     # replay one seeded run
    python bench/soak.py --all           # every reliability test, the kill test with 200 kills
    python bench/soak.py -- -x -v        # anything after -- goes to pytest

It runs ``python -m pytest tests/reliability/test_kill.py --soak`` from the repository root (pytest reads
the ``--soak`` option from tests/reliability/conftest.py, so the path must be given) and exits with
pytest's status.  Expect 5-10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(argv: list[str] | None = None) -> list[str]:
    """The pytest command line for these arguments, so what runs is visible and reproducible."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="replay the run with this seed")
    parser.add_argument("--all", action="store_true", help="run every reliability test, not only the kill test")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    target = "tests/reliability" if args.all else "tests/reliability/test_kill.py"
    cmd = [sys.executable, "-m", "pytest", target, "--soak", "-p", "no:cacheprovider"]
    if args.seed is not None:
        cmd += ["--reliability-seed", str(args.seed)]
    return cmd + args.pytest_args


def main(argv: list[str] | None = None) -> int:
    """Run the soak and return pytest's exit status."""
    cmd = command(argv)
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
