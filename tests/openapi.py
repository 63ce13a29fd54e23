"""Walking the OpenAPI schema in tests."""

from __future__ import annotations

from collections.abc import Iterator

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def schema_operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    """Every operation of ``schema`` as ``(path, method, operation)``, the method in lower case."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation
