"""Reference models and serialisations: the inputs the allow-list is learnt from and tested against.

``reference_models()`` fits every supported estimator type on a small deterministic data set;
``serialise()`` writes a model as a raw pickle or a joblib file (plain or compressed) at a protocol.
"""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np

CONTAINERS = ("pickle", "joblib", "joblib-zlib", "joblib-gzip", "joblib-bz2", "joblib-xz")
PROTOCOLS = (2, 3, 4, 5)
ESTIMATOR_TYPES = ("random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting",
                   "scaler_logistic_regression", "svc", "k_neighbors", "decision_tree")


def make_estimator(kind: str, *, small: bool = True, random_state: int = 0):
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    n = 4 if small else 100
    factories = {
        "random_forest": lambda: RandomForestClassifier(n_estimators=n, max_depth=4 if small else None,
                                                        random_state=random_state),
        "extra_trees": lambda: ExtraTreesClassifier(n_estimators=n, max_depth=4 if small else None,
                                                    random_state=random_state),
        "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=n, max_depth=2,
                                                                random_state=random_state),
        "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=n, max_depth=3,
                                                                         random_state=random_state),
        "scaler_logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "svc": lambda: SVC(probability=False, random_state=random_state),
        "k_neighbors": lambda: KNeighborsClassifier(n_neighbors=3),
        "decision_tree": lambda: DecisionTreeClassifier(max_depth=4 if small else None, random_state=random_state),
    }
    return factories[kind]()


def make_dataset(*, n_samples: int = 60, n_features: int = 6, n_classes: int = 3, seed: int = 0,
                 string_labels: bool = True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = (X[:, 0] * 2 + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8).astype(int) * (n_classes > 2)
    y = y % n_classes
    if string_labels:
        y = np.array(["bracket", "flange", "housing", "shaft", "plate"])[y]
    return X, y


def fit_reference(kind: str, *, n_classes: int = 3, string_labels: bool = True, small: bool = True, **kw):
    X, y = make_dataset(n_classes=n_classes, string_labels=string_labels)
    model = make_estimator(kind, small=small, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model


def reference_models() -> dict[str, object]:
    return {kind: fit_reference(kind) for kind in ESTIMATOR_TYPES}


def serialise(model, *, container: str, protocol: int) -> bytes:
    if container == "pickle":
        return pickle.dumps(model, protocol=protocol)
    import joblib

    buf = io.BytesIO()
    compression = container.split("-", 1)[1] if "-" in container else None
    joblib.dump(model, buf, protocol=protocol, compress=(compression, 3) if compression else 0)
    return buf.getvalue()
