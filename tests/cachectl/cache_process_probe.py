"""A second worker process for the propagation tests (run as ``python -m tests.cachectl.cache_process_probe``).

It initialises like a gunicorn/Celery worker, then does a feature-cache lookup every 50 ms (as request
traffic would) and prints one JSON line per observed change of its cache settings or of its cached keys.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadml_site.settings")


def main() -> int:
    import django

    django.setup()
    from cachectl.holder import holder
    from cachectl.services import feature_cache_get
    from cadml_site.process_state import run_process_initializers

    run_process_initializers()
    watch = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    seconds = float(sys.argv[1])
    probe_sha = "0" * 64
    last = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        feature_cache_get(sha256=probe_sha, version="v0")
        cache = holder.cache()
        state = {"capacity": cache.capacity, "ttl_seconds": cache.ttl_seconds, "policy": cache.policy,
                 "cached": sorted(sha for sha, version in watch if cache.peek((sha, version)) is not None)}
        if state != last:
            print(json.dumps({**state, "pid": os.getpid(), "at": time.time()}), flush=True)
            last = state
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
