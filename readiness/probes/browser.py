"""The one real browser the checks and tests drive: Debian's Chromium through Playwright.

Playwright cannot download a browser on a closed network, and the system one is kept up to date, so
every launch points at it, headless, with the background traffic (updates, sync, component downloads)
turned off: on a machine without internet those connections only fail and slow the start.
"""

from __future__ import annotations

from pathlib import Path

from readiness.core.expect import CheckError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",  # needed as root, as in a container
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path(path: str = CHROMIUM) -> str:
    """The browser's path, or a CheckError saying how to install it."""
    if not Path(path).exists():
        raise CheckError(f"no browser at {path}: install Debian's chromium (apt-get install chromium)")
    return path
