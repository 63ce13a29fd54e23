"""The parse pool's forkserver preloads this checkout's worker whatever the current directory (Python 3.11 starts it
with the current directory first on its path and does not apply the parent's `sys.path`): started from an empty
folder it still preloads OCP, and started from a folder holding another `features` package it does not import it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from features.parse_workers.forkserver_path import PROJECT_ROOT, preload_finds_this_checkout

CHILD = textwrap.dedent("""
    import json, os, struct, sys
    sys.path.insert(0, sys.argv[1])
    from features.parse_workers.pool import ParsePool

    def main():
        pool = ParsePool(workers=1, timeout_seconds=60.0).start()
        try:
            worker = pool._all[0].pid
            forkserver = int(open(f"/proc/{worker}/stat").read().rsplit(")", 1)[1].split()[1])
            maps = open(f"/proc/{forkserver}/maps").read()
            box = b"box".ljust(80, b" ") + struct.pack("<I", 1) + struct.pack("<12fH", 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
            summary = pool.parse("stl", box).to_dict()
            print("RESULT " + json.dumps({"occt_preloaded": "/OCP/" in maps, "format": summary["format"],
                                          "pythonpath": os.environ.get("PYTHONPATH"),
                                          "safepath": os.environ.get("PYTHONSAFEPATH")}))
        finally:
            pool.shutdown()

    if __name__ == "__main__":
        main()
""")


def run_pool_in(directory: Path) -> dict:
    script = directory / "start_pool.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    done = subprocess.run([sys.executable, str(script), str(PROJECT_ROOT)], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    return json.loads(lines[0][len("RESULT "):])


def test_the_project_folder_is_recognised_and_others_are_not(tmp_path):
    assert preload_finds_this_checkout(PROJECT_ROOT)
    assert not preload_finds_this_checkout(tmp_path)
    impostor = tmp_path / "features" / "parse_workers"
    impostor.mkdir(parents=True)
    (impostor / "worker.py").write_text((PROJECT_ROOT / "features" / "parse_workers" / "worker.py").read_text())
    assert not preload_finds_this_checkout(tmp_path)  # the same text in another folder is another checkout


def test_a_pool_started_outside_the_project_preloads_this_checkout(tmp_path):
    result = run_pool_in(tmp_path)
    assert result["occt_preloaded"] and result["format"] == "stl"
    assert result["pythonpath"] is None and result["safepath"] is None  # set only while the forkserver started


def test_a_pool_started_in_another_checkout_does_not_preload_its_worker(tmp_path):
    marker = tmp_path / "imported"
    package = tmp_path / "features" / "parse_workers"
    package.mkdir(parents=True)
    (tmp_path / "features" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "worker.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = run_pool_in(tmp_path)
    assert result["occt_preloaded"] and result["format"] == "stl"
    assert not marker.exists()
