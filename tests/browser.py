"""Driving the demo's page in Debian's headless Chromium with Selenium.

``run-tests.sh`` installs Debian's ``chromium`` and ``chromium-driver`` when
it can; :func:`why_no_browser` tells the tests why they must skip when they
are missing. Chromium starts headless, with a fresh profile and with its
background networking off (the page only talks to the demo on loopback).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from tests.servers import ROOT

CHROMIUM = os.environ.get("RFX_CHROMIUM", "/usr/bin/chromium")
"""The browser (Debian's ``chromium`` package)."""

CHROMEDRIVER = os.environ.get("RFX_CHROMEDRIVER", "/usr/bin/chromedriver")
"""Its WebDriver server (Debian's ``chromium-driver`` package)."""

AXE_SCRIPT = os.path.join(
    ROOT, "tests", "a11y", "node_modules", "axe-core", "axe.min.js"
)
"""axe-core, installed from the npm registry by ``run-tests.sh``."""

SCREENSHOTS = os.environ.get("RFX_SCREENSHOTS") or os.path.join(
    ROOT, "build", "screenshots"
)
"""Where the browser tests save their screenshots."""

WINDOW = (1200, 900)
"""Size of the browser window, in CSS pixels."""

CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
    "--window-size={0},{1}".format(*WINDOW),
)


def why_no_browser() -> Optional[str]:
    """Return why the browser tests cannot run here, or ``None`` if they can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return (
                "Browser tests skipped: {0} is missing (Debian package {1}; "
                "run-tests.sh installs it with apt-get when it can).".format(
                    path, package
                )
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "Browser tests skipped: Selenium is not installed (pip install -e '.[tests]')."
    return None


def start_chromium(profile_dir: str) -> Any:
    """Start headless Chromium with a fresh profile in ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROMIUM_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument("--user-data-dir={0}".format(profile_dir))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A driver path given: Selenium Manager (which downloads) stays out.
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(*WINDOW)
    return driver


def wait_for(
    condition: Callable[[], Any], timeout: float = 30, what: str = "condition"
) -> Any:
    """Return ``condition()`` once it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:
            last_error = error
        time.sleep(0.05)
    raise AssertionError(
        "Timed out after {0} s waiting for {1}{2}".format(
            timeout, what, " ({0!r})".format(last_error) if last_error else ""
        )
    )


def drop_files(driver: Any, target: Any, paths: list[str]) -> None:
    """Drop local files on ``target`` as a drag and drop from the desktop would.

    WebDriver cannot drag from outside the page: the files are loaded into a
    temporary file input, then handed to ``dragenter``, ``dragover`` and
    ``drop`` events in a ``DataTransfer``, as the browser does for a real drop.
    """
    source = driver.execute_script(
        "const input = document.createElement('input');"
        "input.type = 'file'; input.multiple = true; input.id = 'test-drop-source';"
        "document.body.append(input); return input;"
    )
    source.send_keys("\n".join(paths))
    driver.execute_script(
        "const [target, input] = arguments;"
        "const data = new DataTransfer();"
        "for (const file of input.files) data.items.add(file);"
        "for (const type of ['dragenter', 'dragover', 'drop']) {"
        "  target.dispatchEvent(new DragEvent(type,"
        "    {bubbles: true, cancelable: true, dataTransfer: data}));"
        "}"
        "input.remove();",
        target,
        source,
    )


def drop_named_files(driver: Any, target: Any, files: dict[str, str]) -> None:
    """Drop files made in the page, named as no local file can be (``../x``).

    Browsers hand the page a file's name without its folders; a page's
    script may make a ``File`` of any name, and so can a hostile drag
    source. ``files`` maps each name to the file's text.
    """
    driver.execute_script(
        "const [target, files] = arguments;"
        "const data = new DataTransfer();"
        "for (const [name, text] of Object.entries(files)) {"
        "  data.items.add(new File([text], name, {type: 'text/plain'}));"
        "}"
        "for (const type of ['dragenter', 'dragover', 'drop']) {"
        "  target.dispatchEvent(new DragEvent(type,"
        "    {bubbles: true, cancelable: true, dataTransfer: data}));"
        "}",
        target,
        files,
    )


def block_requests(driver: Any, patterns: list[str]) -> None:
    """Make Chromium fail requests whose URL matches a pattern (``*`` wildcards)."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": patterns})


def throttle_uploads(driver: Any, bytes_per_second: Optional[int]) -> None:
    """Let the page send at most ``bytes_per_second`` (``None``: no limit, online)."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second or -1,
        },
    )


def go_offline(driver: Any) -> None:
    """Cut the page's network: requests under way fail, as on a lost connection."""
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": True,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )


def requested_urls(driver: Any) -> list[str]:
    """Return the URLs the page requested so far (Resource Timing)."""
    return list(
        driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);"
        )
    )


def run_axe(driver: Any) -> Optional[list[dict[str, Any]]]:
    """Return axe-core's WCAG 2.x A/AA violations on the page; ``None`` without axe."""
    if not os.path.isfile(AXE_SCRIPT):
        return None
    with open(AXE_SCRIPT, encoding="utf-8") as fp:
        driver.execute_script(fp.read())
    driver.set_script_timeout(60)
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values:"
        " ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
        ".then(r => done(r.violations), e => done([{id: 'axe-error', help: String(e),"
        " nodes: []}]));"
    )
    return list(results)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """Return axe violations as readable lines."""
    lines = []
    for violation in violations:
        targets = [", ".join(node.get("target", [])) for node in violation["nodes"]]
        lines.append(
            "{0}: {1} ({2})".format(
                violation["id"], violation["help"], "; ".join(targets)
            )
        )
    return "\n".join(lines)


@dataclass
class Step:
    """One timed step of a browser run."""

    name: str
    seconds: float


@dataclass
class Run:
    """The steps of one browser run, their timings and screenshots."""

    title: str
    steps: list[Step] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the step ``name``."""
        start = time.monotonic()
        yield
        self.steps.append(Step(name, time.monotonic() - start))

    def screenshot(self, driver: Any, name: str, width: int = WINDOW[0]) -> str:
        """Save a screenshot of the whole page as ``<SCREENSHOTS>/<name>.png``.

        :param width: the window's width for the screenshot, in CSS pixels.
        """
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name + ".png")
        # The window is taller than the page's viewport by the browser's own
        # bars: grow it so that the whole page fits in the viewport.
        height, chrome = driver.execute_script(
            "return [Math.ceil(document.documentElement.scrollHeight),"
            " window.outerHeight - window.innerHeight];"
        )
        driver.set_window_size(width, min(int(height) + int(chrome), 2400))
        driver.execute_script("window.scrollTo(0, 0);")
        try:
            driver.save_screenshot(path)
        finally:
            driver.set_window_size(*WINDOW)
        self.screenshots.append(path)
        return path

    def lines(self) -> list[str]:
        """Return the timings as lines of text."""
        total = sum(step.seconds for step in self.steps)
        lines = ["{0} ({1:.1f} s in all)".format(self.title, total)]
        for number, step in enumerate(self.steps, 1):
            lines.append(
                "  {0:2d}. {1:<58} {2:6.2f} s".format(number, step.name, step.seconds)
            )
        if self.screenshots:
            lines.append(
                "  screenshots: {0}".format(os.path.dirname(self.screenshots[0]))
            )
        return lines


RUNS: list[Run] = []
"""Browser runs of this session, printed at the end (see ``conftest.py``)."""
