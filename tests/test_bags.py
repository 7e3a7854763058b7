"""BagIt bags (RFC 8493): ``files-archive?format=bagit`` and ``attach --bag``.

The bags are proven valid by the Library of Congress's ``bagit`` package
(its Python API and its command line), after unzipping.
"""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, cast

import bagit
import pytest
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.archives import archive, bags
from invenio_records_files_ext.errors import InvalidBagError
from invenio_records_files_ext.maintenance import bag_ingest, bag_sources, bag_verify
from invenio_records_files_ext.maintenance.bag_sources import BagSource
from invenio_records_files_ext.maintenance.bag_verify import Advance, VerifiedBag
from invenio_records_files_ext.storage import checksums
from invenio_records_files_ext.storage.checksums import stored_checksums
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    JSONResponse,
    QueryCounter,
    assert_refused,
    create_record,
    files_of,
    init,
    stored_record,
    stream,
    upload,
)
from tests.servers import Server

FILES = {
    "b.txt": b"bee",
    "a/\u00e9.bin": os.urandom(300000),
    "z/y/x.csv": b"1,2\n3,4\n",
}


def bag_of(client: IsolatedClient, pid: str, **params: str) -> JSONResponse:
    response = client.get(
        "/records/{0}/files-archive".format(pid),
        query_string={"format": "bagit", **params},
    )
    assert response.status_code == 200, response.data
    return response


def unzipped(data: bytes, where: Path) -> Path:
    """Unzip a bag with Info-ZIP's unzip; return its base directory."""
    path = where / "bag.zip"
    path.write_bytes(data)
    target = where / "unzipped"
    subprocess.run(["unzip", "-q", str(path), "-d", str(target)], check=True)
    (base,) = os.listdir(target)
    return target / base


