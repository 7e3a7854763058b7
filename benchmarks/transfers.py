"""What an upload to S3 costs the application: direct (presigned) or proxied.

One file of ``--size-mib`` MiB (1 GiB by default) is uploaded twice into a
record whose bucket lives in S3 (a moto server on loopback), side by side
in one run:

* ``proxied``: the three-step local transfer, the bytes going through the
  application (``PUT .../files/<key>/content``), which hashes them and
  writes them to S3;
* ``direct``: a multipart transfer whose parts the client ``PUT``\\ s to the
  presigned S3 URLs of the file's ``links.parts``; the application only
  starts the upload, signs the URLs and assembles the parts on commit.

For each, the application's single gunicorn worker is measured from the
first request to the commit's answer: CPU seconds (user + system, from
``/proc``) and peak resident memory (``VmHWM``, reset before each upload).
The benchmark's own requests asking whether the direct upload is verified
yet come after and are not counted. A direct upload's checksum is verified by a Celery
worker (Redis broker on loopback) reading the bytes back from S3: its CPU
is printed too, on its own line, because it is work the upload causes even
though no application worker does it.

Target (printed, never asserted): the direct upload costs the application
worker at most 5% of the proxied upload's CPU.

Usage::

    python benchmarks/transfers.py               # 1 GiB
    python benchmarks/transfers.py --size-mib 256
    python benchmarks/transfers.py --quick       # CI smoke run (32 MiB)

Needs ``redis-server`` (Debian's package) for the worker; without it the
verification runs in the application worker (eager Celery) and the script
says so.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.s3server import MotoServer, free_port, http_session  # noqa: E402
from tests.servers import stop_process_group  # noqa: E402

MIB = 1024 * 1024
PART_SIZE = 64 * MIB
TARGET = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def create_bench_app():
    """The demo application storing its files in the S3 bucket of the run."""
    from invenio_db import db
    from invenio_files_rest.models import Location
    from invenio_s3 import InvenioS3

    from examples.app import create_app

    app = create_app(json.loads(os.environ["RFX_BENCH_CONFIG"]))
    InvenioS3(app)
    with app.app_context():
        location = Location.get_default()
        uri = "s3://" + os.environ["RFX_BENCH_S3_BUCKET"]
        if location.uri != uri:
            location.uri = uri
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app


def _pattern(size):
    block = hashlib.sha256(b"rfx-transfers").digest() * (MIB // 32)
    sent = 0
    while sent < size:
        chunk = block[: min(len(block), size - sent)]
        sent += len(chunk)
        yield chunk


def _md5(size):
    digest = hashlib.md5()
    for chunk in _pattern(size):
        digest.update(chunk)
    return "md5:" + digest.hexdigest()


def _part(size, number, part_size):
    start = (number - 1) * part_size
    end = min(size, start + part_size)
    data = bytearray()
    block = next(_pattern(MIB))
    position = start
    while position < end:
        offset = position % len(block)
        take = min(len(block) - offset, end - position)
        data += block[offset : offset + take]
        position += take
    return bytes(data)


class Meter:
    """CPU seconds and peak RSS of one process, from /proc."""

    def __init__(self, pid):
        """Watch process ``pid``."""
        self.pid = pid

    def cpu(self):
        """Return user + system CPU seconds so far."""
        with open("/proc/{0}/stat".format(self.pid)) as fp:
            fields = fp.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def reset_peak(self):
        """Reset the peak RSS (``VmHWM``) to the current RSS."""
        try:
            with open("/proc/{0}/clear_refs".format(self.pid), "w") as fp:
                fp.write("5")
        except OSError:
            pass

    def peak_mib(self):
        """Return the peak RSS in MiB."""
        with open("/proc/{0}/status".format(self.pid)) as fp:
            for line in fp:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


def _children(pid):
    output = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(child) for child in output.split()]


def _wait_http(url, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _start_redis(folder):
    if shutil.which("redis-server") is None:
        return None, None
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        + ["--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    return process, "redis://127.0.0.1:{0}/0".format(port)


def _api(session, base, method, path, **kwargs):
    response = session.request(method, base + path, timeout=3600, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError("{0} {1}: {2}".format(method, path, response.text))
    return response


def _wait_completed(session, base, pid, key, worker, seconds=3600):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            raise RuntimeError("the Celery worker exited")
        entries = _api(session, base, "GET", "/records/{0}/files".format(pid)).json()
        status = {e["key"]: e for e in entries["entries"]}[key]
        if status["status"] != "pending":
            return status
        time.sleep(1)
    raise RuntimeError("{0} was not verified in time".format(key))


def _stream_put(base, path, size):
    """PUT ``size`` bytes of the pattern, streamed in 1 MiB writes."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=3600)
    connection.putrequest("PUT", path)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    for chunk in _pattern(size):
        connection.send(chunk)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status >= 400:
        raise RuntimeError("PUT {0}: {1}".format(path, body[:500]))


def proxied(session, base, pid, size, checksum):
    """Upload through the application: init, PUT content, commit."""
    files = "/records/{0}/files".format(pid)
    _api(
        session,
        base,
        "POST",
        files,
        json=[{"key": "proxied.bin", "size": size, "checksum": checksum}],
    )
    _stream_put(base, files + "/proxied.bin/content", size)
    return _api(session, base, "POST", files + "/proxied.bin/commit").json()


