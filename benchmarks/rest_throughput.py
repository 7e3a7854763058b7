#!/usr/bin/env python
"""Uploads and downloads of large files through gunicorn and waitress.

See ``benchmarks/README.rst``. The floor of an upload is the slower of
``md5sum`` and a durable copy (``dd conv=fsync``) of the same file, measured
in the same run; every upload route is held to it: ``PUT`` through
gunicorn and through waitress, the three-step ``/content`` route, and the
parts of a multipart upload. ``--checksums md5,sha256`` keeps both
checksums (``RECORDS_FILES_CHECKSUMS``): each algorithm's tool
(``sha256sum``...) is timed too, and every route is held, side by side, to
the slower of the hash tools (at least 0.7) and to the slower of them and
``dd`` (at least 0.8). Waitress writes the whole body to a file of its
own before the application reads a byte: that step is timed alone (an
upload answered without reading it, ``waitress buffering``), and waitress's
uploads are also held to the floor plus it. A plain read of the stored file bounds a
download; the worker's resident memory must not grow with the size of the
files. ``--in-a-row N`` uploads the file N times in a row on each route
instead (nothing deleted, nothing flushed in between); ``--runs N``
repeats the whole run N times and summarises.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from flask import Flask, Response

if TYPE_CHECKING:
    from tests.servers import Server

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (
    MIB,
    Bench,
    demo_server,
    load,
    memory_kib,
    reset_peak,
)

bench = Bench(
    full=dict(processes=5, values=1, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--size-mib", type=int, help="size of the timed files (512)")
bench.option("--part-mib", type=int, help="size of the multipart parts (64)")
bench.option("--rss-sizes", help="sizes (MiB) of one more transfer each (64,1024)")
bench.option("--no-fsync", action="store_true", help="RECORDS_FILES_FSYNC off")
bench.option("--in-a-row", type=int, help="upload N times in a row per route")
bench.option("--runs", type=int, help="repeat the whole run N times")
bench.option(
    "--checksums",
    help="RECORDS_FILES_CHECKSUMS of the servers, comma-separated (md5)",
)
bench.option(
    "--routes",
    help="upload routes, comma-separated (all: upload,upload waitress,content,parts)",
)

TARGET, SPREAD, ROW_DRIFT = 0.8, 0.10, 1.10
"""Upload / floor in the slowest round (at least); standard deviation /
mean (at most); mean of the last uploads in a row / mean of the first (at
most)."""

HASH_TARGET = 0.7
"""Upload / the slower of the hash tools, with more than MD5 kept (at least)."""

HASH_TOOLS = {
    "md5": "md5sum",
    "sha1": "sha1sum",
    "sha256": "sha256sum",
    "sha512": "sha512sum",
    "blake2b": "b2sum",
}
"""The command line tool of each algorithm of ``RECORDS_FILES_CHECKSUMS``."""


def algorithms() -> list[str]:
    """The algorithms ``--checksums`` names, MD5 first."""
    names = (bench.args.checksums or "md5").split(",")
    unknown = set(names) - set(HASH_TOOLS)
    if unknown:
        raise SystemExit(f"--checksums: unknown {sorted(unknown)}; {list(HASH_TOOLS)}")
    return ["md5", *[name for name in names if name != "md5"]]


def hash_tools() -> list[str]:
    """``md5sum`` and the tools of the other algorithms kept."""
    return [HASH_TOOLS[name] for name in algorithms()]


def create_bench_app() -> Flask:
    """The demo, plus a route reading a stored file with nothing around it,
    and one answering an upload without reading it (``/bench/sink``)."""
    from flask import send_file

    from examples.app import create_app

    durable = os.environ.get("RECORDS_FILES_FSYNC", "1") != "0"
    app: Flask = create_app({"RECORDS_FILES_FSYNC": durable})

    def plain(name: str) -> Response:
        path = os.path.join(app.config["FILES_STORAGE_PATH"], name)
        return send_file(path, "application/octet-stream", conditional=False)

    app.add_url_rule("/bench/plain/<path:name>", "bench_plain", plain)
    # What the server costs before the application reads a byte: waitress
    # reads the whole body into a file first; gunicorn reads nothing.
    app.add_url_rule(
        "/bench/sink", "bench_sink", lambda: Response(status=200), methods=["PUT"]
    )
    return app


def make_file(path: str, size_mib: int) -> str:
    """Write ``size_mib`` MiB that no layer can deduplicate; return the MD5."""
    digest, block = hashlib.md5(), os.urandom(MIB)
    with open(path, "wb") as fp:
        for index in range(size_mib):
            chunk = index.to_bytes(8, "big") + block[8:]
            fp.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def send(
    url: str, target: str, path: str, offset: int = 0, count: "int | None" = None
) -> tuple[bytes, float]:
    """PUT ``count`` bytes of ``path`` from ``offset``; return (status, body, s).

    The body goes out with ``sendfile()``: the client costs next to no CPU
    on the cores it shares with the server.
    """
    count = os.path.getsize(path) - offset if count is None else count
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=900)
    started = time.perf_counter()
    connection.putrequest("PUT", target)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(count))
    connection.endheaders()
    with open(path, "rb") as fp:
        connection.sock.sendfile(fp, offset, count)
    response = connection.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    assert response.status == 200, answer[:300]
    return answer, seconds


@dataclass
class Upload:
    """One timed upload: where the file is, and how long its bytes took."""

    url: str
    """The version's URL (deleting it removes the bytes)."""
    seconds: float
    commit_seconds: float = 0.0


