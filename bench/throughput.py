"""Shared by the parser throughput benchmarks: time repeated runs, print MB/s against a target."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timed_runs(run: Callable[[], T], repeat: int) -> tuple[T, list[float], list[float]]:
    """One warm-up call, then ``repeat`` timed calls: (last result, wall seconds, CPU seconds of the process)."""
    run()
    seconds, cpu = [], []
    result = None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return result, seconds, cpu


def print_throughput(size_mb: float, seconds: list[float], cpu: list[float], target_mb_s: float) -> bool:
    """Prints median/best MB/s and the CPU-time rate; True when the median meets ``target_mb_s``."""
    median = statistics.median(seconds)
    print(f"  throughput median {size_mb / median:.0f} MB/s  best {size_mb / min(seconds):.0f} MB/s"
          f"  (target >= {target_mb_s:.0f} MB/s)")
    print(f"  CPU time median {statistics.median(cpu) * 1000:.0f} ms = {size_mb / statistics.median(cpu):.0f} MB/s"
          f" per core; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return size_mb / median >= target_mb_s


def report_runs(title: str, size_mb: float, seconds: list[float], cpu: list[float], target_mb_s: float) -> int:
    """Prints ``title``, the median/best/worst run time and the throughput; the exit status (0 when the median
    meets ``target_mb_s``, else 1)."""
    print(title)
    print(f"  median {statistics.median(seconds) * 1000:.1f} ms  best {min(seconds) * 1000:.1f} ms"
          f"  worst {max(seconds) * 1000:.1f} ms")
    return 0 if print_throughput(size_mb, seconds, cpu, target_mb_s) else 1
