"""The settings: one typed tree read from the configuration, defaults in ``config.py`` only.

:class:`~invenio_records_files_ext.settings.tree.Settings` reads every
``RECORDS_FILES_*`` key (a key added to ``config.py`` and not to the tree
fails here), takes a missing key's default from ``config.py``, and the
cached settings of an application follow its configuration. No module of
the package but ``config.py`` writes a default of its own.
"""

import ast
import timeit
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import invenio_records_files_ext
from invenio_records_files_ext import config
from invenio_records_files_ext.archives.zipreader import Limits
from invenio_records_files_ext.db.keys import KeyPolicy
from invenio_records_files_ext.errors import ConfigurationError
from invenio_records_files_ext.ext import InvenioRecordsFiles
from invenio_records_files_ext.settings.current import (
    current,
    current_or_defaults,
    defaults,
    settings_for,
)
from invenio_records_files_ext.settings.reading import KEYS
from invenio_records_files_ext.settings.tree import Settings
from invenio_records_files_ext.transfers.fetching import FetchLimits

PACKAGE = Path(invenio_records_files_ext.__file__).resolve().parent

CONFIG_KEYS = sorted(name for name in vars(config) if name.startswith("RECORDS_FILES_"))


class Recording(Mapping[str, Any]):
    """A mapping that remembers the keys asked of it."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self.asked: set[str] = set()

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self._values

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _bare_app() -> Flask:
    bare = Flask("settings-test")
    InvenioRecordsFiles.init_config(bare)
    return bare


def test_the_tree_reads_every_key_of_config() -> None:
    assert list(KEYS) == CONFIG_KEYS
    recording = Recording({})
    Settings.from_config(recording)
    missing = sorted(set(CONFIG_KEYS) - recording.asked)
    assert not missing, f"Settings.from_config does not read {missing}"
    unknown = sorted(
        name
        for name in recording.asked
        if name.startswith("RECORDS_FILES_") and name not in CONFIG_KEYS
    )
    assert not unknown, f"Settings.from_config reads keys without a default: {unknown}"


def test_an_empty_mapping_gives_the_defaults_of_config() -> None:
    empty = Settings.from_config({})
    assert empty == Settings.from_config({name: getattr(config, name) for name in KEYS})
    assert empty == defaults()
    assert empty.fetch.max_size == config.RECORDS_FILES_FETCH_MAX_SIZE
    assert empty.keys.max_bytes == config.RECORDS_FILES_KEY_MAX_LENGTH
    assert empty.containers.limits.max_ratio == config.RECORDS_FILES_CONTAINER_MAX_RATIO
    assert empty.storage.checksums == tuple(config.RECORDS_FILES_CHECKSUMS)
    assert empty.fixity.interval == config.RECORDS_FILES_FIXITY_INTERVAL
    assert empty.access.versions_permission == config.RECORDS_FILES_VERSIONS_PERMISSION


def test_parts_built_by_hand_take_the_defaults_of_config() -> None:
    settings = defaults()
    assert FetchLimits() == settings.fetch
    assert Limits() == settings.containers.limits
    assert KeyPolicy() == settings.keys
    assert FetchLimits.from_config({}) == settings.fetch


def test_an_application_setting_wins_over_the_default() -> None:
    settings = Settings.from_config(
        {
            "RECORDS_FILES_FETCH_MAX_SIZE": 10,
            "RECORDS_FILES_CONTAINER_MAX_MEMBERS": "20",
            "RECORDS_FILES_KEY_NORMALIZATION": None,
            "FILES_REST_OBJECT_KEY_MAX_LEN": 255,
        }
    )
    assert settings.fetch.max_size == 10
    assert settings.containers.limits.max_members == 20
    assert settings.keys.normalization is None
    assert settings.keys.max_chars == 255


def test_durations_are_read_as_timedeltas_or_seconds() -> None:
    settings = Settings.from_config(
        {
            "RECORDS_FILES_FIXITY_INTERVAL": 90,
            "RECORDS_FILES_FIXITY_LEASE": timedelta(minutes=5),
        }
    )
    assert settings.fixity.interval == timedelta(seconds=90)
    assert settings.fixity.lease == timedelta(minutes=5)
    with pytest.raises(ConfigurationError, match="RECORDS_FILES_FIXITY_LEASE"):
        Settings.from_config({"RECORDS_FILES_FIXITY_LEASE": "a while"})


def test_a_value_of_the_wrong_type_names_its_key() -> None:
    with pytest.raises(ConfigurationError, match="RECORDS_FILES_FETCH_TIMEOUT"):
        Settings.from_config({"RECORDS_FILES_FETCH_TIMEOUT": "soon"})


def test_the_settings_of_an_app_are_cached_until_a_value_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = _bare_app()
    first = settings_for(bare)
    assert settings_for(bare) is first
    monkeypatch.setitem(bare.config, "RECORDS_FILES_FETCH_MAX_SIZE", 5)
    changed = settings_for(bare)
    assert changed is not first
    assert changed.fetch.max_size == 5
    monkeypatch.setitem(bare.config, "FILES_REST_OBJECT_KEY_MAX_LEN", 12)
    assert settings_for(bare).keys.max_chars == 12
    monkeypatch.delitem(bare.config, "RECORDS_FILES_FETCH_MAX_SIZE")
    assert settings_for(bare).fetch.max_size == config.RECORDS_FILES_FETCH_MAX_SIZE


def test_a_value_changed_in_place_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = _bare_app()
    monkeypatch.setitem(bare.config, "RECORDS_FILES_FETCH_ALLOWED_HOSTS", ["a.org"])
    assert settings_for(bare).fetch.allowed_hosts == ("a.org",)
    bare.config["RECORDS_FILES_FETCH_ALLOWED_HOSTS"].append("b.org")
    assert settings_for(bare).fetch.allowed_hosts == ("a.org", "b.org")


def test_the_current_application_changed_at_run_time(
    appctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = current().transfers.init_max_files
    monkeypatch.setitem(appctx.config, "RECORDS_FILES_INIT_MAX_FILES", before + 1)
    assert current().transfers.init_max_files == before + 1
    assert current_or_defaults() is current()


def test_outside_an_application_the_defaults() -> None:
    assert current_or_defaults() is defaults()


def test_reading_cached_settings_is_cheap() -> None:
    bare = _bare_app()
    settings_for(bare)
    calls = 2000
    seconds = timeit.timeit(lambda: settings_for(bare), number=calls) / calls
    # A few microseconds measured; the bound leaves room for a busy machine.
    assert seconds < 200e-6


# No module but config.py writes a default.


def _key(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("RECORDS_FILES_")
    )


def written_defaults(source: str) -> list[int]:
    """Return the lines of ``source`` that write a ``RECORDS_FILES_*`` default.

    ``.get("RECORDS_FILES_X", default)``, ``.setdefault("RECORDS_FILES_X",
    ...)``, ``getattr(x, "RECORDS_FILES_X", default)`` and assignments to a
    name ``RECORDS_FILES_X``.
    """
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and _key(node.args[0]):
            func = node.func
            method = func.attr if isinstance(func, ast.Attribute) else None
            given = len(node.args) + len(node.keywords)
            if (
                (method == "get" and given > 1)
                or method == "setdefault"
                or (method == "pop" and given > 1)
            ):
                lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and _key(node.args[1])
        ):
            lines.append(node.lineno)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        if isinstance(node, ast.stmt) and any(
            isinstance(target, ast.Name) and target.id.startswith("RECORDS_FILES_")
            for target in targets
        ):
            lines.append(node.lineno)
    return sorted(lines)


@pytest.mark.parametrize(
    "source, lines",
    [
        ('config.get("RECORDS_FILES_X", 5)', [1]),
        ('app.config.get(\n    "RECORDS_FILES_X",\n    5,\n)', [1]),
        ('config.get("RECORDS_FILES_X", default=5)', [1]),
        ('app.config.setdefault("RECORDS_FILES_X", 5)', [1]),
        ('getattr(config, "RECORDS_FILES_X", 5)', [1]),
        ('config.pop("RECORDS_FILES_X", 5)', [1]),
        ("RECORDS_FILES_X = 5", [1]),
        ("RECORDS_FILES_X: int = 5", [1]),
        ('config.get("RECORDS_FILES_X")', []),
        ('config["RECORDS_FILES_X"]', []),
        ("config.setdefault(name, getattr(defaults, name))", []),
        ('config.get("FILES_REST_X", 5)', []),
    ],
)
def test_the_default_check_finds_every_spelling(source: str, lines: list[int]) -> None:
    assert written_defaults(source) == lines


def test_only_config_writes_a_default() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative == Path("config.py"):
            continue
        lines = written_defaults(path.read_text(encoding="utf-8"))
        if lines:
            found[str(relative)] = lines
    assert not found, (
        "RECORDS_FILES_* defaults written outside config.py (read them from "
        "invenio_records_files_ext.settings instead): {0}".format(found)
    )


def test_the_settings_import_only_config_and_errors() -> None:
    allowed = {"config", "errors", "settings"}
    found: dict[str, list[str]] = {}
    for path in sorted((PACKAGE / "settings").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1:
                continue  # within settings/
            if node.level == 2:
                names = [node.module] if node.module else [a.name for a in node.names]
            elif (node.module or "").startswith("invenio_records_files_ext"):
                names = (node.module or "").split(".")[1:2]
            else:
                continue
            upward = [name for name in names if name.split(".")[0] not in allowed]
            if upward:
                found.setdefault(path.name, []).extend(upward)
    assert not found, f"settings/ imports rooms above it: {found}"
