"""Training: a classifier on the labelled vectors, cross-validated, registered as a joblib candidate."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.utils import timezone

from modelops.errors import NotEnoughTrainingData
from modelops.models import ModelVersion
from modelops.services.registration import model_version_register_bytes
from modelops.services.reload import model_reload


@dataclass(frozen=True)
class TrainingResult:
    version: ModelVersion
    cv_scores: list[float]
    n_samples: int
    class_counts: dict[str, int]
    activated: bool


def model_train_classifier(*, feature_version: str, actor: str, estimator: str = "random_forest",
                           label: str | None = None, cv_folds: int = 5, activate: bool = False,
                           progress=None) -> TrainingResult:
    """Train on labelled vectors (meta ``part_type``), cross-validate, register a joblib candidate."""
    import joblib
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from modelops.security.reference_models import ESTIMATOR_TYPES, make_estimator
    from vectors.selectors import labelled_vectors

    if estimator not in ESTIMATOR_TYPES:
        raise NotEnoughTrainingData(f"unknown estimator {estimator!r}", code="unknown_estimator",
                                    context={"choices": list(ESTIMATOR_TYPES)})
    rows, labels = labelled_vectors(feature_version=feature_version, label_field="part_type")
    counts: dict[str, int] = {}
    for value in labels:
        counts[value] = counts.get(value, 0) + 1
    dims = {len(r) for r in rows}
    if len(counts) < 2 or min(counts.values()) < 2 or len(dims) != 1:
        raise NotEnoughTrainingData("need at least two labelled vectors for each of at least two part types",
                                    context={"feature_version": feature_version, "class_counts": counts})
    X = np.vstack(rows).astype(np.float64)
    y = np.array(labels)
    folds = max(2, min(cv_folds, min(counts.values())))
    model = make_estimator(estimator, small=False)
    if progress:
        progress(f"cross-validating {estimator} on {len(y)} vectors ({len(counts)} part types, {folds} folds)")
    scores = cross_val_score(model, X, y, cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=0))
    model.fit(X, y)
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=("zlib", 3))
    label = label or f"{estimator.replace('_', '-')}-{feature_version}-{timezone.now():%Y%m%d-%H%M%S}"
    metrics = {"cv_accuracy_mean": float(np.mean(scores)), "cv_accuracy_std": float(np.std(scores)),
               "cv_folds": folds, "n_samples": len(y), "class_counts": counts}
    version = model_version_register_bytes(raw=buf.getvalue(), label=label, feature_version=feature_version,
                                           actor=actor, action="train", stored_name=None, metrics=metrics)
    if activate:
        version = model_reload(version=version.pk, actor=actor, reason="train_classifier --activate",
                               action="activate")
    return TrainingResult(version=version, cv_scores=[float(s) for s in scores], n_samples=len(y),
                          class_counts=counts, activated=activate)
