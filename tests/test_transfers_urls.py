"""Transfer URLs (issue 18, findings 4, 6 and 8): parsed, re-serialised, global.

Hostile URLs answer 400 JSON and store nothing; what is stored is the URL
written again from its parts, and a download checks it again before it
redirects (through the Flask client and through gunicorn). Fetches connect
to global addresses only, judged after unwrapping IPv6 forms.
"""

import ipaddress
import os
import socket
from types import ModuleType
from typing import Any

import pytest
import requests
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as _db
from invenio_files_rest.models import FileInstance

from invenio_records_files_ext.errors import InvalidTransferError, TransferFailedError
from invenio_records_files_ext.models import FileEntry
from invenio_records_files_ext.transfers.fetching import FetchLimits, open_url
from tests.helpers import IsolatedClient, create_record, files_url, init, stored_record
from tests.servers import Server

ALLOWED = ["*.example.org", "data.example.org"]


def _addresses() -> ModuleType:
    # Imported here: the module is new, and the HTTP tests of this file
    # must run (and fail) on the code before it.
    from invenio_records_files_ext.transfers import addresses

    return addresses


HOSTILE = [
    # Finding 4: browsers read "\" as "/" and go to evil.com.
    ("https://evil.com\\.data.example.org/x", "backslash"),
    # Finding 6: an IPv6 literal left open.
    ("http://[::1", "IPv6"),
    # Finding 6: a host that NFKC turns into another ("℀" is "a/c").
    ("https://evil.com\u2100.example.org/x", "normalisation"),
    # Finding 6: CR/LF would split the Location header of every download.
    ("https://data.example.org/x\r\nSet-Cookie: a=b", "white space"),
    ("https://data.example.org/x\nfoo", "white space"),
    ("https://data.example.org/\x00", "control character"),
    ("https://data.example.org/caf\u00e9", "beyond ASCII"),
    ("https://data.example.org:99999/x", "port"),
    ("https://data.example.org/%zz", "percent"),
    ("https://a@b@data.example.org/x", "credentials"),
    ("https://-bad-.example.org/x", "host name"),
    ("https:///x", "no host"),
    ("javascript:alert(1)//data.example.org", "http"),
]


def _remote(url: str, key: str = "r.bin") -> dict[str, Any]:
    return {"key": key, "size": 10, "transfer": {"type": "R", "url": url}}


@pytest.fixture()
def remote_hosts(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ALLOWED)
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_ALLOWED_HOSTS", ALLOWED)


@pytest.mark.parametrize("url, reason", HOSTILE)
@pytest.mark.parametrize("kind", ["R", "F"])
def test_hostile_urls_answer_400_json_and_store_nothing(
    client: IsolatedClient,
    db: SQLAlchemy,
    remote_hosts: None,
    url: str,
    reason: str,
    kind: str,
) -> None:
    pid = create_record(client)
    entry = {"key": "h.bin", "transfer": {"type": kind, "url": url}}
    response = init(client, pid, [entry])
    assert response.status_code == 400, response.data
    assert response.json["status"] == 400
    assert reason in response.json["message"], response.json
    assert db.session.query(FileEntry).count() == 0
    assert stored_record(pid).files.keys == []


@pytest.mark.parametrize(
    "url, stored",
    [
        (
            "HTTPS://Data.Example.ORG/a|b?q=<1>#f",
            "https://data.example.org/a%7Cb?q=%3C1%3E#f",
        ),
        ("https://data.example.org", "https://data.example.org/"),
        ("http://[2001:DB8:0::1]:8080/x", "http://[2001:db8::1]:8080/x"),
    ],
)
def test_parse_url_re_serialises(url: str, stored: str) -> None:
    assert _addresses().parse_url(url).url == stored


def test_origin_names_scheme_and_host_only() -> None:
    parsed = _addresses().parse_url(
        "https://user:secret@data.example.org:8443/p?token=t"
    )
    assert parsed.origin == "https://data.example.org:8443"
    assert parsed.userinfo == "user:secret"


def test_remote_file_stores_the_re_serialised_url(
    client: IsolatedClient, db: SQLAlchemy, remote_hosts: None
) -> None:
    pid = create_record(client)
    response = init(client, pid, [_remote("HTTPS://Data.Example.ORG/a|b")])
    assert response.status_code == 201, response.json
    [stored] = _db.session.query(FileInstance.uri).all()
    assert stored.uri == "https://data.example.org/a%7Cb"
    download = client.get(files_url(pid, "r.bin", "content"))
    assert download.status_code == 302
    assert download.headers["Location"] == "https://data.example.org/a%7Cb"


