"""``python -m features.parse_service --socket PATH [options]``: run the host's parse service in the foreground.

Normally started by `supervisor.ParseServiceSupervisor` (the gunicorn master, a Celery worker) with the values of
the ``CADML_PARSE_*`` settings; exits 0 on SIGTERM/SIGINT (or when ``--parent-pid`` is gone) and
``EXIT_ALREADY_SERVING`` (75) when another service holds the socket's lock.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from features.parse_workers.pool import DEFAULT_MAX_TASKS_PER_WORKER, ParsePool

from .protocol import DEFAULT_MAX_DATA_BYTES
from .server import EXIT_ALREADY_SERVING, ParseService, ServiceAlreadyServing, install_signal_handlers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m features.parse_service", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit-bytes", type=int, default=2 * 1024**3, help="0: no limit")
    parser.add_argument("--timeout-seconds", type=float, default=30.0)
    parser.add_argument("--max-tasks-per-worker", type=int, default=DEFAULT_MAX_TASKS_PER_WORKER)
    parser.add_argument("--entity-budget", type=int, default=None, help="DXF entity budget (parser option)")
    parser.add_argument("--max-depth", type=int, default=None, help="DXF block depth (parser option)")
    parser.add_argument("--max-data-bytes", type=int, default=DEFAULT_MAX_DATA_BYTES)
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is no longer the parent")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    options = {key: value for key, value in (("entity_budget", args.entity_budget), ("max_depth", args.max_depth))
               if value is not None}
    pool = ParsePool(
        workers=args.workers,
        memory_limit_bytes=args.memory_limit_bytes or None,
        timeout_seconds=args.timeout_seconds,
        max_tasks_per_worker=args.max_tasks_per_worker,
        parser_options=options,
    )
    service = ParseService(args.socket, pool, max_data_bytes=args.max_data_bytes, parent_pid=args.parent_pid)
    try:
        service.bind()
    except ServiceAlreadyServing as exc:
        logging.getLogger("cadml.parse_service").info("%s", exc)
        return EXIT_ALREADY_SERVING
    install_signal_handlers(service)
    service.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
