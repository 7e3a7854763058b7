"""The deposit page where a newcomer could fall: hostile keys, failures, sizes.

Driven in headless Chromium against the demo under gunicorn, as
``tests/test_deposit_page.py`` is: file names that try to climb out of the
record (``../x``, ``a/../../b``), a file whose size is an exact multiple of
the part size, a cancel (the quota box follows), failures that retrying
cannot mend (no Retry), the error box (gone at the next action, never in
the way of a click), the question before deleting a record, a 420 px wide
window (nothing wider than it), and a record of 10,000 files (the list
pages, as the REST listing does).
"""

from __future__ import annotations

import random
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
import requests
from invenio_db import db as db_
from invenio_files_rest.models import Bucket
from invenio_pidstore.models import PersistentIdentifier

from invenio_records_files_ext.api import Record
from tests import browser as chromium
from tests.deposit import (
    MIB,
    active,
    all_css,
    assert_files,
    by_css,
    click,
    console_errors,
    create_with_files,
    heading,
    page_keys,
    press,
    stored,
    wait_for_keys,
)

pytestmark = [pytest.mark.gunicorn, pytest.mark.browser]

PART_SIZE = 5 * MIB
"""The page's part size (``examples/page/uploads.js``)."""


def open_record(driver: Any, page_url: str, pid: str, title: str) -> None:
    # A fresh page: going to the same URL with a fragment would not load it.
    driver.get("about:blank")
    driver.get("{0}/#/records/{1}".format(page_url, pid))
    chromium.wait_for(
        lambda: heading(driver) == "Record {0}: {1}".format(pid, title),
        what="record " + pid,
    )


def uploads(driver: Any, state: str) -> list[Any]:
    found: list[Any] = all_css(driver, "#uploads .upload-{0}".format(state))
    return found


def upload_of(driver: Any, key: str) -> Any:
    for item in all_css(driver, "#uploads .upload"):
        if by_css(item, ".upload-name").get_attribute("textContent") == key:
            return item
    raise AssertionError("no upload of {0!r}".format(key))


def text_of(element: Any) -> str:
    """The element's text, shown or not (Selenium's ``.text`` is "" when hidden)."""
    text: str = element.get_attribute("textContent")
    return text


def shown(element: Any, selector: str) -> bool:
    displayed: bool = by_css(element, selector).is_displayed()
    return displayed


def toast_shown(driver: Any) -> bool:
    displayed: bool = by_css(driver, "#alert").is_displayed()
    return displayed


#
# Keys that climb
#
CLIMBING = (
    "../x",
    "a/../../b",
    "../../{victim}/files/evil.txt",
    "./y",
    "a/./b",
    "a//b",
    "/lead.txt",
    "trail/",
)
"""Keys the page refuses before sending anything."""

ODD_BUT_FINE = ("sub/ok.txt", "%2e%2e", "q?x#y.txt", "50%.txt", "dot..dot")
"""Keys that look odd and are files' names all the same."""


def test_keys_that_climb_never_leave_the_record(page_url: str, driver: Any) -> None:
    victim = create_with_files(page_url, "Victim", {"kept.txt": b"kept"})
    target = create_with_files(page_url, "Target", {})
    open_record(driver, page_url, target, "Target")
    climbing = [key.format(victim=victim) for key in CLIMBING]
    names = {key: "evil" for key in climbing}
    names.update({key: "fine " + key for key in ODD_BUT_FINE})
    chromium.drop_named_files(driver, by_css(driver, "#drop-zone"), names)
    chromium.wait_for(
        lambda: (
            len(uploads(driver, "done")) == len(ODD_BUT_FINE)
            and len(uploads(driver, "failed")) == len(climbing)
        ),
        what="the odd keys uploaded, the climbing ones refused",
    )
    for key in climbing:
        item = upload_of(driver, key)
        assert "path segment" in item.text, item.text
        assert "Retrying would not help." in item.text
        assert not shown(item, ".retry") and not shown(item, ".cancel")

    # Nothing reached another record; the odd keys are stored as named.
    assert stored(victim).keys == ["kept.txt"]
    target_state = stored(target)
    assert sorted(target_state.keys) == sorted(ODD_BUT_FINE)
    for stored_file in target_state.files:
        assert stored_file.on_disk == ("fine " + stored_file.key).encode()
    for url in chromium.requested_urls(driver):
        path = urlparse(url).path
        assert "evil" not in url and "/x" != path[-2:], url
        if path.startswith("/records/") and "/files" in path:
            assert path.startswith("/records/{0}/files".format(target)), url

    # The page's URL builder, on keys of every kind: a key is a path under
    # the record's files and nothing else; a dot segment is refused.
    found = driver.execute_async_script(
        "const [keys, done] = [arguments[0], arguments[arguments.length - 1]];"
        "import('/page/api.js').then((api) => done(keys.map((key) => {"
        "  try { return new URL(api.fileUrl('/records/7/files', key),"
        "    location.href).pathname; }"
        "  catch (error) { return {refused: error.message,"
        "    retryable: error.retryable}; }"
        "})));",
        climbing + list(ODD_BUT_FINE) + ["%2E%2E/x", "a\\..\\b", "é/ü.txt"],
    )
    for key, answer in zip(climbing, found):
        assert isinstance(answer, dict) and answer["retryable"] is False, (key, answer)
    for key, path in zip(
        list(ODD_BUT_FINE) + ["%2E%2E/x", "a\\..\\b", "é/ü.txt"],
        found[len(climbing) :],
    ):
        assert path.startswith("/records/7/files/"), (key, path)
        segments = path[len("/records/7/files/") :].split("/")
        assert [unquote(s) for s in segments] == key.split("/"), (key, path)


