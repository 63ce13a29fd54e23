"""Static-scan throughput of our scanner against picklescan, on the same bytes in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_model_scan.py [--repeat 9]

Inputs (built in memory, deterministic):
  * a ~12 MB random forest (raw pickle, protocol 4) and the same model as a joblib file,
  * a histogram gradient boosting model (raw pickle, protocol 4),
  * a ~7 MB opcode-dense pickle (a list of small records: ~2 opcodes per 3 bytes).
For each: MB/s of ``modelops.security.scanner.scan`` (blacklist and whitelist) and of
``picklescan.scanner.scan_pickle_bytes`` (best of --repeat runs, interleaved with ours), plus the full intake+scan and restricted-load
times of ours. picklescan does not understand joblib's raw array layout, so joblib is timed for ours only.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import joblib  # noqa: E402
import numpy as np  # noqa: E402

from modelops.security.allowlist import default_allowlist  # noqa: E402
from modelops.security.intake import IntakeLimits, intake_bytes  # noqa: E402
from modelops.security.loader import restricted_load  # noqa: E402
from modelops.security.scanner import scan  # noqa: E402

logging.getLogger("picklescan").setLevel(logging.CRITICAL)


def random_forest_bytes(target_mb: float = 12.0) -> tuple[object, bytes]:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 24))
    y = (X[:, 0] + rng.normal(scale=1.5, size=4000) > 0).astype(int) + (X[:, 1] > 0.5)
    per_tree = len(pickle.dumps(RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), protocol=4)) / 2
    n = max(1, int(target_mb * 1e6 / per_tree))
    model = RandomForestClassifier(n_estimators=n, random_state=0).fit(X, y)
    return model, pickle.dumps(model, protocol=4)


def hist_gradient_boosting_bytes() -> bytes:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, 24))
    y = (X[:, :5].sum(axis=1) > 0).astype(int) + (X[:, 5] > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = HistGradientBoostingClassifier(max_iter=300, max_leaf_nodes=63, early_stopping=False,
                                               random_state=0).fit(X, y)
    return pickle.dumps(model, protocol=4)


def opcode_dense_bytes(target_mb: float = 7.0) -> bytes:
    records, size = [], 0
    i = 0
    while size < target_mb * 1e6:
        chunk = [(i + k, (i + k) * 0.5, i % 7 == 0, None) for k in range(10_000)]
        records.extend(chunk)
        i += 10_000
        size = len(pickle.dumps(records, protocol=4)) if i % 100_000 == 0 else size
    return pickle.dumps(records, protocol=4)


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def picklescan_time(data: bytes, repeat: int) -> tuple[float, str]:
    from picklescan.scanner import scan_pickle_bytes

    result = None

    def run():
        nonlocal result
        result = scan_pickle_bytes(io.BytesIO(data), "bench")

    seconds = best_of(repeat, run)
    return seconds, f"issues={result.issues_count} scan_err={result.scan_err}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    allowlist = default_allowlist()
    rf, rf_pickle = random_forest_bytes()
    buf = io.BytesIO()
    joblib.dump(rf, buf, protocol=4)
    inputs = [
        ("random forest (pickle p4)", rf_pickle, True),
        ("random forest (joblib p4)", buf.getvalue(), False),
        ("hist gradient boosting (pickle p4)", hist_gradient_boosting_bytes(), True),
        ("opcode-dense list (pickle p4)", opcode_dense_bytes(), True),
    ]
    print(f"{'input':38} {'MB':>6} {'opcodes':>9} {'ours bl':>9} {'ours wl':>9} {'picklescan':>10}  "
          f"{'ratio':>6}  {'intake+scan':>11} {'load':>7}")
    for name, data, compare in inputs:
        mb = len(data) / 1e6
        blob = intake_bytes(data, limits=IntakeLimits(max_bytes=1 << 30))
        report = scan(blob.payload, mode="whitelist", allowlist=allowlist)
        assert report.clean, report.findings
        # Interleave ours and picklescan so both see the same machine load; keep the best of each.
        t_bl = t_wl = t_ps = float("inf")
        ps_note = ""
        for _ in range(args.repeat):
            t_bl = min(t_bl, best_of(1, lambda: scan(data, mode="blacklist", allowlist=allowlist)))
            t_wl = min(t_wl, best_of(1, lambda: scan(data, mode="whitelist", allowlist=allowlist)))
            if compare:
                seconds, ps_note = picklescan_time(data, 1)
                t_ps = min(t_ps, seconds)
        t_intake = best_of(args.repeat, lambda: scan(intake_bytes(data, limits=IntakeLimits(max_bytes=1 << 30)).payload,
                                                     mode="blacklist", allowlist=allowlist))
        t_load = best_of(max(1, args.repeat // 2), lambda: restricted_load(data, allowlist=allowlist))
        if compare:
            ps_col = f"{mb / t_ps:8.1f}MB/s"
            ratio = f"{t_ps / t_bl:5.2f}x"
        else:
            ps_col, ratio = "       n/a", "   n/a"
        print(f"{name:38} {mb:6.2f} {report.n_opcodes:9d} {mb / t_bl:7.1f}MB/s {mb / t_wl:7.1f}MB/s {ps_col}  "
              f"{ratio:>6}  {t_intake * 1000:9.1f}ms {t_load * 1000:5.0f}ms  {ps_note}")


if __name__ == "__main__":
    main()
