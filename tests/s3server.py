"""Start an S3-compatible server (moto's standalone server) on loopback.

The S3 tests talk to a real HTTP server in another process, so the bytes go
through invenio-s3, s3fs and botocore exactly as they would against a
production object store. Nothing listens beyond 127.0.0.1.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from typing import IO, Any

import boto3
import requests
from botocore.config import Config

from tests.servers import stop_process_group

ACCESS_KEY_ID = "rfx-test-access-key"
"""Access key the tests use; moto accepts any credentials."""

SECRET_ACCESS_KEY = "rfx-test-secret-key"
"""Secret key the tests use; moto accepts any credentials."""

REGION = "us-east-1"
"""Region of every bucket: moto's default, which needs no location constraint."""

S3_TEST_PART_SIZE = 1024 * 1024
"""Multipart part size of the tests' S3 application: S3 itself wants 5 MiB,
the tests keep data small (invenio-s3 then writes the parts into one object)."""


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_session() -> requests.Session:
    """Return a requests session that goes straight to loopback.

    It ignores proxy settings of the environment: a proxy must never see
    (or forward) requests meant for the local server.
    """
    session = requests.Session()
    session.trust_env = False
    return session


class MotoServer:
    """A moto S3 server running as a child process on a free loopback port."""

    def __init__(self, log_dir: str) -> None:
        """Remember where the server writes its log; :meth:`start` starts it."""
        self.port = free_port()
        self.url = "http://127.0.0.1:{0}".format(self.port)
        self.log_path = os.path.join(log_dir, "moto-{0}.log".format(self.port))
        self.process: "subprocess.Popen[bytes] | None" = None
        self._log: "IO[bytes] | None" = None

    def start(self, seconds: float = 60) -> "MotoServer":
        """Start the server and wait until it answers S3 requests."""
        self._log = open(self.log_path, "wb")
        self.process = process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group, so that stop() reaches any child it forks
            # and a Ctrl-C in the terminal does not kill it before teardown.
            start_new_session=True,
        )
        http = http_session()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("moto server exited:\n{0}".format(self.logs()))
            try:
                # ListBuckets: answered only once the S3 backend is loaded.
                if http.get(self.url + "/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("moto server did not start:\n{0}".format(self.logs()))

    def logs(self) -> str:
        """Return what the server printed so far."""
        if self._log is not None and not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as fp:
            return fp.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop the server (and anything it started)."""
        if self.process is not None:
            stop_process_group(self.process)
        if self._log is not None:
            self._log.close()

    def app_config(self) -> dict[str, str]:
        """Return the invenio-s3 settings that point an application here."""
        return dict(
            FILES_REST_STORAGE_FACTORY="invenio_s3.s3fs_storage_factory",
            S3_ENDPOINT_URL=self.url,
            S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
            S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            S3_REGION_NAME=REGION,
        )

    def client(self) -> Any:
        """Return a boto3 S3 client talking to this server."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
            ),
        )


def new_bucket_name(prefix: str = "rfx") -> str:
    """Return a bucket name no earlier test used (S3 names are global)."""
    return "{0}-{1}".format(prefix, uuid.uuid4().hex[:20])


def object_keys(client: Any, bucket: str) -> set[str]:
    """Return the set of keys stored in an S3 bucket."""
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(item["Key"] for item in page.get("Contents", ()))
    return keys


def remove_bucket(client: Any, bucket: str) -> None:
    """Delete an S3 bucket with everything in it, unfinished uploads included."""
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", ()):
        client.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    for key in object_keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
