"""Upload and download throughput of the files routes through gunicorn.

Measured side by side in each round, on the same disk:

* ``cp`` of the test file and ``md5sum`` of it: an upload has to write the
  bytes and hash them, so the slower of the two bounds it;
* an upload through ``PUT /records/<pid>/files/<key>`` (the real route, one
  gunicorn worker, loopback);
* a download through ``GET /records/<pid>/files/<key>``, against a plain
  read of the stored file served by the same server (a benchmark-only route
  streaming the file from disk with no record, permission or database work);

and, for several file sizes, how much the worker's resident memory grows
over its post-start baseline: bodies are streamed, never held in memory.

Targets (printed, not asserted): in every round, upload >= 70% of
min(cp, md5sum) measured in that round; median download >= 80% of the plain
read; worker RSS growth <= 16 MiB for every size. Dirty pages are flushed
(``sync``) before each timed step, so no step pays for the previous one's
write-back.

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
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import (  # noqa: E402
    MIB,
    ROOT,
    Targets,
    Usage,
    median,
    peak_rss_mib,
    rss_mib,
    table,
)

TARGET_UPLOAD = 0.7
TARGET_DOWNLOAD = 0.8
TARGET_RSS_GROWTH_MIB = 16


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

    def reset_peak(self):
        """Reset the worker's peak resident memory (``VmHWM``) to its RSS now."""
        with open("/proc/{0}/clear_refs".format(self.worker_pid()), "w") as fp:
            fp.write("5")

    def rss_mib(self):
        """Resident memory of the worker now, in MiB."""
        return rss_mib(self.worker_pid())

    def peak_rss_mib(self):
        """Peak resident memory of the worker since the last reset, in MiB."""
        return peak_rss_mib(self.worker_pid())

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


def _transfer(server, path, key, md5):
    """Upload and download a file, untimed; check it; delete it."""
    pid, body, _ = _upload(server, path, key)
    assert body["checksum"] == "md5:" + md5, body
    url = "{0}/records/{1}/files/{2}".format(server.url, pid, body["key"])
    _, digest = _download(url)
    assert digest == md5
    requests.delete(url + "?versionId=" + body["version_id"]).raise_for_status()


def run(size_mib, rounds, workdir, rss_sizes, db_uri=None):
    """Run the measurements; return the rounds and the memory figures."""
    size = size_mib * MIB
    source = os.path.join(workdir, "source.bin")
    md5 = _make_file(source, size)
    server = Server(workdir, db_uri)
    server.workdir = workdir
    figures = []
    try:
        # Post-start baseline: the worker answered one request (the
        # readiness probe) and nothing else.
        baseline = server.rss_mib()
        # One untimed round first: the first transfers of a fresh server
        # (and page cache) are slower than any later one.
        server.reset_peak()
        _transfer(server, source, "warm-up.bin", md5)
        growth = {size_mib: server.peak_rss_mib() - baseline}
        for round_number in range(rounds):
            copy = os.path.join(workdir, "copy.bin")
            times = {}
            # Each timed step starts with no dirty pages left by the previous
            # one: the kernel's write-back would otherwise slow down whoever
            # comes next.
            os.sync()
            times["cp"] = _timed(["cp", source, copy])
            os.sync()
            times["md5sum"] = _timed(["md5sum", source])
            # Both writers start right after as much page cache was released:
            # cp after the previous round's upload was deleted, the upload
            # after cp's copy. On virtual machines whose host reclaims memory
            # released a second earlier, writing into it costs several times
            # more (see docs/performance.rst).
            os.remove(copy)
            os.sync()
            before = (Usage.of(server.worker_pid()), Usage.of())
            pid, body, times["upload"] = _upload(
                server, source, "round-{0}.bin".format(round_number)
            )
            worker = Usage.of(server.worker_pid()) - before[0]
            client = Usage.of() - before[1]
            times["cores"] = {
                "worker": worker.cpu,
                "client": client.cpu,
                "others": worker.machine_busy - worker.cpu - client.cpu,
                "faults": worker.faults,
            }
            assert body["checksum"] == "md5:" + md5, body
            url = "{0}/records/{1}/files/{2}".format(server.url, pid, body["key"])
            os.sync()
            times["download"], digest = _download(url)
            assert digest == md5
            times["plain"], digest = _download(
                "{0}/bench/raw/{1}".format(server.url, _stored_name(server, body))
            )
            assert digest == md5
            # Every timed write starts from the same state: the previous
            # big file deleted and everything flushed.
            requests.delete(url + "?versionId=" + body["version_id"]).raise_for_status()
            cores = times.pop("cores")
            figures.append({name: size_mib / value for name, value in times.items()})
            figures[-1].update(
                worker_ms_per_mib=cores["worker"] * 1000 / size_mib,
                faults_per_mib=cores["faults"] / size_mib,
                others=cores["others"] / times["upload"],
            )
        growth[size_mib] = max(growth[size_mib], server.peak_rss_mib() - baseline)
        for other in rss_sizes:
            path = os.path.join(workdir, "rss.bin")
            other_md5 = _make_file(path, other * MIB)
            server.reset_peak()
            _transfer(server, path, "rss-{0}.bin".format(other), other_md5)
            growth[other] = server.peak_rss_mib() - baseline
            os.remove(path)
    finally:
        server.stop()
    return figures, baseline, growth


