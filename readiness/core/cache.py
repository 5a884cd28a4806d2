"""Where prefect-readiness keeps what it builds once and reuses: compiled binaries, templates, UI assets,
validated profiles.

`READINESS_CACHE`, else `~/.cache/prefect-readiness`; entries are keyed by version by their users.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("READINESS_CACHE", Path.home() / ".cache" / "prefect-readiness"))
