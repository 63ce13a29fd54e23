"""The pool limits of the settings reach the host's parse service exactly as they reach an in-process pool."""

from __future__ import annotations

from features.parse_pool import _build, parse_service_supervisor
from features.parse_service.__main__ import build_parser


def test_the_service_is_started_with_the_settings_limits(settings, tmp_path):
    settings.CADML_PARSE_SERVICE_SOCKET = str(tmp_path / "parse.sock")
    settings.CADML_PARSE_WORKERS = 3
    settings.CADML_PARSE_MEMORY_LIMIT_BYTES = 123_456_789
    settings.CADML_PARSE_TIMEOUT_SECONDS = 7.5
    settings.CADML_DXF_ENTITY_BUDGET = 4321
    settings.CADML_DXF_MAX_BLOCK_DEPTH = 5
    settings.CADML_UPLOAD_MAX_BYTES = 9_999_999
    args = build_parser().parse_args(["--socket", settings.CADML_PARSE_SERVICE_SOCKET,
                                      *parse_service_supervisor().service_args])
    assert (args.workers, args.memory_limit_bytes, args.timeout_seconds) == (3, 123_456_789, 7.5)
    assert (args.entity_budget, args.max_depth, args.max_data_bytes) == (4321, 5, 9_999_999)


def test_an_in_process_pool_gets_the_same_limits(settings):
    settings.CADML_PARSE_SERVICE_SOCKET = ""
    settings.CADML_PARSE_WORKERS = 3
    settings.CADML_PARSE_MEMORY_LIMIT_BYTES = 123_456_789
    settings.CADML_PARSE_TIMEOUT_SECONDS = 7.5
    settings.CADML_DXF_ENTITY_BUDGET = 4321
    settings.CADML_DXF_MAX_BLOCK_DEPTH = 5
    pool = _build()  # not started: no worker process
    assert (pool.size, pool.memory_limit_bytes, pool.timeout_seconds) == (3, 123_456_789, 7.5)
    assert pool.parser_options == {"entity_budget": 4321, "max_depth": 5}
