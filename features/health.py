"""The `parser_pool` health section: this process's parse workers."""

from __future__ import annotations

from features.parse_pool import parse_pool_status


def parser_pool_health() -> dict:
    status = parse_pool_status()
    if status is None:
        return {"status": "ok", "started": False, "detail": "starts on the first upload in this process"}
    alive, workers = status["alive"], status["workers"]
    if status["closed"] or alive == 0:
        state = "down"
    elif alive < workers:
        state = "degraded"  # a replacement is starting
    else:
        state = "ok"
    return {"status": state, **{k: v for k, v in status.items() if k != "pids"}}