def new_record(url: str) -> str:
    """Create a record; return its files route (path)."""
    pid = requests.post(url + "/records/", json={}).json()["id"]
    return f"/records/{pid}/files"


def version_url(url: str, files: str, key: str, answer: dict[str, Any]) -> str:
    """The URL of the version a file route answered with."""
    return f"{url}{files}/{key}?versionId={answer['version_id']}"


def upload_put(url: str, path: str, md5: str, key: str) -> "Upload":
    """``PUT <files>/<key>``: one request."""
    files = new_record(url)
    answer, seconds = send(url, f"{files}/{key}", path)
    assert md5 in answer.decode(), answer[:300]
    return Upload(version_url(url, files, key, json.loads(answer)), seconds)


def announce(url: str, files: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Announce one entry of a transfer; return it as answered."""
    response = requests.post(url + files, json=[entry])
    assert response.status_code == 201, response.text
    answered: dict[str, Any] = response.json()["entries"][0]
    return answered


def commit(url: str, files: str, key: str, md5: str) -> tuple[str, float]:
    """Commit a pending file; return its version URL and the seconds it took."""
    started = time.perf_counter()
    response = requests.post(f"{url}{files}/{key}/commit")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert response.json()["checksum"] == "md5:" + md5, response.text
    assert set(algorithms()) <= set(response.json()["checksums"]), response.text
    return version_url(url, files, key, response.json()), seconds


def upload_content(url: str, path: str, md5: str, key: str) -> "Upload":
    """The three-step upload: announce, ``PUT <files>/<key>/content`` (timed), commit."""
    files = new_record(url)
    size = os.path.getsize(path)
    announce(url, files, {"key": key, "size": size, "checksum": "md5:" + md5})
    _, seconds = send(url, f"{files}/{key}/content", path)
    location, commit_seconds = commit(url, files, key, md5)
    return Upload(location, seconds, commit_seconds)


def upload_parts(url: str, path: str, md5: str, key: str) -> "Upload":
    """A multipart upload: announce, the parts one after another (timed), commit."""
    files = new_record(url)
    size = os.path.getsize(path)
    part_size = (bench.args.part_mib or (8 if bench.args.quick else 64)) * MIB
    parts = -(-size // part_size)
    transfer = {"type": "M", "parts": parts, "part_size": part_size}
    entry = {"key": key, "size": size, "checksum": "md5:" + md5, "transfer": transfer}
    seconds = 0.0
    for link in announce(url, files, entry)["links"]["parts"]:
        offset = (link["part"] - 1) * part_size
        count = min(part_size, size - offset)
        seconds += send(url, urlsplit(link["url"]).path, path, offset, count)[1]
    location, commit_seconds = commit(url, files, key, md5)
    return Upload(location, seconds, commit_seconds)


ROUTES = {
    "upload": (upload_put, "gunicorn"),
    "upload waitress": (upload_put, "waitress"),
    "content": (upload_content, "gunicorn"),
    "parts": (upload_parts, "gunicorn"),
}
"""Upload routes: how, and through which server."""


def routes() -> list[str]:
    """The routes ``--routes`` names (all by default)."""
    names = bench.args.routes.split(",") if bench.args.routes else list(ROUTES)
    unknown = set(names) - set(ROUTES)
    if unknown:
        raise SystemExit(
            f"--routes: no route {sorted(unknown)}; routes: {list(ROUTES)}"
        )
    return names


def floor_step(name: str, path: str) -> float:
    """A hash tool (``md5sum``...) on the file, or a durable copy; return seconds."""
    copy = os.path.join(bench.workdir, "copy.bin")
    command = {
        "dd": ["dd", f"if={path}", f"of={copy}", "bs=1M", "conv=fsync"],
        **{tool: [tool, path] for tool in HASH_TOOLS.values()},
    }[name]
    os.sync()
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if os.path.exists(copy):
        os.remove(copy)
    return seconds


def download(url: str, md5: str) -> float:
    """GET ``url``; check its MD5; return seconds."""
    digest = hashlib.md5()
    os.sync()
    started = time.perf_counter()
    with requests.get(url, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(MIB):
            digest.update(chunk)
    assert digest.hexdigest() == md5
    return time.perf_counter() - started


def step(
    loops: int, name: str, path: "str | None" = None, md5: "str | None" = None
) -> float:
    """One timed step against the servers the parent started."""
    setup = bench.notes("setup")[0]
    path, md5 = path or setup["path"], md5 or setup["md5"]
    if name == "dd" or name in HASH_TOOLS.values():
        return floor_step(name, path)
    if name == BUFFERING:
        return send(setup["waitress"], "/bench/sink", path)[1]
    func, kind = ROUTES.get(name, (upload_put, "gunicorn"))
    url = setup[kind]
    os.sync()  # no step pays for the previous one's write-back
    uploaded = func(url, path, md5, os.path.basename(path))
    seconds = uploaded.seconds
    if uploaded.commit_seconds:
        bench.note("commit", route=name, seconds=uploaded.commit_seconds)
    if name == "download":
        seconds = download(uploaded.url, md5)
    elif name == "plain":
        storage = os.path.join(bench.workdir, "storage")
        files = [os.path.join(d, f) for d, _, names in os.walk(storage) for f in names]
        stored = os.path.relpath(max(files, key=os.path.getmtime), storage)
        seconds = download(url + "/bench/plain/" + stored, md5)
    requests.delete(uploaded.url).raise_for_status()
    return seconds


BUFFERING = "waitress buffering"
"""The step timing waitress alone: the body read into its file, no application."""


def buffered_floor(times: dict[str, list[float]], route: str) -> None:
    """Waitress's uploads against the floor plus waitress's own buffering.

    Waitress hands the application the body only once it has written all
    of it to a file of its own: that time comes before the first byte the
    library sees, whatever the library does.
    """
    if route != "upload waitress" or BUFFERING not in times:
        return
    floor = list(map(max, *(times[tool] for tool in hash_tools()), times["dd"]))
    served = [bottom + own for bottom, own in zip(floor, times[BUFFERING])]
    worst = min(bottom / up for bottom, up in zip(served, times[route]))
    bench.target(f"{route} / (floor + {BUFFERING}), slowest round", worst, TARGET, True)


def spread_and_floor(times: dict[str, list[float]], route: str) -> None:
    """Check one route against the floors, round by round, and its spread."""
    values = times[route]
    tools = hash_tools()
    floor = list(map(max, *(times[tool] for tool in tools), times["dd"]))
    worst = min(bottom / up for bottom, up in zip(floor, values))
    bench.target(
        f"{route} / max({', '.join(tools)}, dd conv=fsync), slowest round",
        worst,
        TARGET,
        True,
    )
    if len(tools) > 1:
        hashes = list(map(max, *(times[tool] for tool in tools)))
        worst = min(bottom / up for bottom, up in zip(hashes, values))
        bench.target(
            f"{route} / max({', '.join(tools)}), slowest round",
            worst,
            HASH_TARGET,
            True,
        )
    if len(values) > 1:
        spread = statistics.stdev(values) / statistics.mean(values)
        bench.target(f"{route} standard deviation / mean", spread, SPREAD)


def consecutive(
    size: int, servers: dict[str, "Server"], path: str, md5: str, count: int
) -> None:
    """``--in-a-row``: each route's upload ``count`` times in a row."""
    urls = {kind: server.url for kind, server in servers.items()}
    for route in routes():
        func, kind = ROUTES[route]
        floor = {name: floor_step(name, path) for name in (*hash_tools(), "dd")}
        print(
            f"[{route}] load before: {load()}; "
            + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in floor.items()),
            flush=True,
        )
        uploads = []
        for number in range(1, count + 1):
            before = meminfo()
            uploads.append(func(urls[kind], path, md5, f"row-{number}.bin"))
            after, seconds = meminfo(), uploads[-1].seconds
            print(
                f"  {route} {number:2d}: {seconds:.3f} s, {size / seconds:,.0f} MiB/s; "
                f"load {os.getloadavg()[0]:.2f}; page cache "
                f"{after['Cached'] - before['Cached']:+,d} MiB, dirty "
                f"{after['Dirty']:,d} MiB",
                flush=True,
            )
        print(f"[{route}] load after: {load()}", flush=True)
        times = [uploaded.seconds for uploaded in uploads]
        ends = max(1, min(3, count // 3))
        drift = statistics.mean(times[-ends:]) / statistics.mean(times[:ends])
        bench.target(f"{route}: last {ends} / first {ends} in a row", drift, ROW_DRIFT)
        slowest = max(floor.values()) / max(times)
        bench.target(f"{route}: slowest in a row / floor", slowest, TARGET, True)
        for uploaded in uploads:
            requests.delete(uploaded.url).raise_for_status()


def meminfo() -> dict[str, int]:
    """``/proc/meminfo`` in MiB."""
    with open("/proc/meminfo") as fp:
        return {
            line.split(":")[0]: int(line.split()[1]) // 1024
            for line in fp
            if line.split()[-1] == "kB"
        }


def repeat(runs: int) -> None:
    """``--runs``: the whole run ``runs`` times, then each target's figures."""
    argv, skip = [], False
    for argument in sys.argv[1:]:
        if skip or argument == "--runs":
            skip = not skip
            continue
        argv.append(argument)
    figures: dict[str, list[str]] = {}
    failed = 0
    for run in range(1, runs + 1):
        print(f"=== run {run} of {runs}, load {load()}", flush=True)
        process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), *argv],
            stdout=subprocess.PIPE,
            text=True,
        )
        failures = 0
        assert process.stdout is not None  # stdout=PIPE
        for line in process.stdout:
            print(line, end="", flush=True)
            found = re.match(r"(.*?)(?: \(.*\))?: (\S+)  target .* (PASS|FAIL)$", line)
            if found:
                label, value, verdict = found.groups()
                figures.setdefault(label, []).append(f"{value} {verdict}")
                failures += verdict == "FAIL"
        if process.wait():
            raise SystemExit(process.returncode)
        failed += failures > 0
    print(f"=== {runs} runs")
    for label, values in figures.items():
        print(f"{label}: {', '.join(values)}")
    print(f"Runs with a target FAIL: {failed} of {runs}")


