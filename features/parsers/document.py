"""`CadDocument`: the Django-free summary of one parsed CAD file.

The summary is what gets stored (as JSON, `to_dict()`) next to a `CadFile` row, so that every feature
version can be recomputed later without the original file (`from_dict()`).

Invariants (enforced by `__post_init__`, so a summary that breaks them never gets stored):
- counts are non-negative integers; `entity_count == sum(entity_kinds.values())`;
- every float is finite (a parser must refuse or drop non-finite geometry before building the summary);
- `bbox` is `None` or `((xmin, ymin, zmin), (xmax, ymax, zmax))` with min <= max on every axis;
- `shape` is `None` (a summary stored before feature version v5) or the JSON object of the geometric shape
  descriptor (`features.descriptors`), computed from the geometry while parsing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

SUMMARY_SCHEMA = 1

FORMATS = ("dxf", "stl", "step", "iges", "obj")

_COUNT_FIELDS = ("entity_count", "solids", "shells", "faces", "edges", "facets")


class InvalidDocument(ValueError):
    """A summary (typically loaded from storage) that breaks the document invariants."""


def _as_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidDocument(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _as_finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidDocument(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidDocument(f"{name} must be finite, got {value!r}")
    return value


def _as_histogram(name: str, value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidDocument(f"{name} must be an object of name -> count")
    out: dict[str, int] = {}
    for key, count in value.items():
        if not isinstance(key, str):
            raise InvalidDocument(f"{name} keys must be strings, got {key!r}")
        out[key] = _as_count(f"{name}[{key!r}]", count)
    return out


@dataclass(frozen=True)
class CadDocument:
    format: str
    parser: str
    entity_count: int = 0
    entity_kinds: dict[str, int] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    bbox: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    solids: int = 0
    shells: int = 0
    faces: int = 0
    edges: int = 0
    facets: int = 0
    volume: float | None = None
    area: float | None = None
    units: str | None = None
    warnings: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    shape: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InvalidDocument(f"format must be one of {FORMATS}, got {self.format!r}")
        if not isinstance(self.parser, str) or not self.parser:
            raise InvalidDocument("parser must be a non-empty string")
        for name in _COUNT_FIELDS:
            _as_count(name, getattr(self, name))
        kinds = _as_histogram("entity_kinds", self.entity_kinds)
        layers = _as_histogram("layers", self.layers)
        if sum(kinds.values()) != self.entity_count:
            raise InvalidDocument(
                f"entity_count {self.entity_count} != sum of entity_kinds {sum(kinds.values())}"
            )
        object.__setattr__(self, "entity_kinds", kinds)
        object.__setattr__(self, "layers", layers)
        if self.bbox is not None:
            try:
                lo, hi = self.bbox
                lo = tuple(_as_finite("bbox", v) for v in lo)
                hi = tuple(_as_finite("bbox", v) for v in hi)
            except (TypeError, ValueError) as exc:
                raise InvalidDocument(f"bbox must be ((x,y,z), (x,y,z)): {exc}") from None
            if len(lo) != 3 or len(hi) != 3 or any(a > b for a, b in zip(lo, hi)):
                raise InvalidDocument(f"bbox must be ((xmin,ymin,zmin), (xmax,ymax,zmax)), got {self.bbox!r}")
            object.__setattr__(self, "bbox", (lo, hi))
        for name in ("volume", "area"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_finite(name, value))
        if self.units is not None and not isinstance(self.units, str):
            raise InvalidDocument("units must be a string or null")
        if isinstance(self.warnings, str) or not all(isinstance(w, str) for w in self.warnings):
            raise InvalidDocument("warnings must be a list of strings")
        object.__setattr__(self, "warnings", tuple(self.warnings))
        if not isinstance(self.metadata, Mapping):
            raise InvalidDocument("metadata must be an object")
        object.__setattr__(self, "metadata", dict(self.metadata))
        if self.shape is not None:
            if not isinstance(self.shape, Mapping):
                raise InvalidDocument("shape must be an object or null")
            object.__setattr__(self, "shape", dict(self.shape))

    @property
    def bbox_size(self) -> tuple[float, float, float]:
        """(width, height, depth) = extent along x, y, z; zeros without a bounding box."""
        if self.bbox is None:
            return (0.0, 0.0, 0.0)
        lo, hi = self.bbox
        return (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": SUMMARY_SCHEMA,
            "format": self.format,
            "parser": self.parser,
            "entity_count": self.entity_count,
            "entity_kinds": dict(self.entity_kinds),
            "layers": dict(self.layers),
            "bbox": None if self.bbox is None else {"min": list(self.bbox[0]), "max": list(self.bbox[1])},
            "solids": self.solids,
            "shells": self.shells,
            "faces": self.faces,
            "edges": self.edges,
            "facets": self.facets,
            "volume": self.volume,
            "area": self.area,
            "units": self.units,
            "warnings": list(self.warnings),
            "metadata": dict(self.metadata),
        }
        if self.shape is not None:  # absent from summaries stored before v5, and kept absent
            out["shape"] = dict(self.shape)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CadDocument":
        if not isinstance(data, Mapping):
            raise InvalidDocument("a document summary must be an object")
        schema = data.get("schema", SUMMARY_SCHEMA)
        if schema != SUMMARY_SCHEMA:
            raise InvalidDocument(f"unknown summary schema {schema!r}")
        bbox = data.get("bbox")
        if bbox is not None:
            if not isinstance(bbox, Mapping) or "min" not in bbox or "max" not in bbox:
                raise InvalidDocument("bbox must be {min: [x,y,z], max: [x,y,z]} or null")
            bbox = (tuple(bbox["min"]), tuple(bbox["max"]))
        known = {f for f in cls.__dataclass_fields__}  # noqa: C416
        kwargs = {k: v for k, v in data.items() if k in known and k != "bbox"}
        missing = {"format", "parser"} - kwargs.keys()
        if missing:
            raise InvalidDocument(f"summary lacks {sorted(missing)}")
        kwargs["warnings"] = tuple(kwargs.get("warnings") or ())
        try:
            return cls(bbox=bbox, **kwargs)
        except TypeError as exc:  # wrong shapes of nested values
            raise InvalidDocument(str(exc)) from None