def validate_with_bagit(base: Path) -> Any:
    """``bagit.Bag(path).validate()`` and ``bagit.py --validate``."""
    bag = bagit.Bag(str(base))
    bag.validate()
    assert bag.is_valid()
    command = [sys.executable, "-m", "bagit", "--validate", str(base)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return bag


def make_record(
    client: IsolatedClient,
    files: dict[str, bytes] = FILES,
    title: str = "A bag of files",
) -> str:
    pid = create_record(client, {"title": title})
    for key, data in files.items():
        assert upload(client, pid, key, data).status_code == 200, key
    return pid


#
# Layout and encoding
#
def test_paths_are_percent_encoded_as_rfc_8493_says() -> None:
    assert bags.encode_path("data/100%.txt") == "data/100%25.txt"
    assert bags.encode_path("a\nb\rc") == "a%0Ab%0Dc"
    assert bags.encode_path("data/%0A") == "data/%250A"
    for path in ("data/100%.txt", "a\nb\rc", "data/%0A", "data/%41 é"):
        assert bags.decode_path(bags.encode_path(path)) == path
    # Only what RFC 8493 encodes is decoded.
    assert bags.decode_path("data/%41%0a") == "data/%41\n"


def test_bag_info_is_one_line_per_field() -> None:
    text = bags.bag_info_text([("Title", "two\nlines"), ("A:b", "c")])
    assert text == b"Title: two lines\nAb: c\n"


#
# The bag of a record
#
def test_bag_of_a_record_is_valid(
    client: IsolatedClient,
    db: SQLAlchemy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app: Flask,
) -> None:
    monkeypatch.setitem(
        app.config,
        "RECORDS_FILES_BAG_INFO",
        {
            "Source-Organization": "Example Library",
            "Contact-Email": ["data@example.org", "help@example.org"],
        },
    )
    pid = make_record(client)
    response = bag_of(client, pid)
    assert response.headers["Content-Type"] == "application/zip"
    assert "{0}-bag.zip".format(pid) in response.headers["Content-Disposition"]
    zipped = zipfile.ZipFile(io.BytesIO(response.data))
    assert zipped.testzip() is None
    names = zipped.namelist()
    base = "{0}-bag/".format(pid)
    assert names[0] == base + "bagit.txt"
    # The payload in the record's order, then the tag files.
    assert names[1:4] == [base + "data/" + key for key in FILES]
    assert names[4:] == [
        base + "bag-info.txt",
        base + "manifest-md5.txt",
        base + "tagmanifest-md5.txt",
    ]
    for key, data in FILES.items():
        assert zipped.read(base + "data/" + key) == data
    manifest = zipped.read(base + "manifest-md5.txt").decode()
    assert manifest.splitlines() == [
        "{0}  data/{1}".format(hashlib.md5(data).hexdigest(), key)
        for key, data in FILES.items()
    ]

    folder = unzipped(response.data, tmp_path)
    bag = validate_with_bagit(folder)
    info = bag.info
    assert info["Source-Organization"] == "Example Library"
    assert info["Contact-Email"] == ["data@example.org", "help@example.org"]
    assert info["External-Identifier"] == str(pid)
    assert info["Title"] == "A bag of files"
    assert info["Payload-Oxum"] == "{0}.{1}".format(
        sum(len(data) for data in FILES.values()), len(FILES)
    )
    assert len(info["Bagging-Date"]) == 10
    assert bag.version_info == (1, 0)
    assert set(bag.algorithms) == {"md5"}


@pytest.mark.skipif(
    not hasattr(checksums, "checksums_by_file"),
    reason="needs the checksums kept beside the MD5 (issue 23 item 1)",
)
def test_a_manifest_per_kept_algorithm(
    client: IsolatedClient,
    db: SQLAlchemy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app: Flask,
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", ["md5", "sha256"])
    files = {"a.txt": b"a", "b.bin": os.urandom(2000)}
    pid = make_record(client, files)
    folder = unzipped(bag_of(client, pid).data, tmp_path)
    bag = validate_with_bagit(folder)
    assert set(bag.algorithms) == {"md5", "sha256"}
    assert (folder / "manifest-sha256.txt").read_text() == "".join(
        "{0}  data/{1}\n".format(hashlib.sha256(data).hexdigest(), key)
        for key, data in files.items()
    )
    assert (folder / "tagmanifest-sha256.txt").exists()


def test_bag_without_files(
    client: IsolatedClient, db: SQLAlchemy, tmp_path: Path
) -> None:
    pid = create_record(client)
    response = bag_of(client, pid)
    validate_with_bagit(unzipped(response.data, tmp_path))


def test_head_and_unknown_format(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = make_record(client, {"a.txt": b"a"})
    head = client.head(
        "/records/{0}/files-archive".format(pid), query_string={"format": "bagit"}
    )
    assert head.status_code == 200 and head.data == b""
    assert "-bag.zip" in head.headers["Content-Disposition"]
    plain = client.get(
        "/records/{0}/files-archive".format(pid), query_string={"format": "zip"}
    )
    assert zipfile.ZipFile(io.BytesIO(plain.data)).namelist() == ["a.txt"]
    other = client.get(
        "/records/{0}/files-archive".format(pid), query_string={"format": "tar"}
    )
    assert_refused(other, 400)


def test_bag_of_the_media_files(
    client: IsolatedClient, db: SQLAlchemy, tmp_path: Path
) -> None:
    pid = make_record(client, {"a.txt": b"a"})
    sent = client.put(
        "/records/{0}/media-files/thumb.png".format(pid),
        data=b"png",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 200, sent.data
    response = client.get(
        "/records/{0}/media-files-archive".format(pid), query_string={"format": "bagit"}
    )
    assert "{0}-media-bag.zip".format(pid) in response.headers["Content-Disposition"]
    bag = validate_with_bagit(unzipped(response.data, tmp_path))
    assert sorted(bag.payload_files()) == ["data/thumb.png"]


def test_manifests_are_the_stored_checksums(
    app: Flask, db: SQLAlchemy, location: Location, tmp_path: Path
) -> None:
    """The payload is not hashed again: the manifest says what is stored."""
    record = cast(BucketRecord, Record.create({}))
    files_of(record).update({"a.bin": stream(b"abc")})
    db.session.commit()
    files_of(record)["a.bin"].obj.file.checksum = "md5:" + "0" * 32
    db.session.commit()
    data = b"".join(
        archive.stream_archive(record.bucket.id, layout=bags.BagLayout("b"))
    )
    folder = unzipped(data, tmp_path)
    assert (folder / "manifest-md5.txt").read_text() == "0" * 32 + "  data/a.bin\n"
    # So a validator catches bytes that no longer match what was stored.
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(folder)).validate()


def test_bag_has_the_files_of_the_plain_archive(
    client: IsolatedClient, db: SQLAlchemy, tmp_path: Path
) -> None:
    """Pending files are left out of both, by the one selection."""
    pid = make_record(client, {"done.txt": b"done"})
    assert init(client, pid, [{"key": "pending.txt"}]).status_code == 201
    plain = client.get("/records/{0}/files-archive".format(pid))
    plain_names = zipfile.ZipFile(io.BytesIO(plain.data)).namelist()
    assert plain_names == ["done.txt"]
    bag = validate_with_bagit(unzipped(bag_of(client, pid).data, tmp_path))
    assert sorted(bag.payload_files()) == ["data/done.txt"]


def test_restricted_files_follow_the_archive_rules(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    from tests.users import as_user

    record = {
        "title": "closed files",
        "public": True,
        "owners": ["alice"],
        "access": {"record": "public", "files": "restricted"},
    }
    pid = create_record(secured, record)
    upload(secured, pid, "a.txt", b"a", **as_user("alice"))
    url = "/records/{0}/files-archive?format=bagit".format(pid)
    assert secured.get(url).status_code == 401
    assert secured.get(url, headers=as_user("bob")).status_code == 403
    allowed = secured.get(url, headers=as_user("alice"))
    assert allowed.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(allowed.data)).namelist()
    assert "{0}-bag/data/a.txt".format(pid) in names


def test_percent_in_a_key(
    client: IsolatedClient, db: SQLAlchemy, tmp_path: Path
) -> None:
    """RFC 8493 encodes ``%``; bagit-python does not decode it (its issue 157)."""
    files = {"100%.txt": b"all", "plain.txt": b"p"}
    pid = make_record(client, files)
    folder = unzipped(bag_of(client, pid).data, tmp_path)
    manifest = (folder / "manifest-md5.txt").read_text()
    assert "  data/100%25.txt\n" in manifest
    assert (folder / "data" / "100%.txt").read_bytes() == b"all"
    # This package reads it back as RFC 8493 says...
    verified = bag_verify.verify_bag(bag_sources.FolderBag(str(folder)))
    assert [item.key for item in verified.files] == list(files)
    # ...bagit-python 1.9 looks for data/100%25.txt instead.
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(folder)).validate()


def test_bag_pages_and_statements(
    app: Flask,
    db: SQLAlchemy,
    location: Location,
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
    tmp_path: Path,
) -> None:
    record = cast(BucketRecord, Record.create({"title": "pages"}))
    files_of(record).update(
        {"f{0:03d}".format(i): stream(b"x%d" % i) for i in range(7)}
    )
    db.session.commit()
    layout = bags.BagLayout("b")
    data = b"".join(
        archive.stream_archive(record.bucket.id, page_size=3, layout=layout)
    )
    folder = unzipped(data, tmp_path)
    validate_with_bagit(folder)
    lines = (folder / "manifest-md5.txt").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == [
        "data/f{0:03d}".format(i) for i in range(7)
    ]
    # Three statements per page of files (the page's BEGIN: the read
    # transaction is ended between pages; their rows; their checksums),
    # however many files a page holds.
    counts: list[int] = []
    for size in (3, 7):
        with count_statements() as counter:
            pages = archive.stream_archive(
                record.bucket.id, page_size=size, layout=bags.BagLayout("b")
            )
            b"".join(pages)
        counts.append(counter.count)
    assert counts[0] - counts[1] <= 2 * 3, counts


def test_a_file_without_stored_md5_is_hashed_while_streaming(
    app: Flask, db: SQLAlchemy, location: Location, tmp_path: Path
) -> None:
    record = cast(BucketRecord, Record.create({}))
    files_of(record).update({"a.bin": stream(b"abc"), "b.bin": stream(b"def")})
    db.session.commit()
    files_of(record)["a.bin"].obj.file.checksum = None
    db.session.commit()
    data = b"".join(
        archive.stream_archive(record.bucket.id, layout=bags.BagLayout("b"))
    )
    folder = unzipped(data, tmp_path)
    validate_with_bagit(folder)
    assert (folder / "manifest-md5.txt").read_text() == (
        "{0}  data/a.bin\n{1}  data/b.bin\n".format(
            hashlib.md5(b"abc").hexdigest(), hashlib.md5(b"def").hexdigest()
        )
    )


def test_bag_from_s3(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, tmp_path: Path
) -> None:
    files = {"a.bin": os.urandom(700 * 1024), "b.txt": b"bee"}
    pid = make_record(s3_client, files)
    folder = unzipped(bag_of(s3_client, pid).data, tmp_path)
    bag = validate_with_bagit(folder)
    assert sorted(bag.payload_files()) == ["data/a.bin", "data/b.txt"]


#
# Ingesting a bag
#
def make_bag(
    tmp_path: Path,
    files: dict[str, bytes],
    checksums: tuple[str, ...] = ("sha256", "sha512"),
) -> Path:
    """A bag made by bagit-python in a folder."""
    folder = tmp_path / "made"
    for key, data in files.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    bagit.make_bag(
        str(folder), {"Source-Organization": "Elsewhere"}, checksums=list(checksums)
    )
    return folder


def record_keys(record_id: uuid.UUID) -> list[str]:
    return [item.key for item in Record.get_record(record_id).files]


def test_attach_a_bag_made_by_bagit(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    files = {"one.txt": b"one", "sub/two.bin": os.urandom(5000)}
    folder = make_bag(tmp_path, files)
    result = cli("attach", "--bag", folder, record.id)
    assert result.exit_code == 0, result.output
    assert "Verified 2 files (sha256, sha512)" in result.output
    fresh = Record.get_record(record.id)
    assert sorted(item.key for item in fresh.files) == sorted(files)
    for key, data in files.items():
        instance = fresh.files[key].obj.file
        kept = stored_checksums(instance)
        assert kept["md5"] == hashlib.md5(data).hexdigest()
        if hasattr(checksums, "checksums_by_file"):
            # The bag's own checksums are kept beside the MD5.
            assert kept["sha256"] == hashlib.sha256(data).hexdigest()
            assert kept["sha512"] == hashlib.sha512(data).hexdigest()
    # Again: nothing new to store.
    again = cli("attach", "--bag", folder, record.id)
    assert again.exit_code == 0 and "skipped 2 already attached" in again.output


def test_one_wrong_checksum_attaches_nothing(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    files = {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"}
    folder = make_bag(tmp_path, files)
    (folder / "data" / "b.txt").write_bytes(b"B")
    result = cli("attach", "--bag", folder, record.id)
    assert result.exit_code == 1
    assert "wrong sha256, sha512 checksum: data/b.txt" in result.output
    assert "nothing attached" in result.output
    assert record_keys(record.id) == []


def test_a_missing_file_attaches_nothing(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    folder = make_bag(tmp_path, {"a.txt": b"a", "b.txt": b"b"})
    (folder / "data" / "a.txt").unlink()
    (folder / "data" / "extra.txt").write_bytes(b"x")
    result = cli("attach", "--bag", folder, record.id)
    assert result.exit_code == 1
    assert "missing file: data/a.txt" in result.output
    assert "in no manifest: data/extra.txt" in result.output
    assert record_keys(record.id) == []


def test_wrong_oxum_and_tag_manifest(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    folder = make_bag(tmp_path, {"a.txt": b"a"})
    info = (folder / "bag-info.txt").read_text()
    (folder / "bag-info.txt").write_text(
        info.replace("Payload-Oxum: 1.1", "Payload-Oxum: 2.1")
    )
    result = cli("attach", "--bag", folder, record.id)
    assert result.exit_code == 1
    assert "Payload-Oxum 2.1 but the payload is 1.1" in result.output
    assert "wrong sha256 checksum: bag-info.txt" in result.output
    assert record_keys(record.id) == []


def test_attach_a_zip_bag_round_trip(
    client: IsolatedClient, cli: Callable[..., Result], db: SQLAlchemy, tmp_path: Path
) -> None:
    """The bag of one record, as downloaded, becomes the files of another."""
    files = {"z.txt": b"last", "100%.txt": b"percent", "a/b.bin": os.urandom(70000)}
    pid = make_record(client, files)
    path = tmp_path / "download.zip"
    path.write_bytes(bag_of(client, pid).data)
    target = create_record(client)
    result = cli("attach", "--bag", path, "recid:{0}".format(target))
    assert result.exit_code == 0, result.output
    copy = stored_record(target)
    # The record's order, kept by the bag's manifest.
    assert [item.key for item in copy.files] == list(files)
    for key, data in files.items():
        with copy.files[key].obj.file.storage().open() as stream_:
            assert stream_.read() == data


def test_percent_encoded_names_in_a_folder_bag(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    folder = tmp_path / "hand"
    (folder / "data").mkdir(parents=True)
    names = {"100%.txt": b"x", "%41.txt": b"y"}
    lines: list[str] = []
    for name, data in names.items():
        (folder / "data" / name).write_bytes(data)
        lines.append(
            "{0}  data/{1}\n".format(
                hashlib.md5(data).hexdigest(), bags.encode_path(name)
            )
        )
    (folder / "bagit.txt").write_bytes(bags.BAGIT_TXT)
    (folder / "manifest-md5.txt").write_text("".join(lines))
    result = cli("attach", "--bag", folder, record.id)
    assert result.exit_code == 0, result.output
    assert record_keys(record.id) == list(names)
    # A tool that does not encode % (bagit-python) lists a file named
    # %25.txt as data/%25.txt: read as RFC 8493 says, that is %.txt.
    (folder / "data" / "100%.txt").rename(folder / "data" / "%25.txt")
    lines[0] = "{0}  data/%25.txt\n".format(hashlib.md5(b"x").hexdigest())
    (folder / "manifest-md5.txt").write_text("".join(lines))
    other = Record.create({})
    db.session.commit()
    refused = cli("attach", "--bag", folder, other.id)
    assert refused.exit_code == 1
    assert "missing file: data/%.txt" in refused.output
    assert "in no manifest: data/%25.txt" in refused.output


def test_zip_without_a_bag_and_usage(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("a/x.txt", b"x")
        zipped.writestr("b/y.txt", b"y")
    result = cli("attach", "--bag", path, record.id)
    assert result.exit_code == 1 and "no bagit.txt" in result.output
    both = cli("attach", "--bag", path, record.id, path)
    assert both.exit_code == 2 and "not both" in both.output
    with pytest.raises(InvalidBagError):
        bag_sources.open_bag(str(tmp_path / "nowhere"))


def test_a_bag_changed_after_verifying_undoes_its_batch(
    record: BucketRecord,
    db: SQLAlchemy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from invenio_records_files_ext.errors import AttachStoppedError

    folder = make_bag(tmp_path, {"a.txt": b"a"}, checksums=("md5",))
    real = bag_verify.verify_bag

    def verify_then_change(
        source: BagSource, advance: Advance = lambda _: None
    ) -> VerifiedBag:
        verified = real(source, advance)
        (folder / "data" / "a.txt").write_bytes(b"b")
        return verified

    monkeypatch.setattr(bag_ingest, "verify_bag", verify_then_change)
    with pytest.raises(AttachStoppedError) as stopped:
        bag_ingest.ingest_bag(record.id, str(folder))
    assert "data/a.txt" in stopped.value.message
    assert record_keys(record.id) == []
    shutil.rmtree(folder)


def test_ingest_a_bag_into_s3(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, tmp_path: Path
) -> None:
    files = {"a.bin": os.urandom(300 * 1024), "b.txt": b"bee"}
    pid = make_record(s3_client, files)
    path = tmp_path / "download.zip"
    path.write_bytes(bag_of(s3_client, pid).data)
    target = stored_record(create_record(s3_client))
    done = bag_ingest.ingest_bag(target.id, str(path))
    assert done.attached.attached == 2 and done.algorithms == ["md5"]
    copy = Record.get_record(target.id)
    assert [item.key for item in copy.files] == list(files)
    for key, data in files.items():
        instance = copy.files[key].obj.file
        assert instance.uri.startswith("s3://")
        assert stored_checksums(instance)["md5"] == hashlib.md5(data).hexdigest()


#
# Through gunicorn
#
@pytest.fixture(scope="module")
def gunicorn(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    from tests.servers import Server

    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "gunicorn-bags"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env)
    yield running
    running.stop()


@pytest.mark.gunicorn
def test_bag_through_gunicorn(
    gunicorn: Server, location: Location, tmp_path: Path
) -> None:
    import requests

    created = requests.post(gunicorn.url + "/records/", json={"title": "served"})
    assert created.status_code == 201, created.text
    base = "{0}/records/{1}".format(gunicorn.url, created.json()["id"])
    files = {"big.bin": os.urandom(3 * 1024 * 1024 + 5), "small.txt": b"s"}
    for key, data in files.items():
        sent = requests.put(
            base + "/files/" + key,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert sent.status_code == 200, gunicorn.logs()[-2000:]
    path = tmp_path / "served.zip"
    with requests.get(base + "/files-archive?format=bagit", stream=True) as response:
        assert response.status_code == 200
        with open(path, "wb") as out:
            for chunk in response.iter_content(1 << 16):
                out.write(chunk)
    bag = validate_with_bagit(unzipped(path.read_bytes(), tmp_path))
    assert sorted(bag.payload_files()) == ["data/big.bin", "data/small.txt"]
