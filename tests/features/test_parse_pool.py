"""The parse worker pool: warm workers, wall timeout with kill, memory limit, concurrency, size cap."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from features.parsers.dispatch import check_size, parse_document
from features.parsers.errors import CadParseError
from features.parse_workers.pool import ParsePool

from .cad_builders import make_ascii_stl, make_box_triangles, make_dxf_lines


def _vm_size_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_workers_are_warm_ocp_is_already_imported(parse_pool, cad_samples_dir):
    data = (cad_samples_dir / "step/pythonocc__test_ocaf.stp").read_bytes()
    parse_pool.parse("step", data)  # both workers are ready after start(); a small STEP is quick
    started = time.perf_counter()
    parse_pool.parse("step", data)
    assert time.perf_counter() - started < 0.5  # importing OCP alone takes about a second


def test_wall_timeout_kills_and_replaces_the_worker(parse_pool):
    data = make_dxf_lines(20_000)
    before = parse_pool.status()
    with pytest.raises(CadParseError) as caught:
        parse_pool.parse("dxf", data, timeout_seconds=0.05)
    assert caught.value.code == "parse_timeout"
    after = parse_pool.status()
    assert after["timeouts"] == before["timeouts"] + 1
    assert after["alive"] == after["workers"]
    assert parse_pool.parse("dxf", make_dxf_lines(3)).entity_count == 3


def test_memory_limit_stops_a_greedy_parse_and_the_worker_is_recycled(parse_pool):
    baseline = _vm_size_bytes(parse_pool.status()["pids"][0])
    pool = ParsePool(workers=1, memory_limit_bytes=baseline + 48 * 1024 * 1024).start()
    try:
        triangles = np.tile(make_box_triangles(), (20_000, 1, 1))  # 240k facets, ~50 MB of ASCII
        data = make_ascii_stl({"big": triangles})
        with pytest.raises(CadParseError) as caught:
            pool.parse("stl", data)
        assert caught.value.code == "parse_memory_limit"
        status = pool.status()
        assert status["memory_limit"] == 1 and status["replacements"] == 1
        assert pool.parse("stl", make_ascii_stl({"small": make_box_triangles()})).facets == 12
    finally:
        pool.shutdown()


def test_four_concurrent_parses(parse_pool, cad_samples_dir):
    files = [
        ("step/pythonocc__io1-ug-214.stp", "step"),
        ("dxf/cadquery__gear.dxf", "dxf"),
        ("obj/trimesh__fuze.obj", "obj"),
        ("iges/pythonocc__example_45_faces.iges", "iges"),
    ]
    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(
            executor.map(
                lambda item: parse_document((cad_samples_dir / item[0]).read_bytes(), name=None, pool=parse_pool),
                files,
            )
        )
    assert [doc.format for doc in results] == [fmt for _, fmt in files]


def test_upload_size_is_capped_before_parsing(parse_pool):
    with pytest.raises(CadParseError) as caught:
        parse_document(b"0\nSECTION\n" + b" " * 2048, name="x.dxf", pool=parse_pool, max_bytes=1024)
    assert caught.value.code == "file_too_large" and caught.value.kind == "too_large"
    check_size(1024, 1024)


def test_shutdown_stops_every_worker():
    pool = ParsePool(workers=2).start()
    processes = [w.process for w in pool._all]
    pool.shutdown()
    assert all(not p.is_alive() for p in processes)
    assert pool.status()["closed"]


def test_fork_start_method_is_refused():
    with pytest.raises(ValueError):
        ParsePool(start_method="fork")


def test_while_parsing_runs_once_the_worker_has_the_upload_and_before_its_answer_is_taken(parse_pool):
    seen = []
    before = parse_pool.status()

    def while_parsing():
        status = parse_pool.status()
        seen.append((status["tasks"] - before["tasks"], status["busy"]))

    document = parse_pool.parse("dxf", make_dxf_lines(4), while_parsing=while_parsing)
    assert document.entity_count == 4
    assert seen == [(1, 1)]  # handed over (the task counted), the worker still held for its answer
    assert parse_pool.status()["busy"] == 0


def test_what_while_parsing_raises_comes_after_the_answer_and_leaves_the_pool_whole(parse_pool):
    class WriteFailed(Exception):
        pass

    def failing():
        raise WriteFailed("the disk is full")

    replacements = parse_pool.status()["replacements"]
    with pytest.raises(WriteFailed):
        parse_pool.parse("dxf", make_dxf_lines(3), while_parsing=failing)
    assert parse_pool.status()["busy"] == 0 and parse_pool.status()["replacements"] == replacements
    with pytest.raises(CadParseError):  # the parse's own failure wins over the caller's
        parse_pool.parse("dxf", b"  0\nSECTION\n  2\nENTITIES\n  0\nGARBAGE", while_parsing=failing)
    assert parse_pool.parse("dxf", make_dxf_lines(2)).entity_count == 2  # no stale answer is left in a worker
    assert parse_pool.status()["replacements"] == replacements


def test_an_answer_that_came_while_a_slow_while_parsing_ran_is_not_a_timeout():
    pool = ParsePool(workers=1, timeout_seconds=0.5).start()
    try:
        document = pool.parse("dxf", make_dxf_lines(5), while_parsing=lambda: time.sleep(1.0))
        assert document.entity_count == 5
        assert pool.status()["timeouts"] == 0 and pool.status()["replacements"] == 0
    finally:
        pool.shutdown()


def test_an_interrupt_in_while_parsing_gives_up_the_task_and_replaces_its_worker():
    pool = ParsePool(workers=1).start()
    try:
        def interrupted():
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            pool.parse("dxf", make_dxf_lines(3), while_parsing=interrupted)
        status = pool.status()
        assert status["replacements"] == 1 and status["idle"] == 1 and status["busy"] == 0
        assert pool.parse("dxf", make_dxf_lines(2)).entity_count == 2  # the fresh worker owes no stale answer
    finally:
        pool.shutdown()