def test_renaming_to_a_climbing_key_is_refused(page_url: str, driver: Any) -> None:
    pid = create_with_files(page_url, "Rename", {"a.txt": b"a"})
    open_record(driver, page_url, pid, "Rename")
    sent_before = len(chromium.requested_urls(driver))
    by_css(driver, '[data-key="a.txt"][data-action="edit"]').click()
    name = chromium.wait_for(lambda: by_css(driver, ".file-edit input[name=key]"))
    name.clear()
    name.send_keys("../../a.txt")
    by_css(driver, ".file-edit button[type=submit]").click()
    chromium.wait_for(lambda: toast_shown(driver), what="the error")
    assert "path segment" in by_css(driver, "#alert").text
    assert not any(
        "/demo/records/" in url for url in chromium.requested_urls(driver)[sent_before:]
    )
    assert stored(pid).keys == ["a.txt"]


#
# Sizes: an exact multiple of the part size
#
def test_a_file_of_exactly_one_part_goes_in_one_request(
    page_url: str, driver: Any, tmp_path: Path
) -> None:
    data = random.Random(5).randbytes(PART_SIZE)
    (tmp_path / "five.bin").write_bytes(data)
    pid = create_with_files(page_url, "Five", {})
    open_record(driver, page_url, pid, "Five")
    by_css(driver, "#file-input").send_keys(str(tmp_path / "five.bin"))
    chromium.wait_for(lambda: uploads(driver, "done"), what="the upload")
    assert "parts" not in uploads(driver, "done")[0].text
    assert_files(stored(pid), [("five.bin", data)])
    assert not any("uploadId" in url for url in chromium.requested_urls(driver))


def test_a_multiple_of_the_part_size_goes_in_whole_parts(
    page_url: str, driver: Any, tmp_path: Path
) -> None:
    data = random.Random(10).randbytes(2 * PART_SIZE)
    (tmp_path / "ten.bin").write_bytes(data)
    pid = create_with_files(page_url, "Ten", {})
    open_record(driver, page_url, pid, "Ten")
    by_css(driver, "#file-input").send_keys(str(tmp_path / "ten.bin"))
    item = chromium.wait_for(
        lambda: uploads(driver, "done") or uploads(driver, "failed"),
        what="the upload's end",
    )[0]
    assert "upload-done" in item.get_attribute("class"), item.text
    assert "2 of 2 parts sent" in item.text
    assert_files(stored(pid), [("ten.bin", data)])
    parts = [
        url.split("partNumber=")[1]
        for url in chromium.requested_urls(driver)
        if "partNumber=" in url
    ]
    assert sorted(parts) == ["0", "1"], parts


#
# Failures: what is counted, what is offered
#
def quota_text(driver: Any) -> str:
    text: str = by_css(driver, "#quota-text").text
    return text


