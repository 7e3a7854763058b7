"""A file completed while its record's files are listed never goes missing.

A listing page reads the pending files and the completed rows in two
statements; on PostgreSQL each sees the database as of its own start. A
transfer completed between the two reads (a Celery worker's fetch, another
client's commit) must show once, completed, on that page: seen in neither
read, it vanished from the page its writer was watching.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from invenio_records_files_ext.files import pending_rows, queries
from tests.helpers import (
    IsolatedClient,
    create_record,
    files_url,
    init,
    put_content,
    stored_record,
)


def _complete_between_reads(
    monkeypatch: pytest.MonkeyPatch, complete: Callable[[], None]
) -> None:
    # Whichever of the two reads comes first, ``complete`` runs right after
    # it, before the other one.
    done: list[bool] = []

    def once() -> None:
        if not done:
            done.append(True)
            complete()

    real_iterate, real_rows_page = pending_rows.iterate, queries.rows_page

    def iterate(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from real_iterate(*args, **kwargs)
        once()

    def rows_page(*args: Any, **kwargs: Any) -> Any:
        page = real_rows_page(*args, **kwargs)
        once()
        return page

    monkeypatch.setattr(pending_rows, "iterate", iterate)
    monkeypatch.setattr(queries, "rows_page", rows_page)


def test_a_file_completed_between_the_two_reads_shows_once(
    client: IsolatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    assert init(client, pid, [{"key": "a.txt"}, {"key": "b.txt"}]).status_code == 201
    assert put_content(client, pid, "a.txt", b"racing").status_code == 200

    def complete() -> None:
        files = stored_record(pid).files
        files.transfers.commit("a.txt")

    _complete_between_reads(monkeypatch, complete)
    listed = client.get(files_url(pid)).json["entries"]
    assert [(entry["key"], entry["status"]) for entry in listed] == [
        ("b.txt", "pending"),
        ("a.txt", "completed"),
    ]
