"""A migration process killed half-way (SIGKILL) leaves nothing half-served and resumes; SIGTERM stops cleanly."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.vectors.conftest import make_vectors, register
from vectors.models import MigrationRun, Vector
from vectors.selectors import vector_similarity_search
from vectors.services import vector_migration_run

PROJECT = Path(__file__).resolve().parents[2]
N = 20_000


def _start(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "vectors_migrate", "--from", "v3", "--to", "v4",
                             "--batch-size", "100"], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_until_half_started(proc) -> MigrationRun:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = MigrationRun.objects.first()
        if run is not None and 0 < run.processed < N:
            return run
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the migration never got going")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_interrupted_migration_never_serves_a_mix_and_resumes(django_subprocess_env, sig):
    source = make_vectors(N, 22, seed=6)
    register("v3", source)
    proc = _start(django_subprocess_env)
    run = _wait_until_half_started(proc)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    run.refresh_from_db()
    assert 0 < run.processed < N
    assert run.status == ("running" if sig == signal.SIGKILL else "interrupted")
    assert not Vector.objects.filter(feature_version="v4").exists()
    query = list(map(float, source[0])) + [0.0, 0.0]
    assert vector_similarity_search(feature_version="v4", vector=query, k=3)["results"] == []

    vector_migration_run(run_id=run.pk, batch_size=2000)
    run.refresh_from_db()
    assert (run.status, run.processed, run.attempts) == ("completed", N, 2)
    assert Vector.objects.filter(feature_version="v4").count() == N
    assert run.stats["counts"] == {"total": N, "recomputable": 0, "reparsed": 0, "padded": N, "truncated": 0,
                                   "copied": 0, "needs_source": 0}
    out = vector_similarity_search(feature_version="v4", vector=query, k=1)
    assert out["results"][0]["key"] == "k00000"