def test_cancel_refreshes_the_quota_and_rejected_parts_do_not_count(
    page_url: str, driver: Any, tmp_path: Path
) -> None:
    data = random.Random(12).randbytes(12 * MIB)
    (tmp_path / "big.bin").write_bytes(data)
    pid = create_with_files(page_url, "Quota", {"small.txt": b"s" * 100})
    open_record(driver, page_url, pid, "Quota")
    assert quota_text(driver).startswith("100 bytes used")

    # Part 1 never gets an answer: a failure Retry may mend.
    chromium.block_requests(driver, ["*partNumber=1*"])
    by_css(driver, "#file-input").send_keys(str(tmp_path / "big.bin"))
    item = chromium.wait_for(lambda: uploads(driver, "failed"), what="a failure")[0]
    assert "5.0 MiB of 12 MiB (41 %), 1 of 3 parts sent" in item.text, item.text
    assert shown(item, ".retry") and shown(item, ".cancel")
    assert int(by_css(item, "progress").get_attribute("value")) == PART_SIZE
    # The upload in progress reserves its whole size in the quota.
    chromium.wait_for(
        lambda: quota_text(driver).startswith("12 MiB used"), what="the reservation"
    )

    chromium.block_requests(driver, [])
    by_css(item, ".cancel").click()
    chromium.wait_for(lambda: uploads(driver, "cancelled"), what="the cancel")
    chromium.wait_for(
        lambda: quota_text(driver).startswith("100 bytes used"),
        what="the quota box after the cancel",
    )
    assert stored(pid).uploads == []
    assert stored(pid).bucket.size == 100

    # The record is locked while part 0 is on its way: the server refuses
    # part 1, whose bytes the browser was sending. They do not count.
    chromium.throttle_uploads(driver, bytes_per_second=2 * MIB)
    by_css(driver, "#file-input").send_keys(str(tmp_path / "big.bin"))
    bar = chromium.wait_for(
        lambda: by_css(driver, "#uploads .upload-uploading progress"),
        what="the upload under way",
    )
    driver.execute_script(
        "const bar = arguments[0]; window.rfxMaxSent = 0;"
        "new MutationObserver(() => { window.rfxMaxSent ="
        "  Math.max(window.rfxMaxSent, Number(bar.getAttribute('value'))); })"
        ".observe(bar, {attributes: true, attributeFilter: ['value']});",
        bar,
    )
    # Part 0's request has reached the server (its permission is checked
    # first): lock the record while it is on its way. Locking aborts the
    # upload (issue 18, finding 10): part 0 is refused as "locked" too, and
    # the upload's reservation goes at once.
    chromium.wait_for(
        lambda: driver.execute_script("return window.rfxMaxSent;") > MIB,
        what="part 0 under way",
    )
    assert requests.put("{0}/demo/records/{1}/lock".format(page_url, pid)).ok
    assert stored(pid).uploads == []
    assert stored(pid).bucket.size == 100
    item = chromium.wait_for(lambda: uploads(driver, "failed"), what="the refusal")[0]
    chromium.throttle_uploads(driver, None)
    status = text_of(by_css(item, ".upload-status"))
    assert "0 of 3 parts sent" in status, status
    assert "locked" in status and "Retrying would not help." in status
    assert int(by_css(item, "progress").get_attribute("value")) == 0
    # While part 0 was on its way its first bytes showed; no longer.
    assert driver.execute_script("return window.rfxMaxSent;") > MIB
    assert console_errors(driver, also=("status of 403",)) == []


def test_failures_that_cannot_pass_offer_no_retry(page_url: str, driver: Any) -> None:
    pid = create_with_files(page_url, "Permanent", {})
    record_id = PersistentIdentifier.get("recid", pid).object_uuid
    bucket = Record.get_record(record_id).bucket
    db_.session.get(Bucket, bucket.id).quota_size = 1000
    db_.session.commit()
    open_record(driver, page_url, pid, "Permanent")

    chromium.block_requests(driver, ["*transient.txt*"])
    permanent = {
        "empty.txt": "",  # the server wants at least one byte
        "../bad.txt": "x",  # refused before sending
        "back\\slash.txt": "x",  # the server refuses the key
        "quota.txt": "q" * 2000,  # over the bucket's quota
    }
    chromium.drop_named_files(
        driver, by_css(driver, "#drop-zone"), {**permanent, "transient.txt": "t"}
    )
    chromium.wait_for(lambda: len(uploads(driver, "failed")) == 5, what="five failures")
    for key in permanent:
        item = upload_of(driver, key)
        assert not shown(item, ".retry"), key
        assert not shown(item, ".cancel"), key
        status = text_of(by_css(item, ".upload-status"))
        assert "Retrying would not help." in status, (key, status)
        # Nothing was acknowledged: the bar is empty, whatever was sent.
        assert int(by_css(item, "progress").get_attribute("value")) == 0, key
        assert status.startswith("Failed: 0 bytes of"), status
    assert "(0 %)" in upload_of(driver, "quota.txt").text
    assert "Bucket quota exceeded." in upload_of(driver, "quota.txt").text
    transient = upload_of(driver, "transient.txt")
    assert shown(transient, ".retry") and shown(transient, ".cancel")
    assert "Retrying would not help." not in transient.text

    # The failures for good are finished: cleared with the others.
    by_css(driver, "#clear-uploads").click()
    assert [
        text_of(by_css(i, ".upload-name")) for i in all_css(driver, "#uploads li")
    ] == ["transient.txt"]
    assert stored(pid).keys == []
    assert console_errors(driver, also=("status of 400",)) == []


