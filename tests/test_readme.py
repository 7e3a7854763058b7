"""The README's quick start: ``./run-demo.sh`` serves the demo, its curl commands work."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import pytest
import requests

from tests.servers import ROOT, free_port

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

README = os.path.join(ROOT, "README.rst")
DEMO_URL = "http://127.0.0.1:5000"


def readme_curl_commands():
    """Return the curl command lines shown in the README, in order."""
    with open(README) as fp:
        return [line.strip()[2:] for line in fp if line.strip().startswith("$ curl ")]


def _run_with_requests(args, cwd):
    """Run the curl subset used in the README with requests (no curl here)."""
    method, headers, data, output, url = "GET", {}, None, None, None
    args = iter(args[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = next(args).encode()
        elif arg == "--data-binary":
            with open(os.path.join(cwd, next(args).lstrip("@")), "rb") as fp:
                data = fp.read()
        elif arg == "-o":
            output = next(args)
        else:
            url = arg
    response = requests.request(method, url, headers=headers, data=data)
    if output:
        with open(os.path.join(cwd, output), "wb") as fp:
            fp.write(response.content)
        return b""
    return response.content


def run_curl(command, base_url, cwd):
    """Run one README curl command against ``base_url``; return its output."""
    args = shlex.split(command.replace(DEMO_URL, base_url))
    if shutil.which("curl"):
        return subprocess.run(args, cwd=cwd, capture_output=True, check=True).stdout
    return _run_with_requests(args, cwd)


@pytest.fixture()
def demo(tmp_path, base_config, location):
    """``./run-demo.sh`` started as the README says, on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "VENV": sys.prefix,
        "PORT": str(port),
        "DEMO_INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": location.uri,
    }
    log = open(tmp_path / "demo.log", "wb")
    process = subprocess.Popen(
        [os.path.join(ROOT, "run-demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = "http://127.0.0.1:{0}".format(port)
    deadline = time.monotonic() + 300
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


def test_readme_has_exactly_two_quick_start_commands():
    with open(README) as fp:
        text = fp.read()
    quick_start = text.split("Quick start")[1].split("Try the demo")[0]
    commands = re.findall(r"^\s+\$ (.+)$", quick_start, flags=re.M)
    assert commands == ["./run-demo.sh", "./run-tests.sh"]


def test_readme_curl_commands_work_on_the_demo(demo, tmp_path):
    commands = readme_curl_commands()
    assert len(commands) == 6
    workdir = tmp_path / "client"
    workdir.mkdir()
    shutil.copy(README, workdir / "README.rst")

    # ./run-demo.sh points to the deposit page; the records' list answers
    # JSON with no search cluster.
    printed = re.search(
        r"Demo: (http://\S+)", (tmp_path / "demo.log").read_text()
    ).group(1)
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
    run_curl(commands[5], demo, workdir)
    record = requests.get(demo + "/records/1").json()
    assert "_files" not in record["metadata"]
