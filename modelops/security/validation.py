"""Validation before the swap: the loaded object must be an allowed model that is safe to call.

Checks: the top-level type is an allowed estimator or pipeline with ``predict``; ``n_features_in_``
matches the expected dimension; no parameter holds a stray callable or class; internal structures that
compiled code walks without bounds checks (decision trees, histogram-GBM predictors, KD/ball trees, SVM
support vectors) are consistent, acyclic and in range; finally a canary predict on a fixed batch must
return one finite answer per row (and probabilities that sum to 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import tripwire
from .allowlist import AllowList
from .errors import ValidationFailed

MAX_WALK = 200_000
MAX_JOBS = 64
YIELD_EVERY = 16  # objects of the structure walk between two yield points (modelops.foreground)


@dataclass(frozen=True)
class ModelInfo:
    estimator: str
    n_features: int
    classes: list
    has_proba: bool


def _type_key(obj) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _fail(message: str, **context):
    raise ValidationFailed(message, context=context)


def _check_params(model) -> None:
    from sklearn.base import BaseEstimator

    try:
        params = model.get_params(deep=True)
    except Exception as exc:  # noqa: BLE001 - an estimator whose params cannot be read is refused
        _fail(f"cannot read estimator parameters: {type(exc).__name__}")
    for name, value in params.items():
        if isinstance(value, BaseEstimator) or name == "steps":
            continue
        if name.endswith("n_jobs") and value is not None and (type(value) is not int or not -1 <= value <= MAX_JOBS):
            _fail("estimator n_jobs is out of range", parameter=name, limit=MAX_JOBS)
        if isinstance(value, type) or callable(value):
            _fail("estimator parameter holds a callable", parameter=name, type=type(value).__name__)


def _int_array(arr, name, owner):
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iu":
        _fail(f"{owner}.{name} must be an integer array")
    return arr


def _check_tree(tree, n_features: int) -> None:
    """sklearn.tree._tree.Tree: children after their parent (acyclic), features and leaves in range."""
    count = int(tree.node_count)
    left = _int_array(tree.children_left, "children_left", "Tree")
    right = _int_array(tree.children_right, "children_right", "Tree")
    feature = _int_array(tree.feature, "feature", "Tree")
    if count < 1 or left.shape != (count,) or right.shape != (count,) or feature.shape != (count,):
        _fail("tree node arrays disagree with node_count", node_count=count)
    if tree.n_features != n_features:
        _fail("tree feature count differs from the model", tree=int(tree.n_features), model=n_features)
    idx = np.arange(count)
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        _fail("tree node has exactly one child")
    internal = ~leaf
    if np.any((left[internal] <= idx[internal]) | (left[internal] >= count)
              | (right[internal] <= idx[internal]) | (right[internal] >= count)):
        _fail("tree child index out of range or not after its parent")
    if np.any((feature[internal] < 0) | (feature[internal] >= n_features)):
        _fail("tree split feature out of range")
    if tree.value.shape[0] != count:
        _fail("tree value array disagrees with node_count")


def _check_predictor(predictor, n_features: int) -> None:
    """HistGradientBoosting TreePredictor: node records acyclic and in range."""
    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or nodes.ndim != 1 or not len(nodes):
        _fail("TreePredictor nodes must be a 1-d record array")
    count = len(nodes)
    idx = np.arange(count)
    internal = ~nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    if np.any((left[internal] <= idx[internal]) | (left[internal] >= count)
              | (right[internal] <= idx[internal]) | (right[internal] >= count)):
        _fail("predictor child index out of range or not after its parent")
    feat = nodes["feature_idx"].astype(np.int64)
    if np.any((feat[internal] < 0) | (feat[internal] >= n_features)):
        _fail("predictor split feature out of range")


def _check_binary_tree(tree, n_features: int) -> None:
    """KDTree / BallTree: indices and node ranges inside the data."""
    data = np.asarray(tree.data)
    idx_array = np.asarray(tree.idx_array)
    node_data = np.asarray(tree.node_data)
    n_samples = data.shape[0]
    if data.ndim != 2 or data.shape[1] != n_features or idx_array.shape != (n_samples,):
        _fail("neighbour tree data disagrees with the model")
    if n_samples and (idx_array.min() < 0 or idx_array.max() >= n_samples):
        _fail("neighbour tree index out of range")
    if len(node_data) and (np.any(node_data["idx_start"] < 0) or np.any(node_data["idx_end"] > n_samples)
                           or np.any(node_data["idx_start"] > node_data["idx_end"])):
        _fail("neighbour tree node range out of bounds")


def _check_svm(model, n_features: int) -> None:
    sv = model.support_vectors_
    n_sv = sv.shape[0]
    if sv.ndim != 2 or (n_sv and sv.shape[1] != n_features):
        _fail("support vectors disagree with the feature count")
    if int(np.sum(model._n_support)) != n_sv or model._dual_coef_.shape[1] != n_sv or model.support_.shape != (n_sv,):
        _fail("SVM support arrays are inconsistent")
    n_class = len(model._n_support)
    if model._intercept_.shape[0] != max(n_class * (n_class - 1) // 2, 1):
        _fail("SVM intercepts are inconsistent")


def _check_structure(model, n_features: int, yield_point: Callable[[], float] | None = None) -> None:
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors._ball_tree import BallTree
    from sklearn.neighbors._kd_tree import KDTree
    from sklearn.svm._base import BaseLibSVM
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    todo = [model]
    visited = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        visited += 1
        if visited > MAX_WALK:
            _fail("model structure too large to validate")
        if yield_point is not None and not visited % YIELD_EVERY:
            yield_point()
        if isinstance(obj, Tree):
            _check_tree(obj, n_features)
        elif isinstance(obj, TreePredictor):
            _check_predictor(obj, n_features)
        elif isinstance(obj, (KDTree, BallTree)):
            _check_binary_tree(obj, n_features)
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                todo.extend(obj.ravel().tolist())
        elif isinstance(obj, BaseEstimator):
            if isinstance(obj, BaseLibSVM) and hasattr(obj, "support_vectors_"):
                _check_svm(obj, n_features)
            todo.extend(vars(obj).values())


def validate_model(model, *, allowlist: AllowList, expected_dimension: int | None = None,
                   yield_point: Callable[[], float] | None = None) -> ModelInfo:
    key = _type_key(model)
    if key not in allowlist.estimators:
        _fail("loaded object is not an allowed model type", type=key[:200])
    if not callable(getattr(model, "predict", None)):
        _fail("model has no predict", type=key)
    n_features = getattr(model, "n_features_in_", None)
    if type(n_features) is not int or n_features < 1:
        _fail("model is not fitted (no n_features_in_)", type=key)
    if expected_dimension is not None and n_features != expected_dimension:
        _fail("model feature dimension does not match the feature version",
              expected=expected_dimension, actual=n_features)
    _check_params(model)
    _check_structure(model, n_features, yield_point)
    classes = getattr(model, "classes_", None)
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes] if classes is not None else []
    return ModelInfo(estimator=key, n_features=n_features, classes=classes,
                     has_proba=hasattr(model, "predict_proba"))


def canary_batch(n_features: int) -> np.ndarray:
    rng = np.random.default_rng(20240607)
    return np.vstack([np.zeros((1, n_features)), rng.normal(size=(7, n_features))]).astype(np.float64)


def canary_predict(model, info: ModelInfo) -> None:
    batch = canary_batch(info.n_features)
    try:
        with tripwire.armed(relaxed=True) as events:
            predicted = np.asarray(model.predict(batch))
            proba = np.asarray(model.predict_proba(batch)) if info.has_proba else None
    except Exception as exc:  # noqa: BLE001 - a model whose canary predict fails is refused
        _fail(f"canary predict failed: {type(exc).__name__}: {str(exc)[:200]}")
    if events:
        _fail("tripwire tripped during the canary predict", events=list(events))
    if predicted.shape[0] != batch.shape[0]:
        _fail("canary predict returned the wrong number of rows")
    if predicted.dtype.kind == "f" and not np.all(np.isfinite(predicted)):
        _fail("canary predict returned non-finite values")
    if proba is not None:
        if proba.shape != (batch.shape[0], len(info.classes)) or not np.all(np.isfinite(proba)) \
                or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
            _fail("canary predict_proba is inconsistent")