#
# The error box
#
def element_at(driver: Any, element: Any) -> dict[str, Any]:
    """What a click at the element's centre lands on."""
    landed: dict[str, Any] = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
        "return {inAlert: Boolean(hit && hit.closest('#alert')),"
        " id: hit ? hit.id : null};",
        element,
    )
    return landed


def provoke_error(driver: Any) -> None:
    by_css(driver, '[data-key="a.txt"][data-action="edit"]').click()
    name = chromium.wait_for(lambda: by_css(driver, ".file-edit input[name=key]"))
    name.clear()
    name.send_keys("a//b")
    by_css(driver, ".file-edit button[type=submit]").click()
    chromium.wait_for(lambda: toast_shown(driver), what="the error box")


def test_the_error_box_goes_at_the_next_action_and_never_blocks_a_click(
    page_url: str, driver: Any
) -> None:
    from selenium.webdriver.common.keys import Keys

    pid = create_with_files(page_url, "Errors", {"a.txt": b"a", "b.txt": b"b"})
    open_record(driver, page_url, pid, "Errors")
    provoke_error(driver)
    box = by_css(driver, "#alert")
    assert "empty path segment" in box.text
    # A click where the box is lands on the page below it; only its Close
    # button takes clicks.
    assert element_at(driver, by_css(driver, "#alert-text"))["inAlert"] is False
    assert element_at(driver, by_css(driver, "#alert-close"))["id"] == "alert-close"
    for button in all_css(driver, "button"):
        if button.is_displayed() and button.get_attribute("id") != "alert-close":
            assert element_at(driver, button)["inAlert"] is False, button.text

    # The next action (here: closing the form with its Cancel button) makes
    # it go at once.
    by_css(driver, ".file-edit button[type=button]").click()
    assert not toast_shown(driver)
    assert not all_css(driver, ".file-edit")

    # A key does too, and so does its Close button.
    provoke_error(driver)
    press(driver, Keys.ESCAPE)
    assert not toast_shown(driver)
    provoke_error(driver)
    by_css(driver, "#alert-close").click()
    assert not toast_shown(driver)
    assert stored(pid).keys == ["a.txt", "b.txt"]


