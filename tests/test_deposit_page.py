"""The demo's deposit page, driven in headless Chromium against gunicorn.

One run goes through what a depositor does (create a record, upload three
files, one of them of 12 MiB through a multipart upload that fails once
and is retried, reorder, rename, describe, delete, lock, new version,
delete and restore the record) and checks after each step what the
database and the bucket hold. Another checks the page's accessibility
with axe-core and the keyboard. Screenshots go to ``build/screenshots``
(or ``RFX_SCREENSHOTS``); the step timings are printed at the end of the
run. Without Chromium the tests skip, saying why.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from invenio_db import db as db_
from invenio_files_rest.models import FileInstance, Location, ObjectVersion

from invenio_records_files_ext.records.lifecycle import TOMBSTONE_TAG
from tests import browser as chromium
from tests.deposit import (
    MIB,
    active,
    all_css,
    assert_files,
    by_css,
    console_errors,
    create_with_files,
    heading,
    part_count,
    press,
    stored,
    tab_to,
    wait_for_keys,
)
from tests.helpers import storage_files

pytestmark = [pytest.mark.gunicorn, pytest.mark.browser]

TITLE = "Measurements of the spring campaign"


def local_files(folder: Path) -> dict[str, bytes]:
    """Write the three files the run uploads; return their bytes by name."""
    generator = random.Random(2026)
    files = {
        "notes.txt": b"Calibration notes\nSensor 4 was replaced on day 3.\n",
        "table.csv": b"day,temperature\n1,12.5\n2,13.1\n3,11.8\n",
        "big.bin": generator.randbytes(12 * MIB),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_deposit_in_chromium(
    page_url: str, driver: Any, location: Location, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    data = local_files(tmp_path)
    run = chromium.Run(
        "Deposit run: record, three uploads (12 MiB multipart), life cycle"
    )
    chromium.RUNS.append(run)

    with run.step("open the page (no records)"):
        driver.get(page_url + "/")
        chromium.wait_for(
            lambda: "No records yet" in by_css(driver, "#records-status").text,
            what="the empty list",
        )

    with run.step("create a record with the keyboard only"):
        tab_to(driver, lambda e: e["id"] == "new-title")
        press(driver, TITLE, Keys.ENTER)
        chromium.wait_for(
            lambda: heading(driver) == "Record 1: " + TITLE, what="record 1"
        )
        state = stored("1")
        assert state.pid_status == "R"
        assert state.json is not None
        assert state.json["title"] == TITLE
        assert state.files == [] and state.bucket.size == 0
        assert not state.bucket.locked
        assert [a.text for a in all_css(driver, "#record-list a")] == [TITLE]

    with run.step("upload 2 files (picker) + 12 MiB (drop); part 1 fails"):
        chromium.block_requests(driver, ["*partNumber=1*"])
        by_css(driver, "#file-input").send_keys(
            "\n".join(str(tmp_path / name) for name in ("notes.txt", "table.csv"))
        )
        chromium.drop_files(
            driver, by_css(driver, "#drop-zone"), [str(tmp_path / "big.bin")]
        )
        chromium.wait_for(
            lambda: (
                len(all_css(driver, "#uploads .upload-done")) == 2
                and all_css(driver, "#uploads .upload-failed")
            ),
            what="two uploads done and one failed",
        )
        failed = by_css(driver, "#uploads .upload-failed")
        assert "big.bin" in failed.text and "1 of 3 parts sent" in failed.text
        wait_for_keys(driver, ["notes.txt", "table.csv"])
        state = stored("1")
        assert_files(
            state, [("notes.txt", data["notes.txt"]), ("table.csv", data["table.csv"])]
        )
        # The multipart upload is still there with its first part, its
        # size reserved in the bucket until it completes or is aborted.
        assert [u.key for u in state.uploads] == ["big.bin"]
        assert part_count(state) == 1
        assert state.bucket.size == sum(len(d) for d in data.values())
    run.screenshot(driver, "deposit-1-upload-failed")

    with run.step("retry the failed upload (sends the 2 missing parts)"):
        chromium.block_requests(driver, [])
        retry = by_css(driver, "#uploads .upload-failed .retry")
        retry.send_keys(Keys.ENTER)
        chromium.wait_for(
            lambda: len(all_css(driver, "#uploads .upload-done")) == 3, what="retry"
        )
        wait_for_keys(driver, ["notes.txt", "table.csv", "big.bin"])
        state = stored("1")
        assert_files(
            state,
            [(name, data[name]) for name in ("notes.txt", "table.csv", "big.bin")],
        )
        assert state.uploads == []
        assert state.bucket.size == sum(len(d) for d in data.values())
        urls = chromium.requested_urls(driver)
        parts = [u.split("partNumber=")[1] for u in urls if "partNumber=" in u]
        # Part 0 went once: the retry asked which parts the server had.
        assert parts.count("0") == 1 and parts.count("2") == 1, parts
        assert all(len(data[n]) < 5 * MIB for n in ("notes.txt", "table.csv"))
        assert any(u.endswith("/files/notes.txt") for u in urls)
        summary = by_css(driver, "#summary").text
        assert "count\n3" in summary and "(12 MiB)" in summary
        assert "12 MiB used of 9.3 GiB" in by_css(driver, "#quota-text").text
    run.screenshot(driver, "deposit-2-uploaded")

    with run.step("cancel a failed 6 MiB upload (the server aborts it)"):
        (tmp_path / "extra.bin").write_bytes(b"x" * 6 * MIB)
        on_disk = storage_files(location.uri)
        chromium.block_requests(driver, ["*partNumber=1*"])
        by_css(driver, "#file-input").send_keys(str(tmp_path / "extra.bin"))
        chromium.wait_for(
            lambda: all_css(driver, "#uploads .upload-failed"), what="a failure"
        )
        chromium.block_requests(driver, [])
        assert [u.key for u in stored("1").uploads] == ["extra.bin"]
        by_css(driver, "#uploads .upload-failed .cancel").click()
        chromium.wait_for(
            lambda: all_css(driver, "#uploads .upload-cancelled"), what="cancelled"
        )
        chromium.wait_for(lambda: stored("1").uploads == [], what="the abort")
        state = stored("1")
        assert state.keys == ["notes.txt", "table.csv", "big.bin"]
        assert state.bucket.size == sum(len(d) for d in data.values())
        # The part sent is deleted from storage with the upload.
        assert storage_files(location.uri) == on_disk
        by_css(driver, "#clear-uploads").click()
        assert all_css(driver, "#uploads li") == []
        assert not by_css(driver, "#clear-uploads").is_displayed()

    with run.step("move big.bin to the top with the keyboard (2 moves)"):
        driver.execute_script("document.getElementById('files-heading').focus();")
        tab_to(driver, lambda e: e["key"] == "big.bin" and e["action"] == "up")
        press(driver, Keys.ENTER)
        wait_for_keys(driver, ["notes.txt", "big.bin", "table.csv"])
        chromium.wait_for(
            lambda: active(driver)["key"] == "big.bin", what="the focus on big.bin"
        )
        assert stored("1").keys == ["notes.txt", "big.bin", "table.csv"]
        press(driver, Keys.ENTER)
        wait_for_keys(driver, ["big.bin", "notes.txt", "table.csv"])
        # At the top "Move up" is disabled: the focus stays on the file.
        chromium.wait_for(
            lambda: (
                (active(driver)["key"], active(driver)["action"]) == ("big.bin", "down")
            ),
            what="the focus on big.bin's Move down",
        )
        state = stored("1")
        assert state.keys == ["big.bin", "notes.txt", "table.csv"]
        assert "big.bin moved to position 1 of 3" in by_css(driver, "#announcer").text

    with run.step("rename table.csv to results.csv and describe it"):
        table_id = next(f.file_id for f in state.files if f.key == "table.csv")
        by_css(driver, '[data-key="table.csv"][data-action="edit"]').click()
        name = chromium.wait_for(lambda: by_css(driver, ".file-edit input[name=key]"))
        assert active(driver)["tag"] == "INPUT"
        name.clear()
        name.send_keys("results.csv")
        by_css(driver, ".file-edit textarea").send_keys("Daily temperatures, raw")
        run.screenshot(driver, "deposit-3-edit")
        by_css(driver, ".file-edit button[type=submit]").click()
        wait_for_keys(driver, ["big.bin", "notes.txt", "results.csv"])
        state = stored("1")
        renamed = state.files[2]
        assert (renamed.key, renamed.file_id) == ("results.csv", table_id)
        assert renamed.metadata == {"description": "Daily temperatures, raw"}
        assert renamed.on_disk == data["table.csv"]
        assert (
            "Daily temperatures, raw" in by_css(driver, '[data-key="results.csv"]').text
        )

    with run.step("delete notes.txt"):
        notes = next(f for f in state.files if f.key == "notes.txt")
        by_css(driver, '[data-key="notes.txt"][data-action="delete"]').click()
        wait_for_keys(driver, ["big.bin", "results.csv"])
        state = stored("1")
        assert state.keys == ["big.bin", "results.csv"]
        # Deleting leaves a delete marker: the earlier version and its
        # bytes stay until purged, but no longer count in the quota.
        instance = db_.session.get(FileInstance, notes.file_id)
        with open(instance.uri, "rb") as kept:
            assert kept.read() == data["notes.txt"]
        assert ObjectVersion.get(state.bucket.id, "notes.txt") is None
        assert state.bucket.size == len(data["big.bin"]) + len(data["table.csv"])

    with run.step("lock the files (publish)"):
        by_css(driver, "#lock-files").click()
        chromium.wait_for(
            lambda: "locked" in by_css(driver, "#record-state").text, what="locked"
        )
        state = stored("1")
        assert state.bucket.locked
        assert (
            not all_css(driver, ".file-actions")
            and not by_css(driver, "#file-input").is_enabled()
        )
        refused = requests.put(page_url + "/records/1/files/late.txt", data=b"late")
        assert refused.status_code == 403, refused.text
        assert stored("1").keys == ["big.bin", "results.csv"]
    run.screenshot(driver, "deposit-4-locked")

    with run.step("create a new version (files share the bytes)"):
        bytes_before = storage_files(location.uri)
        by_css(driver, "#new-version").click()
        chromium.wait_for(
            lambda: heading(driver) == "Record 2: " + TITLE, what="record 2"
        )
        assert driver.current_url.endswith("#/records/2")
        new, old = stored("2"), stored("1")
        assert new.json is not None and old.json is not None
        assert new.json["previous_version"] == "1" and old.json["next_version"] == "2"
        assert new.keys == old.keys == ["big.bin", "results.csv"]
        assert [f.file_id for f in new.files] == [f.file_id for f in old.files]
        assert new.files[1].metadata == {"description": "Daily temperatures, raw"}
        assert not new.bucket.locked and old.bucket.locked
        assert storage_files(location.uri) == bytes_before
        assert "record 1" in by_css(driver, "#record-versions").text
    run.screenshot(driver, "deposit-5-new-version")

    with run.step("delete the new version (asked first; shows the 410)"):
        by_css(driver, "#delete-record").click()
        question = by_css(driver, "#delete-confirm")
        assert question.is_displayed() and "Delete record 2?" in question.text
        assert active(driver)["id"] == "keep-record"
        assert requests.get(page_url + "/records/2").status_code == 200
        by_css(driver, "#confirm-delete").click()
        gone = chromium.wait_for(
            lambda: (
                by_css(driver, "#record-gone").is_displayed()
                and by_css(driver, "#record-gone")
            ),
            what="the 410 notice",
        )
        assert "410 Gone" in gone.text
        assert active(driver)["id"] == "restore-record"
        state = stored("2")
        assert state.json is None and state.pid_status == "D"
        assert state.bucket.locked and TOMBSTONE_TAG in state.tags
        assert_files(
            state, [("big.bin", data["big.bin"]), ("results.csv", data["table.csv"])]
        )
        assert requests.get(page_url + "/records/2").status_code == 410
    run.screenshot(driver, "deposit-6-deleted")

    with run.step("restore it"):
        by_css(driver, "#restore-record").click()
        chromium.wait_for(
            lambda: heading(driver) == "Record 2: " + TITLE, what="restored"
        )
        state = stored("2")
        assert state.pid_status == "R"
        assert state.json is not None
        assert state.json["title"] == TITLE and state.json["previous_version"] == "1"
        assert not state.bucket.locked and TOMBSTONE_TAG not in state.tags
        assert state.keys == ["big.bin", "results.csv"]
        assert "open" in by_css(driver, "#record-state").text
        chromium.wait_for(
            lambda: len(all_css(driver, "#record-list a")) == 2,
            what="two records listed",
        )

    assert console_errors(driver) == []


def focus_ring(driver: Any) -> dict[str, str]:
    """Return the outline the focused element is drawn with."""
    ring: dict[str, str] = driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return {style: s.outlineStyle, width: s.outlineWidth, color: s.outlineColor};"
    )
    return ring


def test_page_accessibility(page_url: str, driver: Any) -> None:
    """axe-core finds no WCAG 2 A/AA violation; the keyboard sees where it is."""
    from selenium.webdriver.common.keys import Keys

    run = chromium.Run("Accessibility run: axe-core on 6 states of the page")
    chromium.RUNS.append(run)
    draft = create_with_files(page_url, "Draft", {"a.txt": b"a", "b.txt": b"bb"})
    locked = create_with_files(page_url, "Published", {"c.txt": b"c"})
    assert requests.put("{0}/demo/records/{1}/lock".format(page_url, locked)).ok
    deleted = create_with_files(page_url, "Deleted", {"d.txt": b"d"})
    assert (
        requests.delete("{0}/records/{1}".format(page_url, deleted)).status_code == 204
    )

    def open_record(pid: str, text: str) -> None:
        driver.get("{0}/#/records/{1}".format(page_url, pid))
        chromium.wait_for(
            lambda: text in by_css(driver, "#record").text, what="record " + pid
        )

    found: dict[str, Optional[list[dict[str, Any]]]] = {}
    with run.step("list of records"):
        driver.get(page_url + "/")
        chromium.wait_for(
            lambda: len(all_css(driver, "#record-list a")) == 2, what="the list"
        )
        found["list"] = chromium.run_axe(driver)
    if found["list"] is None:
        pytest.skip(
            "axe-core is not installed (tests/a11y: npm ci); run-tests.sh "
            "installs it when npm is available."
        )
    with run.step("a draft with files"):
        open_record(draft, "b.txt")
        found["draft"] = chromium.run_axe(driver)
    with run.step("a file's edit form open"):
        by_css(driver, '[data-key="a.txt"][data-action="edit"]').click()
        chromium.wait_for(lambda: all_css(driver, ".file-edit"), what="the form")
        found["edit form"] = chromium.run_axe(driver)
    with run.step("the question before deleting, an error shown"):
        by_css(driver, "#delete-record").click()
        chromium.drop_named_files(driver, by_css(driver, "#drop-zone"), {"../x": "x"})
        chromium.wait_for(
            lambda: all_css(driver, "#uploads .upload-failed"), what="the refusal"
        )
        driver.execute_script(
            "return import('/page/dom.js').then((dom) => dom.showError('An error.'));"
        )
        assert by_css(driver, "#alert").is_displayed()
        found["question and error"] = chromium.run_axe(driver)
    with run.step("published (locked) files"):
        open_record(locked, "locked")
        found["locked"] = chromium.run_axe(driver)
    with run.step("a deleted record (410)"):
        open_record(deleted, "410 Gone")
        found["deleted"] = chromium.run_axe(driver)
    problems = {
        state: chromium.describe_violations(violations)
        for state, violations in found.items()
        if violations
    }
    assert problems == {}
    # The check itself works: an unlabelled field and faint text are found.
    driver.execute_script(
        "const panel = document.getElementById('records');"
        "const field = document.createElement('input'); field.type = 'text';"
        "const faint = document.createElement('p'); faint.textContent = 'faint';"
        "faint.style.color = '#bbb'; panel.prepend(field, faint);"
    )
    canary_violations = chromium.run_axe(driver)
    assert canary_violations is not None
    canary = {v["id"] for v in canary_violations}
    assert {"label", "color-contrast"} <= canary, canary

    with run.step("keyboard: skip link, focus ring, Escape closes a form"):
        # A fresh load: the keyboard starts at the top of the page.
        driver.get("about:blank")
        open_record(draft, "b.txt")
        press(driver, Keys.TAB)
        assert active(driver)["text"] == "Skip to the content"
        assert by_css(driver, ".skip-link").is_displayed()
        ring = focus_ring(driver)
        assert ring["style"] == "solid" and float(ring["width"][:-2]) >= 2, ring
        press(driver, Keys.ENTER)
        tab_to(driver, lambda e: e["key"] == "b.txt" and e["action"] == "edit")
        ring = focus_ring(driver)
        assert ring["style"] == "solid" and float(ring["width"][:-2]) >= 2, ring
        press(driver, Keys.ENTER)
        chromium.wait_for(
            lambda: active(driver)["tag"] == "INPUT", what="the focus in the form"
        )
        press(driver, Keys.ESCAPE)
        chromium.wait_for(
            lambda: (
                (active(driver)["key"], active(driver)["action"]) == ("b.txt", "edit")
            ),
            what="the focus back on the Edit button",
        )
        assert not all_css(driver, ".file-edit")
    assert console_errors(driver) == []
