"""Upload and download throughput of the files routes through gunicorn.

Measured side by side in one run, on the same disk:

* ``cp`` of the test file and ``md5sum`` of it: an upload has to write the
  bytes and hash them, so the slower of the two bounds it;
* an upload through ``PUT /records/<pid>/files/<key>`` (the real route, one
  gunicorn worker, loopback);
* a download through ``GET /records/<pid>/files/<key>``, against a plain
  read of the stored file served by the same server (a benchmark-only route
  streaming the file from disk with no record, permission or database work);
* the peak resident memory (``VmHWM``) of the worker after each transfer,
  for several file sizes: bodies are streamed, never held in memory.

Targets (printed, not asserted): upload >= 70% of min(cp, md5sum), download
>= 80% of the plain read, worker peak RSS < 150 MiB for every size. Dirty pages are flushed (``sync``) before each timed step, so no
step pays for the previous one's write-back.

Usage::

    python benchmarks/rest_throughput.py              # 512 MiB, 5 rounds
    python benchmarks/rest_throughput.py --size-mib 2048 --rounds 1
    python benchmarks/rest_throughput.py --quick      # CI smoke run

The server gets a fresh SQLite database and storage folder in a temporary
folder on the same file system as ``--workdir`` (default: the system's
temporary folder), removed at the end.
"""

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024
RSS_TARGET_MIB = 150


