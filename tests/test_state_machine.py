"""Random sequences of file changes never make ``_files`` lie.

A hypothesis state machine applies add, replace, delete, rename, sort,
metadata changes (Python API) and uploads and deletions (REST) to one
record. After every step it reads the record back from the database and
checks that ``_files`` lists exactly the bucket's head objects, in the
record's order, each with its metadata and the right content.
"""

import hashlib
import uuid
from typing import Any, ClassVar, Optional, Union

import pytest
from flask_sqlalchemy import SQLAlchemy
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from invenio_files_rest.models import ObjectVersion

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import FileKeyExistsError, InvalidMetadataError
from invenio_records_files_ext.files import FilesIterator
from invenio_records_files_ext.files.entries import user_metadata
from tests.helpers import IsolatedClient, stream

KEYS = st.sampled_from(["a.txt", "b.txt", "dir/c.txt", "d e.txt", "été.txt", "f"])
CONTENT = st.binary(min_size=0, max_size=64)
METADATA_NAMES = st.sampled_from(["description", "type", "order"])
METADATA_VALUES = st.one_of(
    st.text(max_size=10), st.integers(), st.lists(st.integers(), max_size=3)
)


class FilesOfARecord(RuleBasedStateMachine):
    """The model: an ordered mapping key -> (content, metadata)."""

    # Set by the test before the machine runs.
    client: ClassVar[IsolatedClient]
    db: ClassVar[SQLAlchemy]

    def __init__(self) -> None:
        """Start from a new record without files."""
        super().__init__()
        self.record_id: Optional[uuid.UUID] = None
        self.pid: Optional[str] = None
        response = self.client.post("/records/", json={"title": "machine"})
        assert response.status_code == 201
        self.pid = response.json["id"]
        from invenio_pidstore.models import PersistentIdentifier

        self.record_id = PersistentIdentifier.get("recid", self.pid).object_uuid
        self.order: list[str] = []
        self.content: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, Any]] = {}

    def _files(self) -> FilesIterator:
        files: FilesIterator = Record.get_record(self.record_id).files
        return files

    def _commit(self) -> None:
        self.db.session.commit()

    def _stored(self, key: str, data: bytes) -> None:
        """Model: ``key`` now holds ``data`` (a new file goes last)."""
        if key not in self.content:
            self.order.append(key)
            self.metadata[key] = {}
        self.content[key] = data

    def _deleted(self, key: str) -> None:
        """Model: ``key`` is gone."""
        self.order.remove(key)
        del self.content[key], self.metadata[key]

    # Python API
    @rule(key=KEYS, data=CONTENT)
    def put(self, key: str, data: bytes) -> None:
        files = self._files()
        files[key] = stream(data)
        self._commit()
        self._stored(key, data)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.order))
        files = self._files()
        del files[key]
        self._commit()
        self._deleted(key)

    @precondition(lambda self: self.order)
    @rule(data=st.data(), new_key=KEYS)
    def rename(self, data: st.DataObject, new_key: str) -> None:
        old_key = data.draw(st.sampled_from(self.order))
        files = self._files()
        if new_key == old_key:
            return
        if new_key in self.content:
            with pytest.raises(FileKeyExistsError):
                files.rename(old_key, new_key)
            self._commit()
            return
        files.rename(old_key, new_key)
        self._commit()
        self.order[self.order.index(old_key)] = new_key
        self.content[new_key] = self.content.pop(old_key)
        self.metadata[new_key] = self.metadata.pop(old_key)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def sort(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(self.order), unique=True))
        files = self._files()
        files.sort_by(*chosen)
        self._commit()
        self.order = chosen + [key for key in self.order if key not in chosen]

    @precondition(lambda self: self.order)
    @rule(data=st.data(), name=METADATA_NAMES, value=METADATA_VALUES)
    def set_metadata(
        self, data: st.DataObject, name: str, value: Union[str, int, list[int]]
    ) -> None:
        key = data.draw(st.sampled_from(self.order))
        files = self._files()
        if isinstance(value, str) and "\x00" in value:
            # PostgreSQL's JSONB cannot hold NUL: refused on every database.
            with pytest.raises(InvalidMetadataError):
                files[key][name] = value
            self._commit()
            return
        files[key][name] = value
        self._commit()
        self.metadata[key][name] = value

    # REST
    @rule(key=KEYS, data=CONTENT)
    def rest_upload(self, key: str, data: bytes) -> None:
        from urllib.parse import quote

        response = self.client.put(
            "/records/{0}/files/{1}".format(self.pid, quote(key)),
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if not data:
            # Invenio-Files-REST refuses empty bodies (FILES_REST_MIN_FILE_SIZE).
            assert response.status_code == 400
            return
        assert response.status_code == 200, response.data
        self._stored(key, data)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def rest_delete(self, data: st.DataObject) -> None:
        from urllib.parse import quote

        key = data.draw(st.sampled_from(self.order))
        response = self.client.delete(
            "/records/{0}/files/{1}".format(self.pid, quote(key))
        )
        assert response.status_code == 204
        self._deleted(key)

    @invariant()
    def files_tell_the_truth(self) -> None:
        self.db.session.rollback()
        record = Record.get_record(self.record_id)
        entries = record.get("_files", [])
        assert [entry["key"] for entry in entries] == self.order
        heads = {obj.key: obj for obj in ObjectVersion.get_by_bucket(record.bucket)}
        assert set(heads) == set(self.order)
        for entry in entries:
            obj = heads[entry["key"]]
            assert entry["version_id"] == str(obj.version_id)
            assert entry["file_id"] == str(obj.file_id)
            assert entry["size"] == len(self.content[entry["key"]])
            expected = hashlib.md5(self.content[entry["key"]]).hexdigest()
            assert entry["checksum"] == "md5:" + expected
            assert user_metadata(entry) == self.metadata[entry["key"]]


@pytest.mark.slow
def test_files_always_tell_the_truth(client: IsolatedClient, db: SQLAlchemy) -> None:
    FilesOfARecord.client = client
    FilesOfARecord.db = db
    run_state_machine_as_test(
        FilesOfARecord,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