def test_deleting_a_record_asks_first(page_url: str, driver: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    pid = create_with_files(page_url, "Ask", {"a.txt": b"a"})
    open_record(driver, page_url, pid, "Ask")
    delete = by_css(driver, "#delete-record")
    delete.click()
    question = by_css(driver, "#delete-confirm")
    assert question.is_displayed()
    assert "Delete record {0}?".format(pid) in question.text
    assert delete.get_attribute("aria-expanded") == "true"
    assert active(driver)["id"] == "keep-record"
    by_css(driver, "#keep-record").click()
    assert not question.is_displayed()
    assert active(driver)["id"] == "delete-record"
    delete.click()
    press(driver, Keys.ESCAPE)
    assert not question.is_displayed()
    assert requests.get("{0}/records/{1}".format(page_url, pid)).status_code == 200
    assert stored(pid).pid_status == "R"

    delete.click()
    by_css(driver, "#confirm-delete").click()
    chromium.wait_for(
        lambda: by_css(driver, "#record-gone").is_displayed(), what="the 410 notice"
    )
    assert stored(pid).pid_status == "D"


#
# A narrow window
#
NARROW = 420


def overflowing(driver: Any) -> list[str]:
    """Elements reaching beyond the viewport's width, and the page's own width."""
    found: list[str] = driver.execute_script(
        "const width = document.documentElement.clientWidth;"
        "const found = [];"
        "if (document.documentElement.scrollWidth > width) {"
        "  found.push('page: ' + document.documentElement.scrollWidth + ' > ' + width);"
        "}"
        "for (const e of document.querySelectorAll('body *')) {"
        "  const r = e.getBoundingClientRect();"
        "  if (r.width && (r.right > width + 0.5 || r.left < -0.5)"
        "      && !e.closest('.visually-hidden, .skip-link')) {"
        "    found.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className"
        "      + ' ' + Math.round(r.left) + '..' + Math.round(r.right));"
        "  }"
        "}"
        "return found;"
    )
    return found


def test_nothing_is_wider_than_a_narrow_window(page_url: str, driver: Any) -> None:
    long_key = "survey-" + "measurements" * 8 + "/" + "x" * 90 + ".csv"
    title = "A-title-without-a-single-space-" + "long" * 20
    pid = create_with_files(page_url, title, {long_key: b"a,b\n", "notes.txt": b"n"})
    driver.set_window_size(NARROW, 900)
    assert driver.execute_script("return window.innerWidth;") <= NARROW
    driver.get(page_url + "/")
    chromium.wait_for(lambda: all_css(driver, "#record-list a"), what="the list")
    assert overflowing(driver) == []
    open_record(driver, page_url, pid, title)
    assert overflowing(driver) == []

    chromium.block_requests(driver, ["*never*"])
    chromium.drop_named_files(
        driver, by_css(driver, "#drop-zone"), {"never-" + "n" * 120 + ".txt": "n"}
    )
    chromium.wait_for(lambda: uploads(driver, "failed"), what="a failed upload")
    click(driver, '[data-key="notes.txt"][data-action="edit"]')
    chromium.wait_for(lambda: all_css(driver, ".file-edit"), what="the form")
    by_css(driver, "#delete-record").click()
    by_css(driver, "details.raw summary").click()
    assert overflowing(driver) == []
    provoke_long = "//" + "z" * 150
    name = by_css(driver, ".file-edit input[name=key]")
    name.clear()
    name.send_keys(provoke_long)
    by_css(driver, ".file-edit button[type=submit]").click()
    chromium.wait_for(lambda: toast_shown(driver), what="the error box")
    assert overflowing(driver) == []
    chromium.Run("Narrow window").screenshot(driver, "deposit-7-narrow", width=NARROW)


#
# A record of 10,000 files
#
MANY = 10000


def test_a_record_of_ten_thousand_files_pages(page_url: str, driver: Any) -> None:
    run = chromium.Run("A record of {0} files".format(MANY))
    chromium.RUNS.append(run)
    pid = create_with_files(page_url, "Many", {})
    record_id = PersistentIdentifier.get("recid", pid).object_uuid
    with run.step("attach {0} files (bulk, in the test)".format(MANY)):
        record = Record.get_record(record_id)
        record.files.update(
            ("f{0:05d}.txt".format(n), BytesIO(b"%d" % n)) for n in range(MANY)
        )
        db_.session.commit()
    keys = ["f{0:05d}.txt".format(n) for n in range(MANY)]

    with run.step("open the record (the first 100 files)"):
        open_record(driver, page_url, pid, "Many")
        wait_for_keys(driver, keys[:100])
    assert "count\n{0}".format(MANY) in by_css(driver, "#summary").text
    assert by_css(driver, "#files-shown").text == (
        "Showing the first 100 of {0} files.".format(MANY)
    )
    assert "_files" not in driver.execute_script(
        "return JSON.parse(document.getElementById('record-json').textContent)"
        ".metadata;"
    )

    with run.step("show 100 more"):
        by_css(driver, "#more-files").click()
        wait_for_keys(driver, keys[:200])
    assert active(driver)["text"] == keys[100]
    assert "first 200 of" in by_css(driver, "#files-shown").text

    with run.step("move the 151st file up (the 200 shown stay)"):
        by_css(driver, '[data-key="{0}"][data-action="up"]'.format(keys[150])).click()
        expected = keys[:149] + [keys[150], keys[149]] + keys[151:200]
        wait_for_keys(driver, expected)
    order = stored(pid).keys
    assert order[:200] == expected and order[200:] == keys[200:]

    with run.step("delete the first file (the next one comes into view)"):
        by_css(driver, '[data-key="{0}"][data-action="delete"]'.format(keys[0])).click()
        wait_for_keys(driver, expected[1:] + [keys[200]])
    assert "count\n{0}".format(MANY - 1) in by_css(driver, "#summary").text
    assert page_keys(driver)[0] == keys[1]
    chromium.wait_for(
        lambda: "{0} files".format(MANY - 1) in by_css(driver, "#record-list").text,
        what="the records' list after the delete",
    )
    run.screenshot(driver, "deposit-8-many-files")
    assert console_errors(driver) == []