def create_bench_app():
    """The demo application plus a plain file-serving route to compare with."""
    from flask import abort, send_file

    from examples.app import create_app

    config = {}
    if os.environ.get("RFX_BENCH_UPLOAD_CHUNK_SIZE"):
        config["RECORDS_FILES_UPLOAD_CHUNK_SIZE"] = int(
            os.environ["RFX_BENCH_UPLOAD_CHUNK_SIZE"]
        )
    app = create_app(config)

    def raw(name):
        # Serves a stored file with nothing around it: the download floor.
        path = os.path.join(app.config["FILES_STORAGE_PATH"], name)
        if not os.path.isfile(path):
            abort(404)
        return send_file(path, mimetype="application/octet-stream", conditional=False)

    app.add_url_rule("/bench/raw/<path:name>", "bench_raw", raw)
    return app


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_file(path, size):
    """Write ``size`` random-ish bytes; return their md5."""
    digest = hashlib.md5()
    block = os.urandom(MIB)
    with open(path, "wb") as fp:
        for index in range(size // MIB):
            # Vary each block cheaply so no layer can deduplicate them.
            chunk = index.to_bytes(8, "big") + block[8:]
            fp.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


class Server:
    """One gunicorn worker serving :func:`create_bench_app`."""

    def __init__(self, workdir, db_uri=None):
        """Start it on a free loopback port."""
        self.port = _free_port()
        self.url = "http://127.0.0.1:{0}".format(self.port)
        env = dict(
            os.environ,
            DEMO_INSTANCE_PATH=os.path.join(workdir, "instance"),
            SQLALCHEMY_DATABASE_URI=db_uri
            or "sqlite:///" + os.path.join(workdir, "bench.db"),
            FILES_STORAGE_PATH=os.path.join(workdir, "storage"),
        )
        self.log = open(os.path.join(workdir, "gunicorn.log"), "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--timeout",
                "900",
                "--bind",
                "127.0.0.1:{0}".format(self.port),
                "benchmarks.rest_throughput:create_bench_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(self.url + "/records/0", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("gunicorn did not start")
                time.sleep(0.3)

    def worker_pid(self):
        """The pid of the (only) worker."""
        output = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        return int(output[0])

    def peak_rss_mib(self):
        """Peak resident memory of the worker so far, in MiB."""
        with open("/proc/{0}/status".format(self.worker_pid())) as fp:
            for line in fp:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _put_file(url, path):
    """PUT a file with ``sendfile()``: the client costs next to no CPU.

    The machine's cores are shared by the client and the server; a client
    copying the body through Python would slow the server down.
    """
    parts = urllib.parse.urlsplit(url)
    size = os.path.getsize(path)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=900)
    try:
        connection.putrequest(
            "PUT", parts.path + ("?" + parts.query if parts.query else "")
        )
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        with open(path, "rb") as fp:
            connection.sock.sendfile(fp)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(
            "PUT {0}: {1} {2!r}".format(url, response.status, body[:500])
        )
    return json.loads(body)


def _upload(server, path, key):
    response = requests.post(server.url + "/records/", json={"title": key})
    response.raise_for_status()
    pid = response.json()["id"]
    url = "{0}/records/{1}/files/{2}".format(server.url, pid, key)
    start = time.perf_counter()
    body = _put_file(url, path)
    elapsed = time.perf_counter() - start
    return pid, body, elapsed


def _download(url):
    digest = hashlib.md5()
    start = time.perf_counter()
    with requests.get(url, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(MIB):
            digest.update(chunk)
    return time.perf_counter() - start, digest.hexdigest()


def _stored_name(server, body):
    """Path of the uploaded file relative to the storage folder."""
    root = os.path.join(server.workdir, "storage")
    # The newest file of the storage folder is the one just uploaded.
    newest = max(
        (
            os.path.join(folder, name)
            for folder, _, names in os.walk(root)
            for name in names
        ),
        key=os.path.getmtime,
    )
    return os.path.relpath(newest, root)


def run(size_mib, rounds, workdir, rss_sizes, db_uri=None):
    """Run the measurements; return the printed report's figures."""
    size = size_mib * MIB
    source = os.path.join(workdir, "source.bin")
    md5 = _make_file(source, size)
    server = Server(workdir, db_uri)
    server.workdir = workdir
    figures = {
        "cp": [],
        "md5sum": [],
        "upload": [],
        "download": [],
        "plain": [],
    }
    try:
        baseline_rss = server.peak_rss_mib()
        # One untimed round first: the first transfers of a fresh server
        # (and page cache) are slower than any later one.
        pid, body, _ = _upload(server, source, "warm-up.bin")
        url = "{0}/records/{1}/files/{2}".format(server.url, pid, body["key"])
        _download(url)
        requests.delete(url + "?versionId=" + body["version_id"]).raise_for_status()
        for round_number in range(rounds):
            copy = os.path.join(workdir, "copy.bin")
            # Each timed step starts with no dirty pages left by the previous
            # one: the kernel's write-back would otherwise slow down whoever
            # comes next.
            os.sync()
            figures["cp"].append(_timed(["cp", source, copy]))
            os.remove(copy)
            os.sync()
            figures["md5sum"].append(_timed(["md5sum", source]))
            os.sync()
            pid, body, elapsed = _upload(
                server, source, "round-{0}.bin".format(round_number)
            )
            assert body["checksum"] == "md5:" + md5, body
            figures["upload"].append(elapsed)
            url = "{0}/records/{1}/files/{2}".format(server.url, pid, body["key"])
            os.sync()
            elapsed, digest = _download(url)
            assert digest == md5
            figures["download"].append(elapsed)
            elapsed, digest = _download(
                "{0}/bench/raw/{1}".format(server.url, _stored_name(server, body))
            )
            assert digest == md5
            figures["plain"].append(elapsed)
            # Every timed write starts from the same state: the previous
            # big file deleted and everything flushed.
            requests.delete(url + "?versionId=" + body["version_id"]).raise_for_status()
        rss = {size_mib: server.peak_rss_mib()}
        for other in rss_sizes:
            path = os.path.join(workdir, "rss.bin")
            other_md5 = _make_file(path, other * MIB)
            pid, body, _ = _upload(server, path, "rss-{0}.bin".format(other))
            assert body["checksum"] == "md5:" + other_md5
            _download("{0}/records/{1}/files/{2}".format(server.url, pid, body["key"]))
            os.remove(path)
            rss[other] = server.peak_rss_mib()
    finally:
        server.stop()
    rates = {
        name: size_mib / statistics.median(times) for name, times in figures.items()
    }
    return rates, figures, baseline_rss, rss


def report(size_mib, rounds, rates, figures, baseline_rss, rss):
    """Print the figures and the ratios."""
    print("REST throughput: {0} MiB, {1} round(s), medians".format(size_mib, rounds))
    print(
        "  {0:<34} {1:>10} {2:>10}  {3}".format(
            "", "MiB/s", "seconds", "MiB/s per round"
        )
    )
    labels = {
        "cp": "cp (write + read, same disk)",
        "md5sum": "md5sum (read + hash)",
        "upload": "upload PUT through gunicorn",
        "download": "download GET through gunicorn",
        "plain": "plain read served by same server",
    }
    for name, label in labels.items():
        print(
            "  {0:<34} {1:>10.0f} {2:>10.2f}  {3}".format(
                label,
                rates[name],
                statistics.median(figures[name]),
                " ".join("{0:.0f}".format(size_mib / t) for t in figures[name]),
            )
        )
    floor = min(rates["cp"], rates["md5sum"])
    upload_ratio = rates["upload"] / floor
    download_ratio = rates["download"] / rates["plain"]
    print(
        "  upload / min(cp, md5sum):   {0:.2f}   target >= 0.70: {1}".format(
            upload_ratio, "PASS" if upload_ratio >= 0.7 else "MISS"
        )
    )
    print(
        "  download / plain read:      {0:.2f}   target >= 0.80: {1}".format(
            download_ratio, "PASS" if download_ratio >= 0.8 else "MISS"
        )
    )
    print("  worker peak RSS (VmHWM), MiB: after start {0:.1f}".format(baseline_rss))
    for size, peak in sorted(rss.items()):
        print(
            "    after a {0:>5} MiB upload and download: {1:6.1f}   target < {2}: {3}".format(
                size, peak, RSS_TARGET_MIB, "PASS" if peak < RSS_TARGET_MIB else "MISS"
            )
        )


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--rss-sizes",
        type=lambda value: [int(v) for v in value.split(",") if v],
        default=[64, 1024],
        help="other file sizes (MiB) whose peak RSS is reported",
    )
    parser.add_argument("--workdir", default=None, help="where the temp folder goes")
    parser.add_argument(
        "--db-uri",
        default=None,
        help="database of the server (default: SQLite in the temporary folder); "
        "it must be empty",
    )
    parser.add_argument(
        "--upload-chunk-kib",
        type=int,
        default=None,
        help="RECORDS_FILES_UPLOAD_CHUNK_SIZE of the server, in KiB",
    )
    parser.add_argument("--quick", action="store_true", help="32 MiB, 1 round (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.rounds, args.rss_sizes = 32, 1, [8]
    if args.upload_chunk_kib:
        os.environ["RFX_BENCH_UPLOAD_CHUNK_SIZE"] = str(args.upload_chunk_kib * 1024)
    workdir = tempfile.mkdtemp(prefix="rfx-throughput-", dir=args.workdir)
    try:
        report(
            args.size_mib,
            args.rounds,
            *run(args.size_mib, args.rounds, workdir, args.rss_sizes, args.db_uri),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