def start(args: argparse.Namespace, size: int) -> dict[str, "Server"]:
    """Start gunicorn and waitress on one database; make the timed file."""
    env: dict[str, Any] = {
        "RECORDS_FILES_FSYNC": "0" if args.no_fsync else "1",
        "RECORDS_FILES_CHECKSUMS": ",".join(algorithms()),
    }
    target = "benchmarks.rest_throughput:create_bench_app()"
    servers: dict[str, Server] = {}
    for kind in ("gunicorn", "waitress"):
        servers[kind] = demo_server(bench.workdir, target, kind=kind, **env)
    path = bench.workdir + "/source.bin"
    urls = {kind: server.url for kind, server in servers.items()}
    bench.note("setup", path=path, md5=make_file(path, size), **urls)
    return servers


def warm_up(worker: Any) -> int:
    """Send an 8 MiB file once through every route; return the worker's RSS then.

    A worker's first transfer on each route imports modules, fills caches
    and allocates the buffers every later transfer reuses (the chunks in
    flight, the write-back thread: 8 MiB passes two write-back windows),
    once for its lifetime. What the timed files add is measured from after
    that; the one-off cost is printed, not held to a target.
    """
    path = os.path.join(bench.workdir, "warm-up.bin")
    md5 = make_file(path, 8)
    started = memory_kib("VmRSS", worker)  # it has answered one request
    for name in (*routes(), "download"):
        step(1, name, path, md5)
    os.remove(path)
    baseline = memory_kib("VmRSS", worker)
    print(
        f"worker RSS after one 8 MiB file per route: {(baseline - started) / 1024:+.2f} MiB (printed only)"
    )
    return baseline


