"""Writes of several apps in one SQL statement: each app builds the part that writes its own table, and the service
that owns the whole write joins them as the data-modifying common table expressions of one ``WITH`` statement
(Postgres). One statement is one round trip and its own transaction in autocommit: no BEGIN and COMMIT round trips,
and all its parts commit or none does. A part reads the rows an earlier part returned by that part's name (the
parts run on one snapshot and see each other's rows only through RETURNING)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StatementPart:
    """One common table expression: ``name AS (sql)`` with its parameters (``%s`` placeholders, in order)."""

    name: str
    sql: str
    params: list = field(default_factory=list)


def joined_statement(parts: list[StatementPart], final_sql: str, final_params: list | tuple = ()) -> tuple[str, list]:
    """``WITH part, part, ... final_sql`` and its parameters in placeholder order."""
    if not parts:
        return final_sql, list(final_params)
    sql = "WITH " + ", ".join(f"{part.name} AS ({part.sql})" for part in parts) + " " + final_sql
    params: list = []
    for part in parts:
        params.extend(part.params)
    params.extend(final_params)
    return sql, params
