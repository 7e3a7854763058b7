"""The package's layout: faces at the root, rooms named for concerns, maps kept true.

The root holds only the faces (the module paths of ``invenio_records_files``
and this package's entry points) and subpackages; each subpackage's
``__init__`` docstring is its map and names every module in it; the paths
an application of the original module imports, and the paths the
configuration defaults name, import.
"""

import ast
import importlib
import re
from pathlib import Path
from typing import Any, Optional

import pytest

import invenio_records_files_ext
from invenio_records_files_ext import config

PACKAGE = Path(invenio_records_files_ext.__file__).resolve().parent

FACES = {
    "__init__",
    "api",
    "config",
    "errors",
    "ext",
    "links",
    "models",
    "serializer",
    "signals",
    "utils",
    "views",
}
"""The modules that stay at the root (``cli`` is a package)."""

DATA_DIRS = {"alembic", "jsonschemas", "__pycache__"}
"""Folders at the root that are not subpackages: migrations, schemas."""

DROPIN = {
    "api": ("Record", "FileObject", "FilesIterator", "FilesMixin"),
    "ext": ("InvenioRecordsFiles",),
    "models": ("RecordsBuckets",),
    "views": ("create_blueprint_from_app",),
    "serializer": ("json_serializer", "serializer_mapping"),
    "links": ("default_record_files_links_factory", "default_bucket_link_factory"),
    "utils": ("sorted_files_from_bucket", "record_file_factory", "file_download_ui"),
    "config": (),
}
"""The original module's paths, with the names applications import from them."""


def _packages() -> list[Path]:
    """Every subpackage of the package (folders with an ``__init__.py``)."""
    return sorted(
        p.parent
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE and not DATA_DIRS & set(p.relative_to(PACKAGE).parts)
    )


def _mentions(doc: str, name: str) -> Optional[re.Match[str]]:
    return re.search(r"(``|`\.|`~\.)" + re.escape(name) + r"(/?``|`|\.)", doc)


def test_root_holds_only_faces_and_subpackages() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules <= FACES, f"move {sorted(modules - FACES)} into a subpackage"
    for entry in PACKAGE.iterdir():
        if entry.is_dir() and entry.name not in DATA_DIRS:
            assert (entry / "__init__.py").is_file(), entry.name


@pytest.mark.parametrize(
    "package", _packages(), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_each_map_names_every_module(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
    assert doc, f"{package.name}/__init__.py has no map"
    members = [p.stem for p in package.glob("*.py") if p.stem != "__init__"]
    members += [
        p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    ]
    missing = [name for name in members if not _mentions(doc, name)]
    assert not missing, f"the map of {package.name}/ does not name {missing}"


def test_root_map_names_every_room() -> None:
    doc = invenio_records_files_ext.__doc__
    assert doc, "the package has no docstring"
    rooms = [p.name for p in _packages() if p.parent == PACKAGE]
    missing = [name for name in rooms if not _mentions(doc, name)]
    assert not missing, f"the package's docstring does not name {missing}"


@pytest.mark.parametrize("module", sorted(DROPIN))
def test_dropin_paths_import(module: str) -> None:
    imported = importlib.import_module(f"invenio_records_files_ext.{module}")
    for name in DROPIN[module]:
        assert hasattr(imported, name), f"{module}.{name}"


def test_dropin_data_paths() -> None:
    assert any((PACKAGE / "alembic").glob("*.py"))
    assert any((PACKAGE / "jsonschemas").rglob("*.json"))


def _configured_paths() -> list[str]:
    """Every ``invenio_records_files_ext.x:y`` import path a default names."""
    found: list[str] = []
    for key in dir(config):
        values = getattr(config, key)
        if not key.isupper():
            continue
        stack: list[Any] = [values]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, (list, tuple)):
                stack.extend(value)
            elif isinstance(value, str) and re.fullmatch(
                r"invenio_records_files_ext(\.\w+)*:\w+", value
            ):
                found.append(value)
    return sorted(set(found))


def test_configured_paths_resolve() -> None:
    paths = _configured_paths()
    assert paths, "no configuration default names an import path any more"
    for path in paths:
        module, name = path.split(":")
        assert hasattr(importlib.import_module(module), name), path


TYPED_TREES = (
    "invenio_records_files_ext",
    "tests",
    "tests_invenio",
    "benchmarks",
    "examples",
)
"""What ``mypy`` checks strictly (``pyproject.toml``), the suite included."""


def test_every_type_ignore_names_its_code_and_reason() -> None:
    # ``# type: ignore[code]  # why``: a bare or unexplained silence hides
    # the next real error on the same line.
    root = PACKAGE.parent
    pattern = re.compile(r"#\s*type:\s*ignore(?!\[[\w, -]+\]\s+#\s*\S)")
    found = [
        "{0}:{1}".format(path.relative_to(root), number)
        for tree in TYPED_TREES
        for path in sorted((root / tree).rglob("*.py"))
        if "alembic" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_no_module_is_exempt_from_strict_types() -> None:
    # Issue 22: the whole package and the whole suite are strict; a module
    # is typed, not listed as an exception.
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    mypy = text[text.index("[tool.mypy]") : text.index("[tool.pytest")]
    assert "strict = true" in mypy
    for relaxed in ("ignore_errors", "disallow_untyped_defs = false", "= false"):
        assert relaxed not in mypy, relaxed
