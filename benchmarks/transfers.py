#!/usr/bin/env python
"""What an upload into S3 costs the application: direct (presigned) or proxied.

See ``benchmarks/README.rst``: one file uploaded into S3 (moto) through the
application under gunicorn, and straight to S3 with presigned part URLs;
the application worker's CPU seconds and peak memory for each.
"""

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from statistics import median
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (
    MIB,
    ROOT,
    Bench,
    demo_env,
    demo_server,
    memory_kib,
    reset_peak,
)
from tests.s3server import MotoServer, free_port, http_session
from tests.servers import stop_process_group

ONCE = dict(processes=1, values=1, warmups=0, loops=1)  # 1 GiB each way: minutes
bench = Bench(full=ONCE, quick=ONCE)
bench.option("--size-mib", type=int, help="size of the file (1024)")
bench.option("--part-mib", type=int, help="size of a direct upload's parts (64)")
BLOCK = hashlib.sha256(b"rfx-transfers").digest() * (MIB // 32)  # the file: repeated
HTTP = http_session()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as fp:
        fields = fp.read().rsplit(")", 1)[1].split()
    assert fields[0] != "Z", f"process {pid} exited"  # a verifier that died
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(method: str, url: str, **kwargs: Any) -> Any:
    """Send a request to the application; return its JSON answer."""
    response = HTTP.request(method, url, timeout=3600, **kwargs)
    assert response.status_code < 400, (method, url, response.text[:500])
    return response.json()


def put_content(url: str, size: int) -> None:
    """PUT ``size`` bytes of the file to ``url``, streamed 1 MiB at a time."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=3600)
    connection.putrequest("PUT", parts.path)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    for _ in range(size // MIB):
        connection.send(BLOCK)
    response = connection.getresponse()
    assert response.status < 400, response.read()[:500]
    connection.close()


def upload(loops: int, name: str, size: int, part: int) -> float:
    """Upload the file ``name``'s way; note the app worker's figures."""
    setup = bench.notes("setup")[0]
    files, worker, verifier = setup["files"], setup["worker"], setup["verifier"]
    key = f"{name}-{os.getpid()}.bin"
    entry: dict[str, Any] = dict(key=key, size=size, checksum=setup["checksum"])
    if name == "direct":
        entry["transfer"] = dict(type="M", parts=-(-size // part), part_size=part)
    reset_peak(worker)
    cpu, verify_cpu = cpu_seconds(worker), verifier and cpu_seconds(verifier)
    started = time.perf_counter()
    links = api("POST", files, json=[entry])["entries"][0]["links"]
    if name == "proxied":
        put_content(f"{files}/{key}/content", size)
    for link in links["parts"] if name == "direct" else ():
        data = BLOCK * (min(part, size - (link["part"] - 1) * part) // MIB)
        HTTP.put(link["url"], data=data).raise_for_status()
    entry = api("POST", f"{files}/{key}/commit")
    cpu, peak = cpu_seconds(worker) - cpu, memory_kib("VmHWM", worker) / 1024
    while entry["status"] == "pending":  # the benchmark's polls: not counted
        time.sleep(1)
        verifier and cpu_seconds(verifier)
        entry = {e["key"]: e for e in api("GET", files)["entries"]}[key]
    assert entry["status"] == "completed", entry
    assert entry["checksum"] == setup["checksum"], entry
    seconds = time.perf_counter() - started
    verify_cpu = verifier and cpu_seconds(verifier) - verify_cpu
    bench.note(name, cpu=cpu, peak=peak, verify=verify_cpu)
    return seconds


def spawn(command: list[str], env: dict[str, str]) -> "subprocess.Popen[bytes]":
    """Start ``command`` in a session of its own, in the project's folder."""
    log = open(os.path.join(bench.workdir, "instance", "services.log"), "ab")
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(os.environ, **env),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def start(services: list[Any], size: int) -> None:
    """Moto, Redis, the application under gunicorn and its Celery worker."""
    services.append(MotoServer(bench.workdir).start())
    bucket = f"rfx-bench-{os.getpid()}"
    services[0].client().create_bucket(Bucket=bucket)
    config = json.dumps(services[0].app_config())
    env = demo_env(bench.workdir, RFX_BENCH_S3_BUCKET=bucket, RFX_BENCH_CONFIG=config)
    verifier, redis = None, shutil.which("redis-server")
    if redis:  # else Celery runs eagerly, in the application worker
        port = str(free_port())
        env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
        options = ["--bind", "127.0.0.1", "--port", port, "--save", ""]
        services.append(spawn([redis, *options, "--dir", bench.workdir], env))
    app = "benchmarks.transfers_app:create_bench_app()"
    services.append(demo_server(bench.workdir, app, 3600, **env))
    if redis:
        command = [sys.executable, "-m", "celery", "-A", "benchmarks.transfers_app"]
        command += ["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle"]
        services.append(spawn(command + ["--without-gossip"], env))
        verifier = services[-1].pid
        time.sleep(3)  # its start-up is not the upload's work
    digest = hashlib.md5()
    for _ in range(size // MIB):
        digest.update(BLOCK)
    url = services[-1 - bool(redis)].url
    files = f"{url}/records/{api('POST', url + '/records/', json={})['id']}/files"
    worker = services[-1 - bool(redis)].worker_pids()[0]
    checksum = "md5:" + digest.hexdigest()
    bench.note(
        "setup", files=files, worker=worker, verifier=verifier, checksum=checksum
    )


def main() -> None:
    """Start the services, upload both ways, print the figures and the target."""
    args = bench.parse()
    services: list[Any] = []
    size = (args.size_mib or (32 if args.quick else 1024)) * MIB
    part = (args.part_mib or (8 if args.quick else 64)) * MIB
    try:
        if bench.parent:
            start(services, size)
        for name in ("proxied", "direct"):
            bench.time(f"{name} upload, {size // MIB} MiB", upload, name, size, part)
        if not bench.parent:
            return
        cpu = {}
        for name in ("proxied", "direct"):
            notes = bench.notes(name)
            cpu[name] = median(note["cpu"] for note in notes)
            peak = median(note["peak"] for note in notes)
            print(f"{name}: app worker CPU {cpu[name]:.2f} s, peak RSS {peak:.1f} MiB")
        if notes[0]["verify"] is None:
            print(
                "direct: no redis-server: the checksum was verified in the app worker"
            )
        else:
            verify = median(note["verify"] for note in notes)
            print(f"direct: checksum verified by the Celery worker: {verify:.2f} s CPU")
        share = 100 * cpu["direct"] / max(cpu["proxied"], 1e-9)
        bench.target("direct / proxied app worker CPU (%)", share, 5)
        bench.finish()
    finally:
        for service in reversed(services):  # the server before its broker, storage
            service.stop() if hasattr(service, "stop") else stop_process_group(service)


if __name__ == "__main__":
    main()