def direct(session, base, pid, size, checksum, part_size):
    """Upload straight to S3: init (parts), PUT parts to S3, commit.

    Returns once the commit has answered; the verification may still be
    under way in the Celery worker.
    """
    files = "/records/{0}/files".format(pid)
    parts = -(-size // part_size)
    entry = {
        "key": "direct.bin",
        "size": size,
        "checksum": checksum,
        "transfer": {"type": "M", "parts": parts, "part_size": part_size},
    }
    listed = _api(session, base, "POST", files, json=[entry]).json()
    s3 = http_session()
    for link in listed["entries"][0]["links"]["parts"]:
        response = s3.put(link["url"], data=_part(size, link["part"], part_size))
        if response.status_code != 200:
            raise RuntimeError("part {0}: {1}".format(link["part"], response.text))
    return _api(session, base, "POST", files + "/direct.bin/commit").json()


def main():  # noqa: C901 - one linear script
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=PART_SIZE // MIB)
    parser.add_argument("--quick", action="store_true", help="32 MiB (CI)")
    args = parser.parse_args()
    size = (32 if args.quick else args.size_mib) * MIB
    part_size = (8 if args.quick else args.part_mib) * MIB
    folder = tempfile.mkdtemp(prefix="rfx-transfers-")
    processes = []
    log = None
    try:
        moto = MotoServer(folder).start()
        processes.append(moto)
        bucket = "rfx-bench-{0}".format(os.getpid())
        moto.client().create_bucket(Bucket=bucket)
        redis, broker = _start_redis(folder)
        if redis is not None:
            processes.append(redis)
        config = dict(
            SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(folder, "bench.db"),
            FILES_STORAGE_PATH=os.path.join(folder, "files"),
            **moto.app_config(),
        )
        env = dict(
            os.environ,
            RFX_BENCH_CONFIG=json.dumps(config),
            RFX_BENCH_S3_BUCKET=bucket,
            DEMO_INSTANCE_PATH=os.path.join(folder, "instance"),
            PYTHONPATH=ROOT,
        )
        if broker:
            env["CELERY_BROKER_URL"] = broker
        port = free_port()
        log = open(os.path.join(folder, "server.log"), "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--timeout", "3600"]
            + ["--bind", "127.0.0.1:{0}".format(port), "--preload"]
            + ["benchmarks.transfers:create_bench_app()"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(server)
        base = "http://127.0.0.1:{0}".format(port)
        _wait_http(base + "/records/", server)
        [worker_pid] = _children(server.pid)
        app_meter = Meter(worker_pid)
        verifier = worker = None
        if broker:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "benchmarks.transfers_worker:celery",
                ]
                + ["worker", "--pool=solo", "--concurrency=1", "--loglevel=WARNING"]
                + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append(worker)
            verifier = Meter(worker.pid)
            time.sleep(3)
        session = requests.Session()
        session.trust_env = False
        pid = _api(session, base, "POST", "/records/", json={"title": "bench"}).json()[
            "id"
        ]
        print("Computing the file's checksum...", file=sys.stderr)
        checksum = _md5(size)
        figures = {}
        for name in ("proxied", "direct"):
            print(
                "Uploading {0} ({1} MiB)...".format(name, size // MIB), file=sys.stderr
            )
            app_meter.reset_peak()
            cpu = app_meter.cpu()
            verify_cpu = verifier.cpu() if verifier else 0.0
            started = time.monotonic()
            if name == "proxied":
                entry = proxied(session, base, pid, size, checksum)
            else:
                entry = direct(session, base, pid, size, checksum, part_size)
            app_cpu = app_meter.cpu() - cpu
            app_rss = app_meter.peak_mib()
            if entry["status"] == "pending":
                # The application is done with the upload; the worker
                # verifies it. Waiting asks the application once a second:
                # those requests are the benchmark's, not the upload's, so
                # they are not counted.
                entry = _wait_completed(session, base, pid, entry["key"], worker)
            elapsed = time.monotonic() - started
            assert entry["status"] == "completed", entry
            assert entry["checksum"] == checksum, entry
            figures[name] = dict(
                cpu=app_cpu,
                rss=app_rss,
                seconds=elapsed,
                verify=(verifier.cpu() - verify_cpu) if verifier else None,
            )
        print(
            "Upload of {0} MiB into S3 (moto on loopback), one gunicorn worker:".format(
                size // MIB
            )
        )
        for name, figure in figures.items():
            print(
                "  {0:8s} app worker CPU {1:7.2f} s, peak RSS {2:7.1f} MiB, "
                "wall {3:6.1f} s".format(
                    name, figure["cpu"], figure["rss"], figure["seconds"]
                )
            )
        direct_verify = figures["direct"]["verify"]
        if direct_verify is not None:
            print(
                "  direct: checksum verified by the Celery worker: {0:.2f} s CPU "
                "(not the application's)".format(direct_verify)
            )
        else:
            print(
                "  direct: no Redis here, the checksum was verified in the app worker"
            )
        ratio = figures["direct"]["cpu"] / max(figures["proxied"]["cpu"], 1e-9)
        print(
            "  direct / proxied app CPU: {0:.1%} (target <= {1:.0%}): {2}".format(
                ratio, TARGET, "PASS" if ratio <= TARGET else "FAIL"
            )
        )
    finally:
        # Last started, first stopped: the server and worker before their
        # broker and storage.
        for process in reversed(processes):
            if isinstance(process, MotoServer):
                process.stop()
            else:
                stop_process_group(process)
        if log is not None:
            log.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
