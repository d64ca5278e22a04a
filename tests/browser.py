"""Chromium for the browser tests: Debian's build driven by Playwright, one per test module.

Loaded as a plugin by the root conftest; a browser test module marks itself `needs_chromium`.
"""

import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs Debian's chromium (.ci/run installs it: apt-get install chromium)",
)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium: pytest-playwright looks for a browser of its own download."""
    return {
        **browser_type_launch_args,
        "executable_path": shutil.which("chromium"),
        "args": ["--no-sandbox"],
    }


@pytest.fixture(scope="module")
def playwright():
    """One Playwright per module, not per session (the plugin's scope).

    Sync Playwright marks its asyncio loop as running in this thread while it lives:
    later modules on this xdist worker would fail in asyncio.run(), and Django refuses
    ORM calls under a running loop. So it lives for this module only, and meanwhile
    Django is told that the loop is Playwright's and does not run our code.
    """
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as started:
            yield started
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def browser(browser_type, browser_type_launch_args):
    """One browser for the module; each test opens contexts of its own."""
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def browser_context_args():
    """The plugin's depends on its session-wide Playwright; the tests need no options."""
    return {}
