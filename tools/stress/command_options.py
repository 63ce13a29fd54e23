"""Options shared by the three stress_* management commands (Django-free: plain argparse)."""

from __future__ import annotations

import argparse

from tools.stress.client import StressClient


def add_server_arguments(parser: argparse.ArgumentParser, *, ops: bool) -> None:
    parser.add_argument("--url", required=True,
                        help="Base URL of the live server (loopback only), e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", required=True, help="X-API-Key of an API client.")
    parser.add_argument("--admin-token", required=ops, default=None,
                        help=("X-Admin-Token of an active staff user (sensitive operations)." if ops
                              else argparse.SUPPRESS))
    parser.add_argument("--metrics-token", default=None,
                        help="Bearer token for the server's /metrics (its CADML_METRICS_TOKEN); default: this "
                             "process's CADML_METRICS_TOKEN setting.")
    parser.add_argument("--timeout", type=float, default=30.0, help="Per-request timeout in seconds (default 30).")
    parser.add_argument("--feature-version", default="v4", help="Feature version to exercise (default v4).")


def add_bound_arguments(parser: argparse.ArgumentParser, *, duration: float, iterations: int) -> None:
    parser.add_argument("--duration", type=float, default=duration,
                        help=f"Stop after this many seconds (default {duration:g}, at most 3600).")
    parser.add_argument("--iterations", type=int, default=iterations,
                        help=f"Stop after this many iterations per thread or cycles (default {iterations}).")


def client_from_options(options: dict, *, metrics_token: str | None = None) -> StressClient:
    """``metrics_token`` is the default when ``--metrics-token`` is not given."""
    return StressClient(options["url"], api_key=options["api_key"], admin_token=options.get("admin_token"),
                        timeout=options["timeout"], metrics_token=options.get("metrics_token") or metrics_token)
