"""The read-only command line on the TOML files, driven in-process with an injected clock."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from bot.cli import main
from bot.clock import FakeClock
from tests.conftest import REPO

NOW = datetime(2020, 12, 1, 6, 0, tzinfo=timezone.utc)


def run(*argv: str, env: dict | None = None, now: datetime = NOW) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env=env or {}, clock=FakeClock(now), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_check_ok_and_failing(config_dir):
    code, out, _ = run("check", "--config-dir", str(config_dir))
    assert code == 0 and "ok (1 agreements, 2 commitments, timezone Asia/Karachi)" in out
    (config_dir / "commitments.toml").write_text(
        (config_dir / "commitments.toml").read_text().replace('status = "pending"', 'status = "done"'))
    code, out, _ = run("check", "--config-dir", str(config_dir))
    assert code == 1 and "unknown status 'done'" in out and "1 problem(s) found" in out


def test_config_dir_from_environment(config_dir):
    code, out, _ = run("check", env={"PLEDGEWATCH_CONFIG_DIR": str(config_dir)})
    assert code == 0 and str(config_dir) in out


def test_status_table_and_detail(config_dir):
    code, out, _ = run("status", "--config-dir", str(config_dir))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["ID", "DEADLINE", "DUE", "DAYS", "STATUS"]
    assert rows[0].startswith("joint-intel") and "by 15 Dec 2020" in rows[0] and "14 days left" in rows[0]
    assert "by end of Q1 2021" in rows[1] and "120 days left" in rows[1]
    code, out, _ = run("status", "joint-intel", "--config-dir", str(config_dir))
    assert code == 0 and "deadline:    by 15 Dec 2020 (due 2020-12-15, 14 days left)" in out


def test_status_unknown_id_suggests(config_dir):
    code, _, err = run("status", "joint-intl", "--config-dir", str(config_dir))
    assert code == 1 and "did you mean 'joint-intel'?" in err


def test_json_has_written_and_resolved_deadline(config_dir):
    code, out, _ = run("status", "--json", "--config-dir", str(config_dir))
    data = json.loads(out)
    visit = next(d for d in data if d["id"] == "reciprocal-visit")
    assert visit["deadline"]["written"] == "2021-Q1" and visit["deadline"]["due"] == "2021-03-31"
    assert visit["deadline"]["label"] == "by end of Q1 2021" and visit["days_left"] == 120


def test_upcoming_and_overdue(config_dir):
    code, out, _ = run("upcoming", "--days", "30", "--json", "--config-dir", str(config_dir))
    assert [d["id"] for d in json.loads(out)] == ["joint-intel"]
    code, out, _ = run("overdue", "--json", "--config-dir", str(config_dir),
                       now=datetime(2021, 6, 1, tzinfo=timezone.utc))
    assert [(d["id"], d["days_left"]) for d in json.loads(out)] == [("joint-intel", -168), ("reciprocal-visit", -62)]


def test_invalid_config_blocks_read_commands_with_messages(config_dir):
    (config_dir / "feeds.toml").write_text("interval = [")
    code, _, err = run("overdue", "--config-dir", str(config_dir))
    assert code == 1 and "feeds.toml" in err and "TOML syntax error" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["check", "status", "upcoming", "overdue", "poll", "run", "timeline",
                                     "export", "feeds", "site", "try", "eval"])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0 and "--config-dir" in capsys.readouterr().out


def test_bundled_files_check_and_overdue_lists_dated_seed_pledges():
    code, out, _ = run("check", "--config-dir", str(REPO))
    assert code == 0, out
    code, out, _ = run("overdue", "--json", "--config-dir", str(REPO), now=datetime(2026, 11, 23, tzinfo=timezone.utc))
    due = {d["deadline"]["due"] for d in json.loads(out)}
    assert {"2020-12-15", "2021-01-01", "2020-12-10", "2021-03-31"} <= due


def test_python_dash_m_is_the_same_program():
    result = subprocess.run([sys.executable, "-m", "bot", "check", "--config-dir", str(REPO)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok (" in result.stdout


def test_read_commands_show_the_effective_status_from_the_database(config_dir):
    from bot.model import Status
    from bot.statuses import mark
    from bot.store import Store

    code, out, _ = run("status", "joint-intel", "--json", "--config-dir", str(config_dir))
    assert json.loads(out)["status"] == "pending" and not (config_dir / "pledgewatch.sqlite3").exists()  # never created
    store = Store.open(config_dir / "pledgewatch.sqlite3")
    mark(store, "joint-intel", Status.MET, NOW, actor="@editor", actor_id=1)
    store.close()
    code, out, _ = run("status", "joint-intel", "--json", "--config-dir", str(config_dir))
    assert json.loads(out)["status"] == "met"
    code, out, _ = run("overdue", "--json", "--config-dir", str(config_dir), now=datetime(2021, 6, 1, tzinfo=timezone.utc))
    assert [d["id"] for d in json.loads(out)] == ["reciprocal-visit"]  # met is final: no longer overdue
