"""The `prefect-restart-during-load` scenario's restarter: waits for a load run to start (its work pool,
`readiness-load-<tag>`, appears), then restarts the Prefect server the way a container restart looks from
outside, and raises the restart count of the prefect-server pod's container in the sandbox API server, as
the kubelet reports a restarted container.

The restarted process is a second Prefect server started before the load (the scenario's apply): the
ingress is pointed at it, then the first one is stopped. Requests keep being answered (an ingress reload
is graceful), so the restart shows in the restart count and nowhere else, as with a container that a
liveness probe restarted while another replica took the traffic.

Run as `python -m readiness.sandbox.services.prefect_restart <sandbox root>` (a sandbox process).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from readiness.sandbox.base import SandboxContext
from readiness.sandbox.services.prefect import PrefectComponent, set_restart_count

#: seconds from the load's start to the restart
AFTER_S = 4.0


def load_started(component: PrefectComponent) -> bool:
    try:
        with component._client(timeout=5) as client:  # noqa: SLF001 - same package
            pools = client.post("/work_pools/filter", json={"work_pools": {"name": {"any_": None}}, "limit": 200})
            return pools.status_code == 200 and any(p["name"].startswith("readiness-load-") for p in pools.json())
    except (httpx.HTTPError, ValueError, KeyError):
        return False


def main(root: str) -> int:
    ctx = SandboxContext(Path(root))
    prefect = PrefectComponent(ctx)
    deadline = time.monotonic() + 900
    while not load_started(prefect):
        if time.monotonic() > deadline:
            print("no load run started within 900 s; nothing restarted", flush=True)
            return 1
        time.sleep(0.5)
    print(f"load started; restarting the Prefect server in {AFTER_S:g} s", flush=True)
    time.sleep(AFTER_S)
    prefect.hand_over_to_standby()
    pods = set_restart_count(ctx, None)
    print(f"Prefect server restarted; restart count raised on {', '.join(pods) or 'no pod (no Kubernetes)'}",
          flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
