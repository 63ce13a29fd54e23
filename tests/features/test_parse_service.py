"""The host's parse service (`features.parse_service`): a real service process on a Unix socket, its client, the
supervisor that restarts it, and the same answers as the in-process pool (codes, limits, replacement)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from features.parse_service.client import ParseServiceClient, probe
from features.parse_service.server import EXIT_ALREADY_SERVING
from features.parse_service.supervisor import ParseServiceSupervisor
from features.parse_workers.pool import ParsePoolUnavailable
from features.parsers.dispatch import parse_document
from features.parsers.errors import CadParseError

from .cad_builders import make_ascii_stl, make_box_triangles, make_dxf_lines, make_step_nested_parentheses
from .parse_service_helpers import Service, _tree, _wait_answering, _wait_gone

ROOT = Path(__file__).resolve().parents[2]
STEP_SAMPLE = "step/pythonocc__test_ocaf.stp"


@pytest.fixture(scope="module")
def service():
    running = Service()
    yield running
    running.stop()


def test_a_parse_and_a_thumbnail_round_trip_through_the_service(service, cad_samples_dir, parse_pool):
    data = (cad_samples_dir / STEP_SAMPLE).read_bytes()
    document = parse_document(data, name="cube.stp", pool=service.client)
    assert document.to_dict() == parse_pool.parse("step", data).to_dict()  # the same summary as in process
    png = service.client.render("step", data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == parse_pool.render("step", data)
    status = service.client.status()
    assert status["mode"] == "service" and status["service_pid"] == service.process.pid
    assert status["alive"] == status["workers"] == 2 and set(status["pids"]) <= set(_tree(service.process.pid))


def test_while_parsing_runs_once_the_service_has_the_upload_and_what_it_raises_comes_after_the_answer(service):
    calls = []
    document = service.client.parse("dxf", make_dxf_lines(3), while_parsing=lambda: calls.append("written"))
    assert document.entity_count == 3
    assert calls == ["written"]

    def failing():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        service.client.parse("dxf", make_dxf_lines(3), while_parsing=failing)
    with pytest.raises(CadParseError):  # the parse's own failure wins over the caller's
        service.client.parse("step", b"ISO-10303-21;\nHEADER;\nnot a step file", while_parsing=failing)
    assert service.client.parse("dxf", make_dxf_lines(2)).entity_count == 2


def test_a_file_s_own_failure_is_the_same_error_as_in_process(service, parse_pool):
    data = b"ISO-10303-21;\nHEADER;\nnot a step file"
    with pytest.raises(CadParseError) as remote:
        service.client.parse("step", data)
    with pytest.raises(CadParseError) as local:
        parse_pool.parse("step", data)
    assert remote.value.to_payload() == local.value.to_payload()
    assert remote.value.code == "parse_failed"


def test_a_crashing_worker_answers_parse_crashed_and_is_replaced(service, cad_samples_dir):
    before = service.client.status()
    with pytest.raises(CadParseError) as caught:
        service.client.parse("step", make_step_nested_parentheses(200_000))
    assert caught.value.code == "parse_crashed" and caught.value.context["format"] == "step"
    after = service.client.status()
    assert after["crashes"] == before["crashes"] + 1 and after["replacements"] > before["replacements"]
    assert after["service_pid"] == before["service_pid"]  # the service itself carries on
    assert service.client.parse("step", (cad_samples_dir / STEP_SAMPLE).read_bytes()).faces == 6


def test_the_wall_timeout_kills_the_worker_and_answers_parse_timeout(service):
    before = service.client.status()
    with pytest.raises(CadParseError) as caught:
        service.client.parse("dxf", make_dxf_lines(20_000), timeout_seconds=0.05)
    assert caught.value.code == "parse_timeout" and caught.value.context["timeout_seconds"] == 0.05
    after = service.client.status()
    assert after["timeouts"] == before["timeouts"] + 1
    assert service.client.parse("dxf", make_dxf_lines(3)).entity_count == 3
    assert service.client.status()["alive"] == 2


def test_the_memory_limit_answers_parse_memory_limit_and_recycles_the_worker(service):
    vm_size = 0
    for line in Path(f"/proc/{service.client.status()['pids'][0]}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            vm_size = int(line.split()[1]) * 1024
    small = Service("--memory-limit-bytes", str(vm_size + 48 * 1024 * 1024), workers=1)
    try:
        data = make_ascii_stl({"big": np.tile(make_box_triangles(), (20_000, 1, 1))})
        with pytest.raises(CadParseError) as caught:
            small.client.parse("stl", data)
        assert caught.value.code == "parse_memory_limit"
        status = small.client.status()
        assert status["memory_limit"] == 1 and status["replacements"] == 1
        assert small.client.parse("stl", make_ascii_stl({"small": make_box_triangles()})).facets == 12
    finally:
        small.stop()


def test_eight_concurrent_clients_share_two_workers(service, cad_samples_dir):
    files = [("step", cad_samples_dir / STEP_SAMPLE), ("dxf", cad_samples_dir / "dxf/cadquery__gear.dxf"),
             ("obj", cad_samples_dir / "obj/trimesh__fuze.obj"),
             ("iges", cad_samples_dir / "iges/pythonocc__example_45_faces.iges")] * 2
    before = service.client.status()["tasks"]

    def run(item):
        fmt, path = item
        return ParseServiceClient(service.socket).parse(fmt, path.read_bytes()).format

    with ThreadPoolExecutor(max_workers=8) as executor:
        assert list(executor.map(run, files)) == [fmt for fmt, _ in files]
    status = service.client.status()
    assert status["tasks"] == before + 8 and status["workers"] == 2
    assert status["service"]["connections"] >= 8


def test_a_second_service_on_the_same_socket_exits_and_leaves_the_first_serving(service):
    second = subprocess.run([sys.executable, "-m", "features.parse_service", "--socket", service.socket],
                            cwd=ROOT, timeout=60, capture_output=True, text=True)
    assert second.returncode == EXIT_ALREADY_SERVING, second.stderr
    assert probe(service.socket)["service_pid"] == service.process.pid


def test_no_service_is_parser_unavailable_without_waiting():
    client = ParseServiceClient("/tmp/cadml-no-such-service.sock")
    data = make_dxf_lines(2)
    started = time.monotonic()
    with pytest.raises(ParsePoolUnavailable):
        client.parse("dxf", data)
    with pytest.raises(ParsePoolUnavailable):
        client.render("dxf", data)
    assert time.monotonic() - started < 1.0
    status = client.status()
    assert status["closed"] and status["alive"] == 0 and "not running" in status["error"]


def test_a_killed_service_is_unavailable_to_its_clients_then_restarted_without_leftovers():
    directory = tempfile.mkdtemp(prefix="cadml-ps-", dir="/tmp")
    socket_path = os.path.join(directory, "parse.sock")
    supervisor = ParseServiceSupervisor(socket_path, service_args=["--workers", "1"], check_every=0.2)
    client = ParseServiceClient(socket_path, timeout_seconds=30.0)
    try:
        first = supervisor.start()["service_pid"]
        assert first == supervisor.child_pid
        _wait_answering(socket_path)
        assert client.parse("dxf", make_dxf_lines(2)).entity_count == 2
        with ThreadPoolExecutor(max_workers=1) as executor:
            slow = executor.submit(client.parse, "dxf", make_dxf_lines(150_000))
            time.sleep(0.5)
            old_tree = _tree(first)
            assert len(old_tree) >= 3  # the service, its forkserver (and resource tracker), the busy worker
            os.kill(first, signal.SIGKILL)
            started = time.monotonic()
            with pytest.raises(ParsePoolUnavailable):  # the call in flight: unavailable at once, not a hang
                slow.result(timeout=30)
            assert time.monotonic() - started < 5
        outcomes = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                outcomes.append(client.parse("dxf", make_dxf_lines(2)).entity_count)
                break
            except ParsePoolUnavailable:
                outcomes.append("unavailable")
                time.sleep(0.05)
        assert set(outcomes) <= {2, "unavailable"} and outcomes[-1] == 2
        second = probe(socket_path)["service_pid"]
        assert second != first and second == supervisor.child_pid and supervisor.starts == 2
        # the dead service's forkserver and busy worker were killed with it, not left parsing unsupervised
        assert all(_wait_gone(pid) for pid in old_tree)
        # a second supervisor on the same socket adopts the running service instead of starting another
        other = ParseServiceSupervisor(socket_path, check_every=0.2)
        assert other.ensure() == "adopted" and other.child is None
        tree = _tree(second)
    finally:
        supervisor.stop()
        shutil.rmtree(directory, ignore_errors=True)
    assert probe(socket_path) is None and not os.path.exists(socket_path)
    assert all(_wait_gone(pid) for pid in tree)