def timed(size: int, worker: Any) -> None:
    """The contenders in pyperf workers; the targets; the worker's memory.

    ``worker`` is the server worker's pid in the parent, ``None`` in pyperf's.
    """
    if bench.parent:
        baseline = warm_up(worker)
        reset_peak(worker)
        step(1, "download")  # warm-up: a fresh server's first transfer is slower
    buffering = (BUFFERING,) if "upload waitress" in routes() else ()
    steps = (*hash_tools(), "dd", *buffering, *routes(), "download", "plain")
    runs = {name: bench.time(f"{name} {size} MiB", step, name) for name in steps}
    if not bench.parent:
        return
    times = {name: runs[name].get_values() for name in steps}
    for route in routes():
        spread_and_floor(times, route)
        buffered_floor(times, route)
    for note in bench.notes("commit"):
        print(f"commit of a {note['route']} upload: {note['seconds']:.3f} s")
    bench.ratio("download / plain read", runs["plain"], runs["download"], 0.8, True)
    growth: dict[int | str, int] = {size: memory_kib("VmHWM", worker) - baseline}
    rss_sizes = bench.args.rss_sizes or ("8" if bench.args.quick else "64,1024")
    for other in rss_sizes.split(","):
        path = f"{bench.workdir}/rss-{other}.bin"
        md5 = make_file(path, int(other))
        before = memory_kib("VmRSS", worker)
        reset_peak(worker)
        step(1, "download", path, md5)
        growth[other] = memory_kib("VmHWM", worker) - before
        os.remove(path)
    for other, kib in growth.items():
        bench.target(f"worker RSS growth, {other} MiB files (MiB)", kib / 1024, 16)


def main() -> None:
    """Start the servers, run the benchmarks, print the targets."""
    args, servers = bench.parse(), {}
    if args.runs and bench.parent:
        os.rmdir(bench.workdir)
        return repeat(args.runs)
    size = args.size_mib or (32 if args.quick else 512)
    try:
        if bench.parent:
            servers = start(args, size)
        if args.in_a_row and bench.parent:
            setup = bench.notes("setup")[0]
            consecutive(size, servers, setup["path"], setup["md5"], args.in_a_row)
        elif not args.in_a_row:
            timed(size, servers["gunicorn"].worker_pids()[0] if servers else None)
        if bench.parent:
            bench.finish()
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
