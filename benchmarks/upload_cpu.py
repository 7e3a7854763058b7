#!/usr/bin/env python
"""The gunicorn worker's CPU time per upload route: ``PUT``, ``/content``, parts.

``python benchmarks/upload_cpu.py [--size-mib 256] [--part-mib 64]
[--checksums md5,sha256] [--rounds 2]``. The demo under gunicorn (one
sync worker, durable writes), as in ``rest_throughput.py``; each round
uploads the same file with a one-step ``PUT``, the three-step
``/content`` route and a multipart upload (parts one after another, in
order), and prints, per step, the wall time and the CPU time the worker
spent (``utime + stime`` from ``/proc/<pid>/stat``, its threads included):
unlike wall time, CPU time hardly depends on what else the machine runs,
so routes compare on a loaded machine too. The commits are measured on
their own. No target: it shows where the routes differ.
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import rest_throughput as rt
from benchmarks.common import MIB, demo_server, load

T = TypeVar("T")


def worker_cpu(pid: int) -> float:
    """CPU seconds the process has used (all its threads, ended ones too)."""
    with open(f"/proc/{pid}/stat") as fp:
        fields = fp.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, name: str, func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)``; print its wall and the worker's CPU time."""
    os.sync()
    cpu, started = worker_cpu(pid), time.perf_counter()
    result = func(*args)
    print(
        f"{name:8s} wall {time.perf_counter() - started:6.3f} s  "
        f"worker CPU {worker_cpu(pid) - cpu:5.2f} s  load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return result


def parts_upload(
    url: str, path: str, md5: str, size: int, part_size: int
) -> tuple[str, list[dict[str, Any]]]:
    """Announce a multipart upload; return (files route, part links)."""
    files = rt.new_record(url)
    parts = -(-size // part_size)
    entry = {
        "key": "parts.bin",
        "size": size,
        "checksum": "md5:" + md5,
        "transfer": {"type": "M", "parts": parts, "part_size": part_size},
    }
    links: list[dict[str, Any]] = rt.announce(url, files, entry)["links"]["parts"]
    return files, links


def send_parts(
    url: str, path: str, size: int, part_size: int, links: list[dict[str, Any]]
) -> None:
    """PUT the parts one after another, in order."""
    for link in links:
        offset = (link["part"] - 1) * part_size
        rt.send(
            url, urlsplit(link["url"]).path, path, offset, min(part_size, size - offset)
        )


def content_upload(url: str, path: str, md5: str, size: int) -> str:
    """Announce a three-step upload; return its files route."""
    files = rt.new_record(url)
    rt.announce(
        url, files, {"key": "content.bin", "size": size, "checksum": "md5:" + md5}
    )
    return files


def main() -> None:
    """Start the demo, upload on each route, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--part-mib", type=int, default=64)
    parser.add_argument("--checksums", default="md5")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rt.bench.args = argparse.Namespace(checksums=args.checksums)
    workdir = tempfile.mkdtemp(prefix="rfx-bench-")
    server = demo_server(
        workdir,
        "benchmarks.rest_throughput:create_bench_app()",
        RECORDS_FILES_FSYNC="1",
        RECORDS_FILES_CHECKSUMS=args.checksums,
    )
    try:
        pid, url = server.worker_pids()[0], server.url
        path, size = workdir + "/source.bin", args.size_mib * MIB
        md5 = rt.make_file(path, args.size_mib)
        part_size = args.part_mib * MIB
        print(
            f"load before: {load()}; {args.size_mib} MiB, {args.checksums}", flush=True
        )
        rt.upload_put(url, path, md5, "warm.bin")
        for number in range(1, args.rounds + 1):
            print(f"round {number}")
            measured(pid, "PUT", rt.upload_put, url, path, md5, "put.bin")
            files = content_upload(url, path, md5, size)
            measured(
                pid, "/content", rt.send, url, files + "/content.bin/content", path
            )
            measured(pid, "commit", rt.commit, url, files, "content.bin", md5)
            files, links = parts_upload(url, path, md5, size, part_size)
            measured(pid, "parts", send_parts, url, path, size, part_size, links)
            measured(pid, "commit", rt.commit, url, files, "parts.bin", md5)
        print(f"load after: {load()}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
