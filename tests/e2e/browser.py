"""Headless Chromium for the e2e suite: Debian's ``chromium`` package, driven by Playwright's Python client.

Why Playwright and not Selenium: its locators wait for what they look for (no sleeps, no hand-written
polling of the DOM), it reports the page's console and errors as events, takes screenshots of pages and
elements, and runs a script of the test's in every page before the page's own (to see the progress events
the spawn-pending page receives). Its
wheel carries the driver it talks to, so nothing is downloaded at test time; it launches the system's
Chromium with ``executable_path`` (``playwright install`` is never run). Selenium would need Debian's
``chromium-driver`` next to the browser, and its waiting is explicit polling.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Debian's package first (what .ci/run installs); the names other systems use after it; CHROMIUM overrides.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium", "google-chrome")
INSTALL_HINT = (
    "the browser tests need Chromium from Debian's packages: `sudo apt-get install chromium` "
    "(or set CHROMIUM to a Chromium binary); README.md, 'Browser tests'"
)
# Headless as root in a sandbox without a network: no setuid sandbox, no GPU, and no background
# connections (they are refused here, many at a time, and slow every start).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 800}

# Records every progress event the spawn-pending page receives (its EventSource) in
# window.__jupyternetesProgress, and holds back the last one ("ready", on which the page reloads itself into
# the server) until the test calls window.__releaseReady(): the finished progress can be looked at first.
RECORD_PROGRESS = """
(() => {
  const Original = window.EventSource;
  if (!Original || Original.__recorded) return;
  window.__jupyternetesProgress = [];
  function Recorded(url, options) {
    const source = new Original(url, options);
    let handler = null;
    Object.defineProperty(source, "onmessage", {
      configurable: true,
      get() { return handler; },
      set(fn) { handler = fn; },
    });
    source.addEventListener("message", (e) => {
      let data = null;
      try { data = JSON.parse(e.data); } catch (err) {}
      window.__jupyternetesProgress.push(data);
      const deliver = () => { if (handler) handler.call(source, e); };
      if (data && data.ready) {
        window.__releaseReady = deliver;
      } else {
        deliver();
      }
    });
    return source;
  }
  Recorded.prototype = Original.prototype;
  Recorded.__recorded = true;
  window.EventSource = Recorded;
})();
"""


def chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser, or the test stops here: a skip naming what to install, a failure under CI (.ci/run
    installs it, so a CI run without it is a broken CI)."""
    found = chromium()
    if found is None:
        message = f"Chromium not found: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def launch(playwright: Any, executable: str) -> Any:
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS), headless=True)


class Screenshots:
    """Pictures the browser test takes for the docs: written to $JUPYTERNETES_SCREENSHOTS (``make
    screenshots`` sets it to docs/images) when set, else nowhere."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> None:
        if self.directory is not None:
            page.screenshot(path=str(self.directory / f"{name}.png"))


class Evidence:
    """What a failed browser test leaves for whoever reads the failure: the page as it was (a full-page
    screenshot) and everything its console said, in the test's temporary directory."""

    def __init__(self, page: Any, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.console: list[str] = []
        page.on("console", lambda msg: self.console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda exc: self.console.append(f"[pageerror] {exc}"))
        page.on("requestfailed", lambda req: self.console.append(f"[requestfailed] {req.method} {req.url}"))

    def save(self) -> list[Path]:
        saved = []
        shot = self.directory / "failure.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True)
            saved.append(shot)
        except Exception as exc:  # the page may be gone with the failure; the log still says why
            self.console.append(f"[evidence] no screenshot: {exc}")
        log = self.directory / "console.log"
        log.write_text(f"url: {self.page.url}\n" + "\n".join(self.console) + "\n")
        saved.append(log)
        return saved


EVIDENCE = pytest.StashKey[Evidence]()


def pages(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page. The test's Evidence is kept on the test item:
    when the test fails, pytest_runtest_makereport (tests/e2e/conftest.py) saves it and names the files in
    the failure's report."""
    context = browser.new_context(viewport=VIEWPORT)
    # Generous: JupyterLab's first load is some megabytes of scripts, on two cores shared with the cluster,
    # the hub and the servers (and on a busy machine, with other work).
    context.set_default_timeout(60_000)
    context.set_default_navigation_timeout(120_000)
    context.add_init_script(RECORD_PROGRESS)
    page = context.new_page()
    request.node.stash[EVIDENCE] = Evidence(page, tmp_path)
    try:
        yield page
    finally:
        context.close()


def save_evidence(item: pytest.Item, report: pytest.TestReport) -> None:
    evidence = item.stash.get(EVIDENCE, None)
    if evidence is not None and report.failed:
        saved = evidence.save()
        report.sections.append(("browser", "saved: " + ", ".join(str(p) for p in saved)))
