"""Other people's attacks (issue 16): picklescan's, fickling's and modelscan's test samples against our pipeline.

Every malicious sample is refused in every opcode mode, and in the blocking modes before a single byte is unpickled
(stage intake or scan); the canary file that every payload would create never appears. Benign samples that are
pickles of a protocol we accept (2-5) scan clean; the others (protocol 0/1, PNG, NPY) are refused at intake, by
design. Every reference scikit-learn model loads in blacklist mode. The generated corpora and the upstream verdicts
are in tests/modelops/attack_corpora.py; the table is in docs/reliability.md. The same samples go through the
running server in tests/integration/test_attack_corpora_live.py.
"""

from __future__ import annotations

import pickle

import pytest

from modelops.security.errors import ModelSecurityError
from modelops.security.intake import intake_bytes
from modelops.security.pipeline import check_model_bytes
from modelops.security.reference_models import ESTIMATOR_TYPES, serialise
from modelops.security.scanner import scan

from .attack_corpora import all_samples, fickling_samples

MODES = ("blacklist", "whitelist", "audit")
SAMPLES = all_samples("/nonexistent/canary")
IDS = [f"{s.corpus}:{s.name}" for s in SAMPLES]


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    return tmp_path_factory.mktemp("attack-corpora") / "canary"


@pytest.fixture(scope="module")
def corpus(canary):
    return {f"{s.corpus}:{s.name}": s for s in all_samples(canary)}


def test_corpora_are_complete():
    counts = {}
    for sample in SAMPLES:
        counts.setdefault((sample.corpus, sample.malicious), 0)
        counts[(sample.corpus, sample.malicious)] += 1
    assert counts[("picklescan", True)] >= 80
    assert counts[("fickling", True)] >= 60
    assert counts[("modelscan", True)] >= 20
    assert all(counts[(corpus, False)] >= 2 for corpus in ("picklescan", "fickling", "modelscan"))
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sample_id", [i for i, s in zip(IDS, SAMPLES) if s.malicious])
def test_malicious_sample_is_refused_before_any_code_runs(sample_id, mode, corpus, canary, allowlist,
                                                          intake_limits):
    sample = corpus[sample_id]
    with pytest.raises(ModelSecurityError) as excinfo:
        check_model_bytes(sample.data, mode=mode, allowlist=allowlist, intake_limits=intake_limits)
    assert not canary.exists(), f"{sample_id} ran its payload in {mode} mode"
    if mode != "audit":
        # refused on the bytes alone: nothing was unpickled
        assert excinfo.value.stage in ("intake", "scan"), (excinfo.value.stage, excinfo.value.code)


@pytest.mark.parametrize("sample_id", [i for i, s in zip(IDS, SAMPLES) if not s.malicious])
def test_benign_sample_scans_clean_or_is_outside_what_we_accept(sample_id, corpus, allowlist, intake_limits):
    data = corpus[sample_id].data
    if data[:1] == pickle.PROTO and 2 <= data[1] <= 5:
        report = scan(intake_bytes(data, limits=intake_limits).payload, mode="blacklist", allowlist=allowlist)
        assert report.clean, report.findings
    else:  # protocol 0/1 pickles, PNG, NPY: not a model container we accept
        with pytest.raises(ModelSecurityError) as excinfo:
            intake_bytes(data, limits=intake_limits)
        assert excinfo.value.code == "magic_invalid"


@pytest.mark.parametrize("kind", ESTIMATOR_TYPES)
def test_no_benign_scikit_learn_model_is_refused_in_blacklist_mode(kind, fitted_models, allowlist, intake_limits):
    for container, protocol in (("pickle", 2), ("pickle", 5), ("joblib", 4), ("joblib-zlib", 4)):
        raw = serialise(fitted_models[kind], container=container, protocol=protocol)
        checked = check_model_bytes(raw, mode="blacklist", allowlist=allowlist, intake_limits=intake_limits)
        assert checked.report.clean


@pytest.mark.parametrize("name", ["test_memo_expansion_detection", "test_dup_expansion_detection"])
@pytest.mark.parametrize("mode", MODES)
def test_shared_tuples_are_walked_once(name, mode, allowlist):
    """fickling's expansion samples share one tuple 2**60 times; the scan must stay linear (it took 2**depth steps
    in audit mode before the fix, found by this corpus)."""
    data = {s.name: s.data for s in fickling_samples("/nonexistent/canary")}[name]
    try:
        report = scan(data, mode=mode, allowlist=allowlist)
    except ModelSecurityError as exc:
        assert mode != "audit", exc
        return
    assert mode == "audit"
    assert report.n_opcodes < 1000
