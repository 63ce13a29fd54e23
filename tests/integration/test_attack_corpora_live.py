"""Other people's attacks through the running server (issue 16): every picklescan, fickling and modelscan sample is
uploaded (``POST model/versions/``) and, when the upload is accepted (audit mode records instead of refusing),
reloaded (``POST model/reload/``), on gunicorn in each opcode mode. Nothing malicious becomes active, no answer is a
5xx, every refusal is a problem body, and the canary file every payload would create never appears. A benign
scikit-learn model uploads and reloads on the same server, in every mode.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import requests

from tests.integration.fault_stack import start_fault_stack
from tests.modelops.attack_corpora import all_samples

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["blacklist", "whitelist", "audit"])
def server(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"corpora-{request.param}")
    stack = start_fault_stack(workdir, postgres=False, workers=1,
                              extra_env={"CADML_MODEL_OPCODE_MODE": request.param})
    stack.mode = request.param
    stack.canary = workdir / "canary"
    try:
        yield stack
    finally:
        stack.stop()


def _problem(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.text[:300]
    body = response.json()
    for field in ("type", "title", "status", "detail", "code", "stage", "message", "context", "timestamp"):
        assert field in body, body
    return body


def test_every_malicious_sample_is_refused_by_the_running_server(server):
    headers = {"X-API-Key": server.api_key, "X-Admin-Token": server.admin_token}
    seen: set[str] = set()
    outcomes: dict[str, int] = {}
    for index, sample in enumerate(all_samples(server.canary)):
        if not sample.malicious:
            continue
        sha = hashlib.sha256(sample.data).hexdigest()
        if sha in seen:  # byte-identical samples (modelscan reuses picklescan's): one upload
            continue
        seen.add(sha)
        label = f"{sample.corpus}-{index}"
        response = requests.post(server.base_url + "/api/v1/model/versions/", headers=headers, timeout=60,
                                 files={"file": (f"{label}.pkl", sample.data)}, data={"label": label})
        assert response.status_code < 500, (sample.name, response.status_code, response.text[:300])
        if response.status_code == 201:
            assert server.mode == "audit", (sample.name, response.text[:300])
            response = requests.post(server.base_url + "/api/v1/model/reload/", headers=headers, timeout=60,
                                     json={"version": label})
            assert 400 <= response.status_code < 500, (sample.name, response.status_code, response.text[:300])
            body = _problem(response)
            outcome = f"reload {response.status_code} {body['code']}"
        else:
            assert 400 <= response.status_code < 500, (sample.name, response.status_code)
            body = _problem(response)
            outcome = f"upload {response.status_code} {body['code']}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert not server.canary.exists(), f"{sample.corpus}:{sample.name} ran its payload"
    assert sum(outcomes.values()) >= 150, outcomes
    status = requests.get(server.base_url + "/api/v1/model/", headers=headers, timeout=30)
    assert status.status_code == 200
    active = status.json().get("active")
    assert active is None or active["label"] == "benign-forest", status.json()
    print(f"\nATTACK CORPORA live ({server.mode}): {len(seen)} distinct samples: {outcomes}")


def test_a_benign_scikit_learn_model_uploads_and_reloads(server):
    """In every mode, blacklist (the default) included."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    values = rng.uniform(0, 10, size=(120, 24))
    labels = np.array(["plate", "bracket", "shaft"])[rng.integers(0, 3, size=120)]
    buffer = io.BytesIO()
    joblib.dump(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(values, labels), buffer)
    headers = {"X-API-Key": server.api_key, "X-Admin-Token": server.admin_token}
    response = requests.post(server.base_url + "/api/v1/model/versions/", headers=headers, timeout=60,
                             files={"file": ("benign.joblib", buffer.getvalue())},
                             data={"label": "benign-forest", "feature_version": "v4"})
    assert response.status_code == 201, response.text
    response = requests.post(server.base_url + "/api/v1/model/reload/", headers=headers, timeout=60,
                             json={"version": "benign-forest"})
    assert response.status_code == 200, response.text
    assert response.json()["version"]["label"] == "benign-forest"
