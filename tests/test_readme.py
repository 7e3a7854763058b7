"""The README's quick start: ``./run-demo.sh`` serves the demo, its commands work.

Its curl commands and its ``flask records-files`` command on the demo,
in the test environment and in a fresh one made by ``./run-demo.sh``
itself (what a newcomer gets), and its Python snippet as shown.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from invenio_files_rest.models import Location

from tests.servers import ROOT, free_port

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

README = os.path.join(ROOT, "README.rst")
DEMO_URL = "http://127.0.0.1:5000"


def readme_commands(prefix: str = "") -> list[str]:
    """Return the console commands shown in the README, in order."""
    with open(README) as fp:
        commands = [line.strip()[2:] for line in fp if line.strip().startswith("$ ")]
    return [command for command in commands if command.startswith(prefix)]


def readme_curl_commands() -> list[str]:
    """Return the curl command lines shown in the README, in order."""
    return readme_commands("curl ")


def readme_cli_command(venv: str) -> list[str]:
    """Return the README's ``flask`` command line, run with ``venv``'s flask."""
    (command,) = [c for c in readme_commands() if "bin/flask " in c]
    args = shlex.split(command)
    assert args[0] == ".venv/bin/flask", command
    return [os.path.join(venv, "bin", "flask")] + args[1:]


def readme_python_snippet() -> str:
    """Return the README's first Python code block (the one that runs)."""
    with open(README) as fp:
        text = fp.read()
    block = text.split(".. code-block:: python\n\n", 1)[1]
    lines: list[str] = []
    for line in block.splitlines():
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines).strip() + "\n"


def _run_with_requests(args: list[str], cwd: Path) -> bytes:
    """Run the curl subset used in the README with requests (no curl here)."""
    method = "GET"
    headers: dict[str, str] = {}
    data: Optional[bytes] = None
    output: Optional[str] = None
    url: Optional[str] = None
    words = iter(args[1:])
    for arg in words:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(words)
        elif arg == "-H":
            name, value = next(words).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = next(words).encode()
        elif arg == "--data-binary":
            with open(os.path.join(cwd, next(words).lstrip("@")), "rb") as fp:
                data = fp.read()
        elif arg == "-o":
            output = next(words)
        else:
            url = arg
    assert url is not None, args
    response = requests.request(method, url, headers=headers, data=data)
    if output:
        with open(os.path.join(cwd, output), "wb") as fp:
            fp.write(response.content)
        return b""
    return response.content


def run_curl(command: str, base_url: str, cwd: Path) -> bytes:
    """Run one README curl command against ``base_url``; return its output."""
    args = shlex.split(command.replace(DEMO_URL, base_url))
    if shutil.which("curl"):
        return subprocess.run(args, cwd=cwd, capture_output=True, check=True).stdout
    return _run_with_requests(args, cwd)


def environment(**env: str) -> dict[str, str]:
    """This process's environment with ``env``, without the suite's database.

    The README's steps run as a newcomer's would: the demo's own SQLite
    database and storage, unless ``env`` names others.
    """
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SQLALCHEMY_DATABASE_URI", "FILES_STORAGE_PATH")
    }
    return {**inherited, **env}


