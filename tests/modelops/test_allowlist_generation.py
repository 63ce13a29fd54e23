"""The shipped allow-list is exactly what the builder generates from our pinned libraries."""

from __future__ import annotations

import json

from modelops.security.allowlist import ALLOWLIST_PATH, AllowList
from modelops.security.allowlist_builder import build_allowlist


def test_shipped_allowlist_matches_a_fresh_generation():
    with open(ALLOWLIST_PATH, encoding="utf-8") as fh:
        shipped = json.load(fh)
    fresh = build_allowlist().to_dict()
    assert fresh == shipped


def test_allowlist_has_exact_names_only(allowlist: AllowList):
    assert allowlist.globals and allowlist.opcodes and allowlist.estimators
    for key in allowlist.globals:
        module, sep, name = key.partition(":")
        assert sep and module and name and "*" not in key
    assert not {"os:system", "posix:system", "builtins:eval", "builtins:exec", "builtins:getattr"} & set(allowlist.globals)
    assert "PERSID" not in allowlist.opcodes and "EXT1" not in allowlist.opcodes
