"""Regenerate ``allowlist.json`` from audit-mode scans of reference models.

    python -m modelops.security.allowlist_builder            # rewrite modelops/security/allowlist.json
    python -m modelops.security.allowlist_builder --check    # exit 1 if the shipped file is stale

Every supported estimator type is fitted in several variants (binary and multi-class, string and integer
labels, every neighbour-tree algorithm) with the pinned scikit-learn/numpy/joblib, serialised at every
protocol as pickle and as plain and compressed joblib, and scanned in ``audit`` mode with an empty
allow-list. What the scans saw becomes the allow-list: exact global names with their uses, the globals
seen as arguments (per callable and position), the opcode set and the top-level model types.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

from .allowlist import ALLOWLIST_PATH, EMPTY_ALLOWLIST, AllowList
from .intake import IntakeLimits, intake_bytes
from .reference_models import CONTAINERS, ESTIMATOR_TYPES, PROTOCOLS, fit_reference, serialise
from .scanner import scan

_VARIANTS: list[tuple[str, dict]] = [
    (kind, {"n_classes": n_classes, "string_labels": labels})
    for kind in ESTIMATOR_TYPES for n_classes in (2, 3) for labels in (True, False)
] + [("k_neighbors", {"n_classes": 3, "algorithm": algo}) for algo in ("kd_tree", "ball_tree", "brute")]


def _fit(kind: str, options: dict):
    options = dict(options)
    algorithm = options.pop("algorithm", None)
    model = fit_reference(kind, **options)
    if algorithm is not None:
        from sklearn.neighbors import KNeighborsClassifier

        from .reference_models import make_dataset

        X, y = make_dataset(n_classes=options.get("n_classes", 3))
        model = KNeighborsClassifier(n_neighbors=3, algorithm=algorithm).fit(X, y)
    return model


def build_allowlist() -> AllowList:
    import joblib
    import numpy
    import sklearn

    uses: dict[str, set] = {}
    arg_globals: dict[str, dict[int, set]] = {}
    opcodes: set[str] = set()
    estimators: set[str] = set()
    for kind, options in _VARIANTS:
        model = _fit(kind, options)
        estimators.add(f"{type(model).__module__}:{type(model).__qualname__}")
        for protocol in PROTOCOLS:
            for container in CONTAINERS:
                blob = intake_bytes(serialise(model, container=container, protocol=protocol),
                                    limits=IntakeLimits())
                report = scan(blob.payload, mode="audit", allowlist=EMPTY_ALLOWLIST)
                opcodes.update(report.opcodes)
                for key, seen in report.global_uses.items():
                    uses.setdefault(key, set()).update(seen)
                for key in report.globals:
                    uses.setdefault(key, set())
                for key, by_pos in report.arg_globals.items():
                    for pos, names in by_pos.items():
                        arg_globals.setdefault(key, {}).setdefault(pos, set()).update(names)
    return AllowList(
        globals={k: frozenset(v) for k, v in uses.items()},
        arg_globals={k: {p: frozenset(n) for p, n in v.items()} for k, v in arg_globals.items()},
        opcodes=frozenset(opcodes),
        estimators=frozenset(estimators),
        meta={"generated_by": "python -m modelops.security.allowlist_builder",
              "python": platform.python_version(), "scikit-learn": sklearn.__version__,
              "numpy": numpy.__version__, "joblib": joblib.__version__,
              "variants": len(_VARIANTS), "protocols": list(PROTOCOLS), "containers": list(CONTAINERS)},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing")
    parser.add_argument("--output", default=str(ALLOWLIST_PATH))
    args = parser.parse_args(argv)
    text = json.dumps(build_allowlist().to_dict(), indent=1, sort_keys=True) + "\n"
    if args.check:
        with open(args.output, encoding="utf-8") as fh:
            current = fh.read()
        if current != text:
            print("allow-list is stale: regenerate with python -m modelops.security.allowlist_builder")
            return 1
        print("allow-list is up to date")
        return 0
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
