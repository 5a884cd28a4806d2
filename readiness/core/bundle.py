"""Where the data a run needs lives: profiles/, suites/ and load/ of the source tree, or their copies
inside the installed package.

The repository keeps these folders at its top level; a wheel cannot install them there, so the build
(`readiness._build`) copies them into ``readiness/_bundle/`` together with the project's pytest settings.
A source checkout (editable install, tox, CI) uses the folders themselves.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # readiness/
#: the folders the build copies into the wheel, in the order they are copied
BUNDLED = ("profiles", "suites", "load")
#: the project's pytest settings, copied into the bundle so a run from any folder reads them
SETTINGS_FILE = "pyproject.toml"


def _checkout() -> Path | None:
    root = PACKAGE_DIR.parent
    if (root / SETTINGS_FILE).is_file() and all((root / name).is_dir() for name in BUNDLED[:2]):
        return root
    return None


def root() -> Path:
    """The folder holding profiles/, suites/, load/ and the pytest settings (pytest's rootdir for a run)."""
    checkout = _checkout()
    if checkout is not None:
        return checkout
    bundle = PACKAGE_DIR / "_bundle"
    if (bundle / "profiles").is_dir():
        return bundle
    raise FileNotFoundError(
        f"neither a source checkout ({PACKAGE_DIR.parent}) nor the installed bundle ({bundle}) holds profiles/: "
        "reinstall prefect-readiness (pip install prefect-readiness, or pip install . from a checkout)"
    )


def path(name: str) -> Path:
    """profiles/, suites/ or load/ (see :data:`BUNDLED`), wherever this installation keeps it."""
    try:
        return root() / name
    except FileNotFoundError:
        return PACKAGE_DIR.parent / name