def report(size_mib, figures, baseline, growth):
    """Return the report lines: every round, the ratios, the memory."""
    targets = Targets()
    names = ("cp", "md5sum", "upload", "download", "plain")
    out = [
        "REST throughput: {0} MiB, {1} round(s) after an untimed one; MiB/s".format(
            size_mib, len(figures)
        )
    ]
    rows = [["round"] + list(names) + ["upload/floor", "download/plain"]]
    diagnostics = [["round", "worker CPU ms/MiB", "page faults/MiB", "others' cores"]]
    uploads, downloads = [], []
    for number, rates in enumerate(figures, 1):
        uploads.append(rates["upload"] / min(rates["cp"], rates["md5sum"]))
        downloads.append(rates["download"] / rates["plain"])
        rows.append(
            [number]
            + ["{0:.0f}".format(rates[name]) for name in names]
            + ["{0:.2f}".format(uploads[-1]), "{0:.2f}".format(downloads[-1])]
        )
        diagnostics.append(
            [
                number,
                "{0:.2f}".format(rates["worker_ms_per_mib"]),
                "{0:.0f}".format(rates["faults_per_mib"]),
                "{0:.2f}".format(rates["others"]),
            ]
        )
    rows.append(
        ["median"]
        + ["{0:.0f}".format(median([r[name] for r in figures])) for name in names]
        + ["{0:.2f}".format(median(uploads)), "{0:.2f}".format(median(downloads))]
    )
    out += table(rows)
    out += [
        "  cp: copy of the test file on the same disk; md5sum: read + hash; upload:",
        "  PUT through gunicorn; download: GET through gunicorn; plain: the stored",
        "  file read by a plain route of the same server. floor = min(cp, md5sum)",
        "  of the same round.",
        "  During each upload: the worker's CPU time per MiB (all its threads), its",
        "  page faults per MiB (new memory it touched), and the cores other processes",
        "  kept busy meanwhile (the machine's busy time less the worker's and this",
        "  client's, per second):",
    ]
    out += table(diagnostics)
    out += [
        "  upload / floor, every round: lowest {0:.2f}   target >= {1}: {2}".format(
            min(uploads),
            TARGET_UPLOAD,
            targets.check("upload in every round", min(uploads) >= TARGET_UPLOAD),
        ),
        "  download / plain read, median: {0:.2f}   target >= {1}: {2}".format(
            median(downloads),
            TARGET_DOWNLOAD,
            targets.check("download", median(downloads) >= TARGET_DOWNLOAD),
        ),
        "  worker RSS: post-start baseline {0:.1f} MiB (VmRSS once it answers); "
        "growth = VmHWM - baseline".format(baseline),
    ]
    for size, grown in sorted(growth.items()):
        out.append(
            "    upload + download of {0:>5} MiB: +{1:5.1f} MiB   target <= {2}: {3}".format(
                size,
                grown,
                TARGET_RSS_GROWTH_MIB,
                targets.check(
                    "RSS at {0} MiB".format(size), grown <= TARGET_RSS_GROWTH_MIB
                ),
            )
        )
    out += ["", targets.summary()]
    return out


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
        figures = run(args.size_mib, args.rounds, workdir, args.rss_sizes, args.db_uri)
        print("\n".join(report(args.size_mib, *figures)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
