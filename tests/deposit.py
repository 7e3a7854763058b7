"""What the page tests share: what the database holds, what the page shows.

The fixtures (the demo under gunicorn, headless Chromium) are in
``conftest.py``; :mod:`tests.browser` starts and drives the browser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import requests
from invenio_db import db as db_
from invenio_files_rest.models import (
    Bucket,
    BucketTag,
    FileInstance,
    MultipartObject,
    ObjectVersion,
    Part,
)
from invenio_pidstore.models import PersistentIdentifier
from invenio_records.models import RecordMetadata
from sqlalchemy import func, select

from invenio_records_files_ext.models import FileEntry, RecordsBuckets
from tests import browser as chromium

MIB = 1024 * 1024


#
# What the database and the bucket hold
#
@dataclass
class StoredFile:
    """One file of a record as the database and the storage hold it."""

    key: str
    file_id: str
    size: int
    checksum: str
    metadata: dict[str, Any]
    on_disk: bytes


@dataclass
class Stored:
    """A record as the database holds it."""

    pid_status: str
    json: Optional[dict[str, Any]]
    bucket: Bucket
    files: list[StoredFile]
    uploads: list[MultipartObject]
    tags: dict[str, str]

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]


def stored(pid_value: str) -> Stored:
    """Read a record, its bucket, rows, uploads and bytes as committed now."""
    session = db_.session
    session.rollback()
    session.expire_all()
    pid = PersistentIdentifier.get("recid", pid_value)
    model = session.get(RecordMetadata, pid.object_uuid)
    bucket_id = session.execute(
        select(RecordsBuckets.bucket_id).where(RecordsBuckets.record_id == model.id)
    ).scalar_one()
    bucket = session.get(Bucket, bucket_id)
    rows = session.execute(
        select(FileEntry, FileInstance)
        .join(ObjectVersion, ObjectVersion.version_id == FileEntry.version_id)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .where(FileEntry.bucket_id == bucket_id)
        .order_by(FileEntry.position, FileEntry.key)
    ).all()
    files = []
    for entry, instance in rows:
        with open(instance.uri, "rb") as fp:
            on_disk = fp.read()
        files.append(
            StoredFile(
                entry.key,
                str(instance.id),
                instance.size,
                instance.checksum,
                dict(entry.json),
                on_disk,
            )
        )
    uploads = list(
        session.execute(
            select(MultipartObject).where(MultipartObject.bucket_id == bucket_id)
        ).scalars()
    )
    tags = {
        tag.key: tag.value for tag in BucketTag.query.filter_by(bucket_id=bucket_id)
    }
    return Stored(pid.status.value, model.json, bucket, files, uploads, tags)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def assert_files(state: Stored, expected: list[tuple[str, bytes]]) -> None:
    """The record holds these files, in this order, with these bytes stored."""
    assert state.keys == [key for key, _ in expected]
    for stored_file, (key, data) in zip(state.files, expected):
        assert stored_file.size == len(data), key
        assert stored_file.checksum == md5(data), key
        assert stored_file.on_disk == data, key


def part_count(state: Stored) -> int:
    ids = [upload.upload_id for upload in state.uploads]
    if not ids:
        return 0
    count: int = db_.session.execute(
        select(func.count()).select_from(Part).where(Part.upload_id.in_(ids))
    ).scalar_one()
    return count


#
# What the page shows
#
def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> Any:
    """The elements ``selector`` finds (a list of Selenium elements)."""
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def click(driver: Any, selector: str) -> None:
    """Click the element ``selector`` finds, again if the page redrew it meanwhile."""

    def attempt() -> bool:
        by_css(driver, selector).click()
        return True

    chromium.wait_for(attempt, timeout=10, what="a click on " + selector)


def page_keys(driver: Any) -> list[str]:
    """The keys of the files the page lists, in its order (one round trip)."""
    return list(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#file-list > li'),"
            " (item) => item.dataset.key);"
        )
    )


def wait_for_keys(driver: Any, keys: list[str]) -> None:
    chromium.wait_for(lambda: page_keys(driver) == keys, what="files {0}".format(keys))


def heading(driver: Any) -> str:
    text: str = by_css(driver, "#record-heading").text
    return text


def active(driver: Any) -> dict[str, Any]:
    """Describe the element that has the keyboard focus."""
    described: dict[str, Any] = driver.execute_script(
        "const e = document.activeElement;"
        "return {id: e.id, tag: e.tagName, key: e.dataset.key || null,"
        " action: e.dataset.action || null, text: e.textContent};"
    )
    return described


def press(driver: Any, *keys: str) -> None:
    """Press keys as the keyboard does (on whatever has the focus)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def tab_to(
    driver: Any, matches: Callable[[dict[str, Any]], bool], limit: int = 40
) -> None:
    """Press Tab until ``matches(active element)``; fail if it never gets there."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        press(driver, Keys.TAB)
        if matches(active(driver)):
            return
    raise AssertionError(
        "Tab never reached the control; last: {0}".format(active(driver))
    )


def console_errors(driver: Any, also: tuple[str, ...] = ()) -> list[str]:
    """Return the page's console errors, less the failures the test caused.

    :param also: more parts of messages the test expects (``"status of
        400"``: the answers it provoked).
    """
    expected = ("ERR_BLOCKED_BY_CLIENT", "410 (GONE)", "410 (Gone)") + also
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not any(e in entry["message"] for e in expected)
    ]


def create_with_files(demo: str, title: str, files: dict[str, bytes]) -> str:
    """Create a record through REST and upload files to it; return its PID."""
    created = requests.post(demo + "/records/", json={"title": title})
    assert created.status_code == 201, created.text
    pid: str = created.json()["id"]
    for key, body in files.items():
        uploaded = requests.put(
            "{0}/records/{1}/files/{2}".format(demo, pid, key), data=body
        )
        assert uploaded.status_code == 200, uploaded.text
    return pid
