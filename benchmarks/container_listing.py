#!/usr/bin/env python
"""Listing a crafted zip's members: bounded pages (issue 20, item 3).

A zip of 240 members whose names are invalid UTF-8 (the UTF-8 flag set,
each ``\\xff`` read as U+FFFD, six bytes in JSON and nine in a URL), with
names of 3,990 bytes and of 65,000 bytes, listed through the demo app's
Flask client by following ``links.next``. Prints per case: the status,
the pages, the largest answer, all answers together, the time and the
process's peak resident memory, and the load average before and after.

``python benchmarks/container_listing.py`` (a few seconds; SQLite in a
temporary folder).
"""

import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from typing import Any

from flask.testing import FlaskClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from examples.app import create_app

MEMBERS = 240


def crafted(count: int, length: int) -> bytes:
    """Return a stored zip of ``count`` members with ``length``-byte invalid names."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(count):
            zipped.writestr("\u00e9{0:04d}".format(index) + "X" * length, b"n")
    return buffer.getvalue().replace(b"X" * length, b"\xff" * length)


def walk(client: FlaskClient, url: "str | None") -> tuple[Any, int, int, int]:
    """Follow the listing's pages; return (status, pages, largest, total bytes)."""
    pages, largest, total, status = 0, 0, 0, None
    while url:
        response = client.get(url)
        status = response.status_code
        pages += 1
        largest = max(largest, len(response.data))
        total += len(response.data)
        url = None
        if status == 200:
            url = response.get_json().get("links", {}).get("next")
    return status, pages, largest, total


def main() -> None:
    """Run both cases and print their figures."""
    print("load before", os.getloadavg())
    folder = tempfile.mkdtemp(prefix="container-listing-")
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///" + folder + "/demo.db",
                "FILES_STORAGE_PATH": folder + "/files",
            },
            instance_path=folder,
        )
        client = app.test_client()
        pid = client.post(
            "/records/",
            data=json.dumps({"title": "crafted"}),
            headers={"Content-Type": "application/json"},
        ).get_json()["id"]
        for length in (3990, 65000):
            data = crafted(MEMBERS, length)
            client.put(
                "/records/{0}/files/n{1}.zip".format(pid, length),
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            start = time.perf_counter()
            status, pages, largest, total = walk(
                client, "/records/{0}/files/n{1}.zip/container".format(pid, length)
            )
            print(
                "{0} names of {1} bytes: zip {2:.1f} MiB, status {3}, {4} page(s), "
                "largest {5:.2f} MiB, all {6:.1f} MiB, {7:.2f} s, peak RSS {8} MiB".format(
                    MEMBERS,
                    length,
                    len(data) / 2**20,
                    status,
                    pages,
                    largest / 2**20,
                    total / 2**20,
                    time.perf_counter() - start,
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                )
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("load after", os.getloadavg())


if __name__ == "__main__":
    main()
