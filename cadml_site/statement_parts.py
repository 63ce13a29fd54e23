"""Writes of several apps in one SQL statement: each app builds the part that writes its own table, and the service
that owns the whole write joins them as the data-modifying common table expressions of one ``WITH`` statement
(Postgres). One statement is one round trip and its own transaction in autocommit: no BEGIN and COMMIT round trips,
and all its parts commit or none does. A part reads the rows an earlier part returned by that part's name (the
parts run on one snapshot and see each other's rows only through RETURNING)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class StatementPart:
    """One common table expression: ``name AS (sql)`` with its parameters (``%s`` placeholders, in order)."""

    name: str
    sql: str
    params: list = field(default_factory=list)


def joined_statement(parts: list[StatementPart], final_sql: str) -> tuple[str, list]:
    """``WITH part, part, ... final_sql`` and its parameters in placeholder order (at least one part)."""
    sql = "WITH " + ", ".join(f"{part.name} AS ({part.sql})" for part in parts) + " " + final_sql
    params: list = []
    for part in parts:
        params.extend(part.params)
    return sql, params


def insert_columns(instance) -> list[tuple[Any, str, Any]]:
    """``(field, quoted column, value ready for the database)`` of every concrete field of an unsaved model instance
    but its primary key, as the ORM's insert would write them (``pre_save(add=True)``: ``auto_now_add`` stamps,
    JSON adapted): for inserts written as SQL that follow the model's fields."""
    quote = connection.ops.quote_name
    return [(model_field, quote(model_field.column),
             model_field.get_db_prep_save(model_field.pre_save(instance, add=True), connection))
            for model_field in instance._meta.concrete_fields if not model_field.primary_key]


def mark_inserted(instance, pk: int) -> None:
    """An unsaved model instance that an insert written as SQL has stored with id `pk`: from now on the ORM treats it
    as a saved row of this connection (a later ``save()`` updates it)."""
    instance.pk = pk
    instance._state.adding, instance._state.db = False, connection.alias
