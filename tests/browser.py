"""Headless Chromium for tests that must see a page as a browser does: media loaded, a screenshot taken.

Driver: the ``playwright`` Python package (a dev dependency) driving Debian's ``chromium`` (installed by
``make tools``) through ``executable_path``. Playwright's own browser download is never used, so nothing but
PyPI and Debian is needed. The package need not match the browser's build: Playwright 1.58, 1.60 and 1.65
(the locks' and the newest) all drive Debian's Chromium 156. Unlike ``chromium --headless --dump-dom``, it
waits until every video has loaded its metadata and reads ``readyState``/``duration`` directly.

Usage::

    from browser import chromium_page, media_report, wait_for_media

    with chromium_page() as page:
        page.goto(path.as_uri())
        wait_for_media(page)
        report = media_report(page)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = [
    "CHROMIUM_ENV",
    "ImageState",
    "MediaReport",
    "VideoState",
    "chromium_executable",
    "chromium_page",
    "media_report",
    "screenshot",
    "wait_for_media",
]

#: Set to a Chromium binary to use instead of the ``chromium`` on PATH.
CHROMIUM_ENV = "KIE_TEST_CHROMIUM"


class VideoState(TypedDict):
    """A ``<video>`` element as the browser sees it (``readyState`` >= 1: metadata loaded)."""

    src: str
    ready_state: int
    duration: float | None
    width: int
    height: int
    error: int | None


class ImageState(TypedDict):
    """An ``<img>`` element: loaded when complete with a natural size."""

    src: str
    complete: bool
    width: int
    height: int


class MediaReport(TypedDict):
    videos: list[VideoState]
    images: list[ImageState]


# Settled: every video has metadata (readyState >= 1, HAVE_METADATA) or an error, every image is complete.
_MEDIA_SETTLED = """() =>
    [...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error !== null)
    && [...document.images].every(i => i.complete)"""

# NaN and Infinity do not survive the trip to Python as numbers: an unknown duration comes back as null.
_MEDIA_STATE = """() => ({
    videos: [...document.querySelectorAll('video')].map(v => ({
        src: v.currentSrc, ready_state: v.readyState,
        duration: Number.isFinite(v.duration) ? v.duration : null,
        width: v.videoWidth, height: v.videoHeight, error: v.error ? v.error.code : null,
    })),
    images: [...document.images].map(i => ({
        src: i.currentSrc, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    })),
})"""


def chromium_executable() -> str:
    """The Chromium binary to drive: ``$KIE_TEST_CHROMIUM``, else ``chromium`` on PATH; fails the test
    (not skips: a browser check that silently does not run checks nothing) when there is none."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        pytest.fail(
            f"no Chromium found (set {CHROMIUM_ENV} or run `make tools`, which installs Debian's chromium)"
        )
    return found


@contextmanager
def chromium_page(*, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A fresh page in headless Chromium with a ``width`` x ``height`` viewport; the browser closes after."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the `playwright` package is missing: it is a dev dependency (`make venv` installs it)")
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            # Chromium's sandbox cannot start as root or without user namespaces (CI containers); the pages
            # loaded here are the test's own local files.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_for_media(page: Page, timeout: float = 20.0) -> None:
    """Wait until every ``<video>`` has its metadata (or failed) and every ``<img>`` finished loading."""
    page.wait_for_function(_MEDIA_SETTLED, timeout=timeout * 1000)


def media_report(page: Page) -> MediaReport:
    """What the browser loaded: each ``<video>``'s state and each ``<img>``'s size, in document order."""
    report: MediaReport = page.evaluate(_MEDIA_STATE)
    return report


def screenshot(
    page: Page, path: str | os.PathLike[str], *, full_page: bool = True, settle: float = 1.5
) -> Path:
    """Save a PNG of the page (the whole scrollable page by default) and return its path.

    :param settle: seconds to let the page come to rest first. Chromium's video controls keep their loading
        spinner until its animation cycle ends, about a second after the metadata loaded; the spinner lives
        in the controls' closed shadow DOM, so there is nothing to wait *for*. Cosmetic only: checks of the
        page never depend on it.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if settle > 0:
        page.wait_for_timeout(settle * 1000)
    page.screenshot(path=str(out), full_page=full_page)
    return out
