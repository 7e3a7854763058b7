"""The shape of the test suite: each test module stands alone.

Test modules share code through ``tests/helpers.py`` (and the support
modules: ``servers.py``, ``users.py``...), never by importing
``tests/conftest.py`` or another test module: importing a test module runs
its collection-time code and re-exports its tests, and ``conftest.py`` is
pytest's to load. The applications the fixtures share are configured
through ``monkeypatch`` (``monkeypatch.setitem(app.config, KEY, value)``),
which undoes the change whatever the test's outcome. These rules hold for
modules added later too.
"""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

FORBIDDEN_HINT = (
    "move what it shares to tests/helpers.py and import it from there "
    "(conftest.py holds fixtures only)"
)


def _forbidden(module: str) -> bool:
    """Return whether the dotted ``module`` (relative to ``tests``) is off limits."""
    first = module.split(".")[0]
    return first == "conftest" or first.startswith("test_")


def imported_test_modules(path: Path) -> list[str]:
    """Return the test modules and conftest that the file ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tests.") and _forbidden(alias.name[6:]):
                    found.append(alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if (
                node.level == 0
                and module != "tests"
                and not module.startswith("tests.")
            ):
                continue
            inner = module[len("tests") :].lstrip(".") if node.level == 0 else module
            if inner:
                if _forbidden(inner):
                    found.append(module)
            else:
                # ``from tests import test_views`` or ``from . import conftest``
                found.extend(
                    alias.name for alias in node.names if _forbidden(alias.name)
                )
    return found


SHARED_APPS = {"app", "test_app", "demo_app", "s3_app"}
"""Names of the session-wide applications the fixtures hand to tests."""

MUTATING_METHODS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__"}


def _is_shared_config(node: ast.expr) -> bool:
    """Return whether ``node`` is (an item inside) a shared application's config."""
    while isinstance(node, ast.Subscript):
        node = node.value
    if not (isinstance(node, ast.Attribute) and node.attr == "config"):
        return False
    owner = node.value
    if isinstance(owner, ast.Name):
        return owner.id in SHARED_APPS
    return isinstance(owner, ast.Attribute) and owner.attr == "application"


def config_writes(path: Path) -> list[int]:
    """Return the lines of ``path`` that change a shared application's config."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines: list[int] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATING_METHODS
        ):
            targets = [node.func.value]
        if any(
            isinstance(target, (ast.Subscript, ast.Attribute))
            and _is_shared_config(target)
            for target in targets
        ):
            assert isinstance(node, (ast.stmt, ast.expr))
            lines.append(node.lineno)
    return sorted(lines)


def _modules(pattern: str) -> list[Path]:
    return sorted(TESTS.glob(pattern))


@pytest.mark.parametrize("path", _modules("test_*.py"), ids=lambda path: path.name)
def test_test_modules_do_not_import_each_other(path: Path) -> None:
    found = imported_test_modules(path)
    assert not found, "{0} imports {1}: {2}".format(
        path.name, ", ".join(found), FORBIDDEN_HINT
    )


@pytest.mark.parametrize(
    "name", ["helpers.py", "app.py", "loadtools.py", "servers.py", "users.py"]
)
def test_support_modules_do_not_import_conftest_or_tests(name: str) -> None:
    found = imported_test_modules(TESTS / name)
    assert not found, "{0} imports {1}: {2}".format(
        name, ", ".join(found), FORBIDDEN_HINT
    )


@pytest.mark.parametrize(
    "path",
    _modules("test_*.py") + [TESTS / "conftest.py", TESTS / "helpers.py"],
    ids=lambda path: path.name,
)
def test_shared_applications_are_configured_through_monkeypatch(path: Path) -> None:
    lines = config_writes(path)
    assert not lines, (
        "{0} changes a shared application's config on line(s) {1}: use "
        "monkeypatch.setitem(app.config, KEY, value)".format(
            path.name, ", ".join(map(str, lines))
        )
    )


@pytest.mark.parametrize(
    "source, lines",
    [
        ("app.config['A'] = 1", [1]),
        ("client.application.config['A'] = 1", [1]),
        ("app.config.update(A=1)", [1]),
        ("del app.config['A']", [1]),
        ("app.config['ENDPOINTS']['recid']['x'] = 1", [1]),
        ("s3_app.config.setdefault('A', 1)", [1]),
        ("monkeypatch.setitem(app.config, 'A', 1)", []),
        ("bare = Flask('x')\nbare.config['A'] = 1", []),
        ("value = app.config['A']", []),
    ],
)
def test_the_config_check_finds_every_spelling(
    tmp_path: Path, source: str, lines: list[int]
) -> None:
    path = tmp_path / "test_example.py"
    path.write_text(source)
    assert config_writes(path) == lines


def test_conftest_defines_fixtures_and_hooks_only() -> None:
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    plain = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            plain.append(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            is_fixture = any(
                "fixture" in ast.unparse(decorator) for decorator in node.decorator_list
            )
            if not (is_fixture or node.name.startswith(("pytest_", "_"))):
                plain.append(node.name)
    assert not plain, "conftest.py defines {0}: {1}".format(
        ", ".join(plain), FORBIDDEN_HINT
    )


@pytest.mark.parametrize(
    "source, found",
    [
        ("from tests.conftest import stream", ["tests.conftest"]),
        ("from tests.test_views import upload", ["tests.test_views"]),
        ("import tests.test_lifecycle", ["tests.test_lifecycle"]),
        ("from tests import conftest, helpers", ["conftest"]),
        ("from .test_views import upload", ["test_views"]),
        ("def f():\n    from tests.conftest import stream", ["tests.conftest"]),
        ("from tests.helpers import stream\nfrom tests.servers import Server", []),
        ("from examples.test_data import x", []),
    ],
)
def test_the_check_finds_every_spelling(
    tmp_path: Path, source: str, found: list[str]
) -> None:
    path = tmp_path / "test_example.py"
    path.write_text(source)
    assert imported_test_modules(path) == found
