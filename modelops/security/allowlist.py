"""The allow-list: exact global names (with how each may be used), the opcode set and top-level model types.

It is generated from audit-mode scans of reference models trained with our pinned scikit-learn and numpy
(``python -m modelops.security.allowlist_builder`` rewrites ``allowlist.json``); entries are exact
``module:name`` keys, never module prefixes.

Uses of a global: ``reduce`` (callable of REDUCE), ``newobj`` (class of NEWOBJ/NEWOBJ_EX), ``value``
(stored in a container or object state). A global passed as an argument is allowed only where
``arg_globals[callable][position]`` names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ALLOWLIST_PATH = Path(__file__).with_name("allowlist.json")
USES = ("reduce", "newobj", "value")


@dataclass(frozen=True)
class AllowList:
    globals: dict[str, frozenset[str]] = field(default_factory=dict)
    arg_globals: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)
    opcodes: frozenset[str] = frozenset()
    estimators: frozenset[str] = frozenset()
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "AllowList":
        return cls(
            globals={k: frozenset(v["uses"]) for k, v in data.get("globals", {}).items()},
            arg_globals={k: {int(pos): frozenset(names) for pos, names in v.items()}
                         for k, v in data.get("arg_globals", {}).items()},
            opcodes=frozenset(data.get("opcodes", ())),
            estimators=frozenset(data.get("estimators", ())),
            meta=dict(data.get("meta", {})),
        )

    def to_dict(self) -> dict:
        return {
            "meta": self.meta,
            "opcodes": sorted(self.opcodes),
            "estimators": sorted(self.estimators),
            "globals": {k: {"uses": sorted(v)} for k, v in sorted(self.globals.items())},
            "arg_globals": {k: {str(p): sorted(n) for p, n in sorted(v.items())}
                            for k, v in sorted(self.arg_globals.items())},
        }


EMPTY_ALLOWLIST = AllowList()


@lru_cache(maxsize=1)
def default_allowlist() -> AllowList:
    with open(ALLOWLIST_PATH, encoding="utf-8") as fh:
        return AllowList.from_dict(json.load(fh))
