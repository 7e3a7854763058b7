#!/usr/bin/env python
"""Uploads and downloads of large files through gunicorn, and its memory.

See ``benchmarks/README.rst``: ``cp`` and ``md5sum`` bound an upload, a
plain read of the stored file bounds a download; the worker's resident
memory must not grow with the size of the files.
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (
    MIB,
    Bench,
    demo_server,
    memory_kib,
    reset_peak,
)

bench = Bench(
    full=dict(processes=5, values=1, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--size-mib", type=int, help="size of the timed files (512)")
bench.option("--rss-sizes", help="sizes (MiB) of one more transfer each (64,1024)")


def create_bench_app():
    """The demo, plus a route reading a stored file with nothing around it."""
    from flask import send_file

    from examples.app import create_app

    app = create_app()

    def plain(name):
        path = os.path.join(app.config["FILES_STORAGE_PATH"], name)
        return send_file(path, "application/octet-stream", conditional=False)

    app.add_url_rule("/bench/plain/<path:name>", "bench_plain", plain)
    return app


def make_file(path, size_mib):
    """Write ``size_mib`` MiB that no layer can deduplicate; return the MD5."""
    digest, block = hashlib.md5(), os.urandom(MIB)
    with open(path, "wb") as fp:
        for index in range(size_mib):
            chunk = index.to_bytes(8, "big") + block[8:]
            fp.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def upload(url, path, md5):
    """Create a record, PUT the file; return the version's URL and seconds.

    The body goes out with ``sendfile()``: the client costs next to no CPU
    on the cores it shares with the server.
    """
    pid = requests.post(url + "/records/", json={}).json()["id"]
    target = f"/records/{pid}/files/{os.path.basename(path)}"
    connection = http.client.HTTPConnection(url.split("//")[1], timeout=900)
    os.sync()  # no step pays for the previous one's write-back
    started = time.perf_counter()
    connection.putrequest("PUT", target)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(os.path.getsize(path)))
    connection.endheaders()
    with open(path, "rb") as fp:
        connection.sock.sendfile(fp)
    response = connection.getresponse()
    answer = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    assert response.status == 200 and md5 in answer.decode(), answer[:300]
    return f"{url}{target}?versionId={json.loads(answer)['version_id']}", seconds


def download(url, md5):
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


def step(loops, name, path=None, md5=None):
    """One timed step against the server the parent started."""
    setup = bench.notes("setup")[0]
    path, md5, url = path or setup["path"], md5 or setup["md5"], setup["url"]
    if name in ("cp", "md5sum"):
        copy = os.path.join(bench.workdir, "copy.bin")
        os.sync()
        started = time.perf_counter()
        subprocess.run(
            [name, path] + [copy] * (name == "cp"), stdout=subprocess.DEVNULL
        )
        seconds = time.perf_counter() - started
        if name == "cp":
            os.remove(copy)
        return seconds
    location, seconds = upload(url, path, md5)
    if name == "download":
        seconds = download(location, md5)
    elif name == "plain":
        storage = os.path.join(bench.workdir, "storage")
        files = [os.path.join(d, f) for d, _, names in os.walk(storage) for f in names]
        stored = os.path.relpath(max(files, key=os.path.getmtime), storage)
        seconds = download(url + "/bench/plain/" + stored, md5)
    requests.delete(location).raise_for_status()
    return seconds


def main():
    """Start gunicorn, run the benchmarks, print the targets."""
    args, server = bench.parse(), None
    size = args.size_mib or (32 if args.quick else 512)
    if bench.parent:
        path = bench.workdir + "/source.bin"
        server = demo_server(
            bench.workdir, "benchmarks.rest_throughput:create_bench_app()"
        )
        bench.note("setup", path=path, md5=make_file(path, size), url=server.url)
        worker = server.worker_pids()[0]
        baseline = memory_kib("VmRSS", worker)  # it has answered one request
        reset_peak(worker)
        step(1, "download")  # warm-up: a fresh server's first transfer is slower
    try:
        steps = ("cp", "md5sum", "upload", "download", "plain")
        runs = {name: bench.time(f"{name} {size} MiB", step, name) for name in steps}
        if not bench.parent:
            return
        times = {name: runs[name].get_values() for name in steps}
        floor = map(max, times["cp"], times["md5sum"])
        worst = min(map(lambda bottom, up: bottom / up, floor, times["upload"]))
        bench.target("upload / min(cp, md5sum), slowest round", worst, 0.7, True)
        bench.ratio("download / plain read", runs["plain"], runs["download"], 0.8, True)
        growth = {size: memory_kib("VmHWM", worker) - baseline}
        for other in (args.rss_sizes or ("8" if args.quick else "64,1024")).split(","):
            path = f"{bench.workdir}/rss-{other}.bin"
            md5 = make_file(path, int(other))
            reset_peak(worker)
            step(1, "download", path, md5)
            growth[other] = memory_kib("VmHWM", worker) - baseline
            os.remove(path)
        for other, kib in growth.items():
            bench.target(f"worker RSS growth, {other} MiB files (MiB)", kib / 1024, 16)
        bench.finish()
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