@contextmanager
def running_demo(tmp_path: Path, **env: str) -> Iterator[str]:
    """``./run-demo.sh`` started as the README says, on a free port.

    ``env`` adds to the environment (``VENV``, the database...). Yields the
    base URL; the log is ``tmp_path / "demo.log"``.
    """
    port = free_port()
    full_env = environment(PORT=str(port), **env)
    log = open(tmp_path / "demo.log", "wb")
    process = subprocess.Popen(
        [os.path.join(ROOT, "run-demo.sh")],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = "http://127.0.0.1:{0}".format(port)
    deadline = time.monotonic() + 600
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "demo.log").read_text())
            try:
                requests.get(url + "/records/0", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
        log.close()


@pytest.fixture()
def demo_env(
    tmp_path: Path, base_config: dict[str, Any], location: Location
) -> dict[str, str]:
    """What the demo and the CLI are given: the suite's database, a storage."""
    return {
        "DEMO_INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": location.uri,
    }


@pytest.fixture()
def demo(tmp_path: Path, demo_env: dict[str, str]) -> Iterator[str]:
    """``./run-demo.sh`` in the test environment, on the suite's database."""
    with running_demo(tmp_path, VENV=sys.prefix, **demo_env) as url:
        yield url


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a ``flask`` command line from the checkout; return the finished process."""
    return subprocess.run(
        args,
        cwd=ROOT,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_readme_has_exactly_two_quick_start_commands() -> None:
    with open(README) as fp:
        text = fp.read()
    quick_start = text.split("Quick start")[1].split("Try the demo")[0]
    commands = re.findall(r"^\s+\$ (.+)$", quick_start, flags=re.M)
    assert commands == ["./run-demo.sh", "./run-tests.sh"]


def test_readme_commands_work_on_the_demo(
    demo: str, demo_env: dict[str, str], tmp_path: Path
) -> None:
    commands = readme_curl_commands()
    assert len(commands) == 7
    workdir = tmp_path / "client"
    workdir.mkdir()
    shutil.copy(README, workdir / "README.rst")
    size = os.path.getsize(README)

    # ./run-demo.sh points to the deposit page; the records' list answers
    # JSON with no search cluster.
    log = (tmp_path / "demo.log").read_text()
    announced = re.search(r"Demo: (http://\S+)", log)
    assert announced is not None, log
    printed = announced.group(1)
    assert printed == demo + "/"
    page = requests.get(printed)
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"].startswith("text/html")
    first = requests.get(demo + "/records/")
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"] == "application/json"
    assert first.json()["hits"] == {"hits": [], "total": 0}

    created = json.loads(run_curl(commands[0], demo, workdir))
    assert created["id"] == "1"
    records = json.loads(run_curl(commands[1], demo, workdir))
    assert records["hits"]["total"] == 1
    assert [hit["id"] for hit in records["hits"]["hits"]] == ["1"]
    assert records["hits"]["hits"][0]["metadata"]["title"] == "My record"
    uploaded = json.loads(run_curl(commands[2], demo, workdir))
    assert uploaded["key"] == "README.rst"
    listing = json.loads(run_curl(commands[3], demo, workdir))
    assert [item["key"] for item in listing["contents"]] == ["README.rst"]
    run_curl(commands[4], demo, workdir)
    assert (workdir / "README.copy").read_bytes() == (
        workdir / "README.rst"
    ).read_bytes()
    # The record: _bucket as stored, _files and _files_summary computed.
    shown = json.loads(run_curl(commands[5], demo, workdir))["metadata"]
    assert set(shown) >= {"_bucket", "_files", "_files_summary"}
    assert [entry["key"] for entry in shown["_files"]] == ["README.rst"]
    assert shown["_files_summary"]["count"] == 1

    # The command line, pointed at the demo as the README says.
    cli = run_cli(readme_cli_command(sys.prefix), demo_env)
    assert cli.returncode == 0, cli.stderr
    lines = cli.stdout.splitlines()
    assert lines[0].startswith("README.rst\t{0}\tmd5:".format(size)), lines
    assert lines[-1] == "Total: 1 files, {0} bytes".format(size)

    run_curl(commands[6], demo, workdir)
    assert requests.get(demo + "/records/1/files/").json()["contents"] == []
    record = requests.get(demo + "/records/1").json()
    assert "_files" not in record["metadata"]
    assert record["metadata"]["_files_summary"]["count"] == 0
    assert "SAWarning" not in (tmp_path / "demo.log").read_text()


def test_the_cli_works_where_run_demo_installs(tmp_path: Path) -> None:
    """A fresh ``.venv`` made by ``./run-demo.sh``: every ``flask`` command loads."""
    venv = str(tmp_path / "venv")
    instance = {"DEMO_INSTANCE_PATH": str(tmp_path / "instance")}
    workdir = tmp_path / "client"
    workdir.mkdir()
    shutil.copy(README, workdir / "README.rst")
    commands = readme_curl_commands()
    with running_demo(tmp_path, VENV=venv, **instance) as url:
        assert json.loads(run_curl(commands[0], url, workdir))["id"] == "1"
        assert json.loads(run_curl(commands[2], url, workdir))["key"] == "README.rst"

        # Flask loads every command of the environment (Invenio-Accounts'
        # among them) before it runs any.
        everything = run_cli(
            [
                os.path.join(venv, "bin", "flask"),
                "--app",
                "examples.app:create_app",
                "--help",
            ],
            instance,
        )
        assert everything.returncode == 0, everything.stderr
        assert "records-files" in everything.stdout
        cli = run_cli(readme_cli_command(venv), instance)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.splitlines()[-1] == "Total: 1 files, {0} bytes".format(
            os.path.getsize(README)
        )
        assert "Warning" not in cli.stderr, cli.stderr
    assert "SAWarning" not in (tmp_path / "demo.log").read_text()


def test_the_python_snippet_runs_as_shown(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    snippet = readme_python_snippet()
    assert "app.app_context()" in snippet and "db.session.commit()" in snippet
    ran = subprocess.run(
        [sys.executable, "-"],
        input=snippet,
        cwd=ROOT,
        env=environment(**demo_env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert "Warning" not in ran.stderr, ran.stderr
    record_id, keys = ran.stdout.strip().split(" ", 1)
    assert keys == "['measurements.csv']"
    # As the README says: no PID, but the CLI finds it by its UUID.
    listed = run_cli(
        [
            os.path.join(sys.prefix, "bin", "flask"),
            "--app",
            "examples.app:create_app",
            "records-files",
            "list",
            record_id,
        ],
        demo_env,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("measurements.csv\t8\tmd5:")