def _store_hostile_remote(client: IsolatedClient, url: str) -> str:
    """A remote file whose stored URL predates the rules (written in the DB)."""
    pid = create_record(client)
    response = init(client, pid, [_remote("https://data.example.org/x")])
    assert response.status_code == 201, response.json
    fileinstance = (
        _db.session.query(FileInstance)
        .filter_by(uri="https://data.example.org/x")
        .one()
    )
    fileinstance.uri = url
    _db.session.commit()
    return pid


@pytest.mark.parametrize(
    "url",
    ["https://evil.com\\.data.example.org/x", "https://data.example.org/x\r\nA: b"],
)
def test_download_checks_the_stored_url_before_redirecting(
    client: IsolatedClient, db: SQLAlchemy, remote_hosts: None, url: str
) -> None:
    pid = _store_hostile_remote(client, url)
    for route in (files_url(pid, "r.bin"), files_url(pid, "r.bin", "content")):
        response = client.get(route)
        assert response.status_code == 409, (response.status_code, response.headers)
        assert "Location" not in response.headers
        assert response.json["status"] == 409
        assert "not one to redirect to" in response.json["message"]


@pytest.mark.gunicorn
def test_download_redirect_through_gunicorn(
    client: IsolatedClient,
    db: SQLAlchemy,
    remote_hosts: None,
    base_config: dict[str, Any],
    instance_path: str,
) -> None:
    good = create_record(client)
    assert (
        init(client, good, [_remote("HTTPS://Data.Example.ORG/a|b")]).status_code == 201
    )
    bad = _store_hostile_remote(client, "https://evil.com\\.data.example.org/x")
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "gunicorn-urls"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    server = Server("gunicorn", env, workers=1)
    try:
        url = "{0}/records/{1}/files/r.bin/content".format(server.url, good)
        response = requests.get(url, allow_redirects=False, timeout=30)
        assert response.status_code == 302, server.logs()[-2000:]
        assert response.headers["Location"] == "https://data.example.org/a%7Cb"
        url = "{0}/records/{1}/files/r.bin/content".format(server.url, bad)
        response = requests.get(url, allow_redirects=False, timeout=30)
        assert response.status_code == 409, server.logs()[-2000:]
        assert "Location" not in response.headers
        assert response.json()["status"] == 409
    finally:
        server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "100.100.100.200",  # shared address space: a cloud metadata service
        "100.64.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "fec0::1",  # site-local
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::ffff:10.0.0.1",
        "2001:db8::1",
        "224.0.0.1",
        "ff02::1",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert _addresses().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_global_addresses_are_allowed(address: str) -> None:
    assert _addresses().refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "address", ["100.100.100.200", "2002:7f00:1::1", "fec0::1", "64:ff9b::a9fe:a9fe"]
)
def test_fetch_refuses_a_host_resolving_to_a_non_global_address(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """Every resolved address is checked, before any connection is made."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, 80, 0, 0) if family == socket.AF_INET6 else (address, 80)
    resolved = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
        (family, socket.SOCK_STREAM, 6, "", sockaddr),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: resolved)
    limits = FetchLimits(allowed_hosts=("data.example.org",), connect_timeout=1)
    with pytest.raises(TransferFailedError) as error:
        with open_url("http://data.example.org/x", limits):
            pass
    assert "not allowed" in error.value.message, error.value.message
    assert "address" in error.value.message


def test_fetch_refuses_a_non_global_ip_literal() -> None:
    limits = FetchLimits(allowed_hosts=("100.100.100.200",), connect_timeout=1)
    with pytest.raises(TransferFailedError) as error:
        with open_url("http://100.100.100.200/latest/meta-data/", limits):
            pass
    assert "not allowed" in error.value.message


def test_check_url_returns_the_re_serialised_url() -> None:
    from invenio_records_files_ext.transfers import check_url

    assert (
        check_url("HTTPS://DATA.example.org/x", ALLOWED, "SETTING")
        == "https://data.example.org/x"
    )
    with pytest.raises(InvalidTransferError):
        check_url("https://evil.com\\.data.example.org/x", ALLOWED, "SETTING")
