"""The `parser_pool` health section: this process's parse workers, or the host's parse service's (with its pid,
``service_pid``, the same from every worker that shares it)."""

from __future__ import annotations

from features.parse_pool import parse_pool_status


def parser_pool_health() -> dict:
    status = parse_pool_status()
    if status is None:
        return {"status": "ok", "started": False, "detail": "starts on the first upload in this process"}
    alive, workers = status["alive"], status["workers"]
    if status.get("starting"):
        state = "degraded"  # the host's parse service is importing the parsers into its forkserver
    elif status["closed"] or alive == 0:
        state = "down"
    elif alive < workers:
        state = "degraded"  # a replacement is starting
    else:
        state = "ok"
    # health is open to anyone: no pids of workers, no filesystem path, no exception text
    section = {"status": state, **{k: v for k, v in status.items() if k not in ("pids", "socket", "error")}}
    if "error" in status:
        section["error"] = "parse_service_unreachable"
    return section
