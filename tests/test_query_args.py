"""The listings' paging arguments, read by webargs (rest/query_args.py).

``size`` out of range, not a number or given twice, empty cursors and
unknown arguments, on the files listing, its ``?versions`` listing and
through the parser itself.
"""

import pytest
from flask import Flask

from invenio_records_files_ext.errors import InvalidPageSizeError
from invenio_records_files_ext.rest.query_args import PageArgs, page_args
from tests.helpers import IsolatedClient, create_record, files_url, upload

MESSAGE = "size must be a whole number from 1 to 1000."


@pytest.mark.parametrize("size", ["0", "1001", "-3", "x", "1.5", ""])
def test_a_bad_size_answers_400_json(client: IsolatedClient, size: str) -> None:
    pid = create_record(client)
    for query in ("?size=", "?versions&size="):
        refused = client.get(files_url(pid) + query + size)
        assert refused.status_code == 400, query + size
        assert refused.json == {"status": 400, "message": MESSAGE}


def test_sizes_and_cursors_as_before(client: IsolatedClient) -> None:
    pid = create_record(client)
    for key in ("a.txt", "b.txt", "c.txt"):
        assert upload(client, pid, key, b"abc").status_code == 200
    keys = [e["key"] for e in client.get(files_url(pid)).json["contents"]]
    assert keys == ["a.txt", "b.txt", "c.txt"]
    # Empty cursors are no cursors; unknown arguments are left alone; the
    # first of two sizes counts, as Flask's request.args.get reads it.
    for query in ("?after=&before=", "?colour=blue", "?size=3&size=1"):
        body = client.get(files_url(pid) + query).json
        assert [e["key"] for e in body["contents"]] == keys, query
    first = client.get(files_url(pid) + "?size=2").json
    assert [e["key"] for e in first["contents"]] == ["a.txt", "b.txt"]
    following = client.get(first["links"]["next"]).json
    assert [e["key"] for e in following["contents"]] == ["c.txt"]


def test_page_args_reads_the_query(app: Flask) -> None:
    with app.test_request_context("/?size=7&after=abc"):
        assert page_args(5, 10) == PageArgs(size=7, after="abc", before=None)
    with app.test_request_context("/?before=xyz"):
        args = page_args(5, 10)
        assert args == PageArgs(size=5, after=None, before="xyz")
        assert not args.first
    with app.test_request_context("/"):
        assert page_args(5, 10).first
    with app.test_request_context("/?size=11"):
        with pytest.raises(InvalidPageSizeError) as raised:
            page_args(5, 10)
        assert raised.value.message == "size must be a whole number from 1 to 10."
