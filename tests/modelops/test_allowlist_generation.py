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


def test_system_checks_pass_with_the_shipped_allowlist():
    from modelops.checks import modelops_allowlist_check

    assert modelops_allowlist_check(None) == []


def test_system_check_reports_names_that_do_not_resolve(monkeypatch):
    from modelops import checks
    from modelops.security import allowlist as allowlist_module

    broken = AllowList(globals={"sklearn.tree._classes:NoSuchTree": frozenset({"newobj"})})
    monkeypatch.setattr(allowlist_module, "default_allowlist", lambda: broken)
    errors = checks.modelops_allowlist_check(None)
    assert [e.id for e in errors] == ["modelops.E002"] and "NoSuchTree" in errors[0].msg
