"""``If-Range`` evaluated as RFC 9110 (section 13.1.5) says.

A range is sent only if the validator *strongly* matches: an entity tag
compared strongly (a weak ``W/`` tag never matches) or a date equal to the
file's ``Last-Modified``. Otherwise the whole file is sent (200), never a
part of a representation the client did not have.
"""

from datetime import timedelta

from werkzeug.http import http_date, parse_date

from tests.helpers import IsolatedClient, create_record, upload

DATA = bytes(range(256)) * 8


def _served(client: IsolatedClient) -> tuple[str, str, str]:
    pid = create_record(client)
    assert upload(client, pid, "r.bin", DATA).status_code == 200
    url = "/records/{0}/files/r.bin".format(pid)
    full = client.get(url)
    assert full.status_code == 200
    return url, full.headers["ETag"], full.headers["Last-Modified"]


def _ranged(client: IsolatedClient, url: str, validator: str) -> int:
    answer = client.get(url, headers={"Range": "bytes=0-9", "If-Range": validator})
    if answer.status_code == 206:
        assert answer.data == DATA[:10]
    else:
        assert answer.data == DATA
    return answer.status_code


def test_an_entity_tag_is_compared_strongly(client: IsolatedClient) -> None:
    url, etag, _ = _served(client)
    assert etag.startswith('"')
    assert _ranged(client, url, etag) == 206
    assert _ranged(client, url, "W/" + etag) == 200
    assert _ranged(client, url, '"other"') == 200


def test_a_date_must_equal_last_modified(client: IsolatedClient) -> None:
    url, _, modified = _served(client)
    assert _ranged(client, url, modified) == 206
    moment = parse_date(modified)
    assert moment is not None
    later, earlier = moment + timedelta(hours=1), moment - timedelta(hours=1)
    assert _ranged(client, url, http_date(later)) == 200
    assert _ranged(client, url, http_date(earlier)) == 200
    assert _ranged(client, url, "not a date") == 200
