"""The documented commands are the ones that run: README ↔ Dockerfile ↔ .ci/run ↔ pyproject."""

from __future__ import annotations

import json
import re
import tomllib

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")


def fenced_commands() -> list[str]:
    """Every line inside ```sh blocks of the README."""
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_exactly_the_two_setup_commands_and_ci_runs_the_test_one():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for block in re.findall(r"```sh\n(.*?)```", quick, re.S) for line in block.splitlines()]
    assert len(commands) == 2
    run, test = commands
    assert run.endswith("pip install -e . && pledgewatch run --once")
    assert test.endswith('pip install -e ".[test]" && python -m pytest')
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[test]" && python -m pytest' in ci


def test_dockerfile_installs_the_project_as_the_readme_does_and_runs_the_service():
    install = re.search(r"^RUN pip install (\S+)", DOCKERFILE, re.M)
    assert install is not None and install.group(1) == "."  # README: pip install -e . (editable only for development)
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd is not None and json.loads(cmd.group(1)) == ["pledgewatch", "run"]
    assert "pledgewatch run" in README.split("## Deploy", 1)[1]
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M) and 'VOLUME ["/data"]' in DOCKERFILE
    assert "PLEDGEWATCH_DB=/data/" in DOCKERFILE
    assert any("docker build -t pledgewatch ." == c for c in fenced_commands())


def test_console_script_and_module_entry_point():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["pledgewatch"] == "bot.cli:main"
    assert project["requires-python"] == ">=3.11"
    assert any(d.startswith("python-telegram-bot[job-queue,rate-limiter]") for d in project["dependencies"])
    assert "test" in project["optional-dependencies"]


def test_env_example_names_every_variable_the_code_reads():
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bot").glob("*.py"))
    read = set(re.findall(r'env\.get\("([A-Z_]+)"\)', source))
    assert read, "expected the code to read environment variables"
    for name in read:
        assert name in example and name in README, name


def test_sniffio_is_installed_so_httpcore_does_not_rescan_sys_path_per_request() -> None:
    # httpcore imports sniffio for every lock it makes; a failed import is not cached, so without the
    # package each feed request spent ~300 us of event-loop time searching sys.path (bench/poll.py).
    import sniffio

    assert sniffio.current_async_library  # the function httpcore calls
