"""manage.py model_scan (exit codes) and manage.py train_classifier (labelled vectors -> joblib candidate)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from modelops.models import ModelVersion
from modelops.registry import holder
from modelops.security.reference_models import serialise


class _Evil:
    def __reduce__(self):
        return os.system, ("touch /nonexistent/never",)


def _run_scan(capsys, *args):
    with pytest.raises(SystemExit) as excinfo:
        call_command("model_scan", *args)
        raise SystemExit(0)
    return excinfo.value.code, capsys.readouterr().out


def test_model_scan_exit_codes(tmp_path, capsys, fitted_models):
    clean = tmp_path / "clean.joblib"
    clean.write_bytes(serialise(fitted_models["svc"], container="joblib-xz", protocol=5))
    code, out = _run_scan(capsys, str(clean), "--mode", "whitelist", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["status"] == "clean" and body["compression"] == "xz" and body["report"]["container"] == "joblib"
    hostile = tmp_path / "evil.pkl"
    hostile.write_bytes(pickle.dumps(_Evil(), protocol=4))
    code, out = _run_scan(capsys, str(hostile))
    assert code == 1 and "global_denied" in out and "posix:system" in out
    code, out = _run_scan(capsys, str(hostile), "--mode", "audit", "--json")
    assert code == 0 and json.loads(out)["status"] == "findings"
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"\x80\x04\x8e" + b"\xff" * 8)
    code, out = _run_scan(capsys, str(broken), "--json")
    assert code == 2 and json.loads(out)["code"] == "opcode_scan_error"
    code, _ = _run_scan(capsys, str(tmp_path / "missing.pkl"))
    assert code == 2
    notmodel = tmp_path / "x.zip"
    notmodel.write_bytes(b"PK\x03\x04")
    code, out = _run_scan(capsys, str(notmodel), "--json")
    assert code == 2 and json.loads(out)["code"] == "magic_invalid"


def _labelled_vectors(feature_version: str = "v4", per_class: int = 8):
    from features.extractors import dimension
    from vectors.services import vector_upsert

    rng = np.random.default_rng(0)
    dim = dimension(feature_version)
    for c, part_type in enumerate(("bracket", "flange", "shaft")):
        for i in range(per_class):
            values = rng.normal(loc=c * 3.0, size=dim).astype(np.float32)
            vector_upsert(key=f"{part_type}-{i}", feature_version=feature_version, values=values.tolist(),
                          meta={"part_type": part_type})
    vector_upsert(key="unlabelled", feature_version=feature_version, values=[0.0] * dim, meta={})


@pytest.mark.django_db
def test_train_classifier_registers_and_activates(model_dir, capsys):
    _labelled_vectors()
    call_command("train_classifier", "--feature-version", "v4", "--label", "demo-rf", "--cv", "3")
    out = capsys.readouterr().out
    assert "cross-validated accuracy: 1.000" in out and "samples: 24" in out
    version = ModelVersion.objects.get(label="demo-rf")
    assert version.status == "candidate" and version.container == "joblib" and version.compression == "zlib"
    assert version.metrics["n_samples"] == 24 and version.metrics["class_counts"]["flange"] == 8
    call_command("train_classifier", "--feature-version", "v4", "--label", "demo-knn", "--estimator",
                 "k_neighbors", "--activate")
    assert ModelVersion.objects.get(label="demo-knn").status == "active"
    assert holder.active().label == "demo-knn" and holder.active().feature_version == "v4"


@pytest.mark.django_db
def test_train_classifier_without_labels_is_a_command_error(model_dir):
    with pytest.raises(CommandError, match="not_enough_training_data"):
        call_command("train_classifier", "--feature-version", "v2")
