"""`enact ui` in a real headless Chromium (Debian's ``chromium``, driven by playwright).

The store is written by a real agent in another process (`helpers.ui_make_store`),
the UI is the installed ``enact ui`` command in a subprocess, and the pages
are driven as a user would: list, filter, open a tree, answer through the
form, diff. Every page is saved as a screenshot under the test's tmp_path,
and no page may log a console error or open a dialog.

Without a browser (or playwright) these tests skip, saying why; under
``ENACT_REQUIRE_BROWSER=1`` (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

TESTS = pathlib.Path(__file__).parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(reason: str) -> None:
    if os.environ.get("ENACT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (ENACT_REQUIRE_BROWSER=1 requires the browser tests to run)")
    pytest.skip(reason)


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("no Chromium: apt-get install chromium (Debian) to run the browser tests")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ENACT_STORE", "ENACT_IMPORT")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return env


def _enact(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "enact", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )


class Server:
    def __init__(self, url: str, store: str) -> None:
        self.url = url.rstrip("/")
        self.store = store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One store and one `enact ui` for the module (the tests run in file order)."""
    store = f"sqlite:///{tmp_path_factory.mktemp('ui-store')}/store.db"
    subprocess.run(
        [sys.executable, "-m", "helpers.ui_make_store", store],
        check=True,
        env=_env(),
        timeout=120,
    )
    command = [sys.executable, "-m", "enact", "--store", store, "--import", "helpers.ui_agent"]
    process = subprocess.Popen(
        [*command, "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "http://" not in line:
            process.kill()
            _, err = process.communicate(timeout=30)
            pytest.fail(f"enact ui did not print its URL: {line!r} {err!r}")
        yield Server(line.split(" at ", 1)[1].strip(), store)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


class Pages:
    """A browser page that records console errors and dialogs, and saves screenshots."""

    def __init__(self, browser: Any, directory: pathlib.Path) -> None:
        self.page = browser.new_page()
        self.directory = directory
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

    def shot(self, name: str) -> pathlib.Path:
        path = self.directory / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    def check(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"


@pytest.fixture
def pages(browser: Any, tmp_path: pathlib.Path) -> Iterator[Pages]:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    opened = Pages(browser, shots)
    yield opened
    opened.page.close()


def _rows(pages: Pages) -> list[str]:
    return [text.strip() for text in pages.page.locator("a.run-link").all_inner_texts()]


def test_run_list_filters_live_rows_and_a_tree(server: Server, pages: Pages) -> None:
    """List runs, filter by status, see a new run appear, open a run's collapsible tree."""
    page = pages.page
    page.goto(server.url + "/runs")
    assert len(_rows(pages)) == 8
    pages.shot("runs")
    page.select_option("#filter-status", "waiting")
    page.click("#filter-apply")
    page.wait_for_url("**status=waiting**")
    assert _rows(pages) == ["hostile", "ask-1", "review-2", "review-1"]
    pages.shot("runs-waiting")

    page.goto(server.url + "/runs")
    code = (
        "import sys, enact; from helpers import ui_agent\n"
        "with enact.open_store(sys.argv[1]):\n"
        "    enact.invoke(ui_agent.total, ([7, 8],), run_id='total-live')\n"
    )
    subprocess.run([sys.executable, "-c", code, server.store], check=True, env=_env())
    page.wait_for_selector("a.run-link:text-is('total-live')", timeout=20_000)
    assert _rows(pages)[0] == "total-live"  # polled in, newest first
    pages.shot("runs-live")

    page.click("a.run-link:text-is('total-a')")
    page.wait_for_selector("#tree")
    assert "total([1, 2, 3])" in page.inner_text("#tree")
    root = page.locator("li.call[data-path=''] > details")
    square = page.locator("li.call[data-path='2']")
    assert root.get_attribute("open") is not None and square.is_visible()
    assert not square.locator("dl.detail").is_visible()
    square.locator("details.io > summary").click()  # show the call's input and output
    assert "CallArgs(args=[3]" in square.locator("dl.detail").inner_text()
    root.locator("> summary").click()  # collapse the root call: its children hide
    assert root.get_attribute("open") is None and not square.is_visible()
    root.locator("> summary").click()
    assert square.is_visible()
    pages.shot("run-tree")

    page.goto(server.url + "/runs/wide")  # 331 calls: the last ones load when opened
    lazy = page.locator("li.call[data-path='29'] > details")
    assert lazy.get_attribute("hx-get") is not None
    assert page.locator("li.call[data-path='29.0']").count() == 0
    lazy.locator("> summary").click()
    page.wait_for_selector("li.call[data-path='29.9']")
    assert "square(38)" in page.inner_text("li.call[data-path='29']")
    pages.shot("run-tree-loaded")
    pages.check()


def test_hostile_stored_strings_stay_text(server: Server, pages: Pages) -> None:
    """A stored <script> shows as text and runs nothing (no dialog, no console error)."""
    page = pages.page
    page.goto(server.url + "/runs/hostile")
    assert "<script>alert('pwned')</script> {{ 7*7 }} javascript:alert(1)" in page.inner_text(
        "#tree"
    )
    assert page.locator("a[href^='javascript:']").count() == 0
    pages.shot("hostile")
    pages.check()


def test_answer_through_the_form(server: Server, pages: Pages) -> None:
    """A wrong value shows the field's error; a right one continues the run to complete."""
    page = pages.page
    page.goto(server.url + "/inbox")
    pages.shot("inbox")
    page.click("tr.pending-row:has(a:text-is('review-1')) a.answer-link")
    page.wait_for_selector("#answer-form")
    assert "Hi dana," in page.inner_text("pre.for-value")
    pages.shot("answer-form")
    page.select_option("[name='answer.approved']", "yes")
    page.fill("[name='answer.retries']", "many")
    page.fill("[name='answer.address.city']", "Oslo")
    page.click("#answer-continue")
    page.wait_for_selector(".field-error[data-for='answer.retries']")
    assert "expected int, got 'many'" in page.inner_text(".field-error[data-for='answer.retries']")
    pages.shot("answer-error")
    log = _enact("--store", server.store, "log")
    assert any("review-1" in line and "waiting" in line for line in log.stdout.splitlines())

    page.fill("[name='answer.retries']", "3")
    page.select_option("[name='answer.tone']", "FORMAL")
    page.click("#answer-continue")
    page.wait_for_selector("#notice")
    assert page.inner_text("#run-status") == "complete"
    assert "sent to Oslo (formal, 3)" in page.inner_text("#tree")
    pages.shot("answered")
    log = _enact("--store", server.store, "log")
    assert log.returncode == 0, log.stderr
    row = next(line for line in log.stdout.splitlines() if line.rstrip().endswith("review-1"))
    assert "complete" in row
    pages.check()


def test_diff_two_runs(server: Server, pages: Pages) -> None:
    """The diff page compares two runs: reused calls and the ones that differ."""
    page = pages.page
    page.goto(server.url + "/diff")
    page.fill("#diff-a", "total-a")
    page.fill("#diff-b", "total-b")
    page.click("#diff-go")
    page.wait_for_selector("#diff-summary")
    assert "2 calls differ; 2 identical (reused)" in page.inner_text("#diff-summary")
    assert page.locator("tr.kind-same").count() == 2
    pages.shot("diff")
    pages.check()
