"""Browser tests: the real pages in headless Chromium, driven by Playwright, against
pytest-django's live server. The live server needs a transactional database, which is emptied
after each test; mark the tests `django_db(transaction=True, serialized_rollback=True)` so each
starts from the migrated database (roles, rates, calendar) and the flush leaves no re-created
content types behind to clash with the next serialized test.

Playwright cannot download its own browser here, so these use Debian's /usr/bin/chromium
(`make test` installs it). Set BROWSER_SCREENSHOTS=1 to keep a full-page screenshot of each
step in a temporary folder (its path is printed), or BROWSER_SCREENSHOTS=/some/folder."""

import os
import re
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

# Playwright's sync API keeps an asyncio event loop running in this thread, and Django refuses
# ORM calls from a thread with a running loop. The tests only ever call the ORM synchronously
# between browser steps, which is safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass12345"


@pytest.fixture
def page(transactional_db, live_server) -> Page:
    """A fresh browser per test, started after the database is set up and stopped before it is
    flushed: while Playwright runs, ORM calls get a connection of their own (its greenlet has its
    own context), and the test case's setup and flush must use the test runner's connection."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            viewport={"width": 1366, "height": 900},
            extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        expect.set_options(timeout=10_000)
        yield page
        # Close the connection the test's own ORM calls opened in Playwright's context (the
        # test runner's connection is another one), or the test database cannot be dropped.
        connections.close_all()
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory, pytestconfig) -> Path | None:
    wanted = os.environ.get("BROWSER_SCREENSHOTS", "")
    if not wanted or wanted == "0":
        return None
    folder = tmp_path_factory.mktemp("screenshots") if wanted == "1" else Path(wanted)
    folder.mkdir(parents=True, exist_ok=True)
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nBrowser screenshots in {folder}")
    return folder


@pytest.fixture
def shot(page, screenshot_dir, request):
    """`shot("step-name")` saves a full-page screenshot when BROWSER_SCREENSHOTS asks for it."""
    count = 0

    def take(name: str) -> None:
        nonlocal count
        if screenshot_dir is None:
            return
        count += 1
        test = re.sub(r"\W+", "-", request.node.name)
        page.screenshot(path=screenshot_dir / f"{test}-{count:02d}-{name}.png", full_page=True)

    return take


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form [type=submit]")
