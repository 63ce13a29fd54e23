"""Two OS processes share the database's truth: writes, deletes and the degraded state cross between them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.vectors.conftest import make_vectors, register
from vectors.selectors import vector_similarity_search
from vectors.services import index_rebuild, vector_upsert

PROJECT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from vectors.selectors import vector_similarity_search
from vectors.services import index_degrade_drill, vector_delete, vector_upsert
args = json.loads('''{payload}''')
out = {{}}
if args.get("find"):
    found = vector_similarity_search(feature_version="v4", vector=args["find"]["vector"], k=1,
                                     min_generation=args["find"]["generation"])
    out["found"] = [found["results"][0]["key"], found["backend"], found["generation"]]
if args.get("write"):
    out["generation"] = vector_upsert(key=args["write"]["key"], feature_version="v4",
                                      values=args["write"]["vector"]).generation
if args.get("delete"):
    out["deleted_generation"] = vector_delete(key=args["delete"], feature_version="v4", actor="child")
if args.get("drill"):
    index_degrade_drill(feature_version="v4", reason="cross-process drill", actor="child")
print("RESULT " + json.dumps(out))
"""


def _child(env, **payload) -> dict:
    script = CHILD.format(payload=json.dumps(payload))
    proc = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.fixture
def child_env(django_subprocess_env):
    return {**django_subprocess_env, "CADML_INDEX_DIR": str(settings.CADML_INDEX_DIR)}


def test_writes_and_state_cross_processes(child_env):
    vectors = make_vectors(300, 24, seed=21)
    register("v4", vectors)
    index_rebuild(feature_version="v4", actor="ops-alice", reason="snapshot for the child")
    assert vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=1)["backend"] == "faiss"

    # parent writes, child finds it (loads the snapshot, then applies the newer generation)
    mine = make_vectors(1, 24, seed=22)[0].tolist()
    write = vector_upsert(key="from-parent", feature_version="v4", values=mine)
    out = _child(child_env, find={"vector": mine, "generation": write.generation})
    assert out["found"] == ["from-parent", "faiss", write.generation]

    # child writes, parent (index already loaded) finds it with read-your-writes
    theirs = make_vectors(1, 24, seed=23)[0].tolist()
    out = _child(child_env, write={"key": "from-child", "vector": theirs})
    found = vector_similarity_search(feature_version="v4", vector=theirs, k=1, min_generation=out["generation"])
    assert found["results"][0]["key"] == "from-child" and found["generation"] == out["generation"]

    # child deletes, parent never serves it again
    _child(child_env, delete="from-child")
    found = vector_similarity_search(feature_version="v4", vector=theirs, k=20)
    assert "from-child" not in [r["key"] for r in found["results"]]

    # child starts a drill: the parent's next answer is degraded, from numpy
    _child(child_env, drill=True)
    found = vector_similarity_search(feature_version="v4", vector=vectors[0].tolist(), k=1)
    assert (found["backend"], found["degraded"], found["results"][0]["key"]) == ("memory", True, "k00000")
