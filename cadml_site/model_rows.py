"""Model instances read by column equality without compiling a queryset, for the lookups on every request's path.

Compiling ``Model.objects.filter(column=value)[:1]`` costs about twice the round trip it makes (measured 0.37 ms of
CPU against 0.14 ms for the same row read here, docs/benchmarks.md "fourth round"). ``model_rows`` writes the same
``SELECT <every concrete column> FROM <table> WHERE <column> = %s [LIMIT n]`` from the model's own fields, converts
each value with the field's and the backend's converters (what the ORM applies to a column it reads) and builds the
instances with ``Model.from_db``, so that they are what the queryset would have returned
(``tests/site/test_model_rows.py`` compares them on SQLite and Postgres). The two halves serve apart too: a service
that reads the row inside a larger statement (a part of ``cadml_site.statement_parts``) takes the query from
``model_select`` and builds the instance from the row's leading columns with ``model_instances``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections
from django.db.models import Model

from cadml_site.prepared_statements import statement_cursor


def model_select(model: type[Model], *, where: dict[str, object], limit: int | None = None,
                 using: str = "default") -> tuple[str, list]:
    """``SELECT <every concrete column, in field order> FROM <table> WHERE <field> = %s AND ... [LIMIT n]`` and its
    parameters, the values of ``where`` prepared for the database as the ORM prepares them."""
    connection = connections[using]
    meta = model._meta
    quote = connection.ops.quote_name
    conditions = " AND ".join(f"{quote(meta.get_field(name).column)} = %s" for name in where)
    sql = (f"SELECT {', '.join(quote(field.column) for field in meta.concrete_fields)} FROM {quote(meta.db_table)} "
           f"WHERE {conditions}" + (f" LIMIT {int(limit)}" if limit is not None else ""))
    params = [meta.get_field(name).get_db_prep_value(value, connection) for name, value in where.items()]
    return sql, params


def model_instances(model: type[Model], rows: Sequence[Sequence], *, using: str = "default") -> list[Model]:
    """Instances of ``model`` from rows whose leading columns are ``model_select``'s (every concrete column, in field
    order; columns after them are ignored), each value converted as the ORM converts the column it reads."""
    if not rows:
        return []
    connection = connections[using]
    meta = model._meta
    fields = meta.concrete_fields
    columns = [field.get_col(meta.db_table) for field in fields]
    converters = [(index, column, field.get_db_converters(connection) + connection.ops.get_db_converters(column))
                  for index, (field, column) in enumerate(zip(fields, columns))]
    converters = [(index, column, found) for index, column, found in converters if found]
    attnames = [field.attname for field in fields]
    instances = []
    for row in rows:
        values = list(row[:len(fields)])
        for index, column, found in converters:
            for convert in found:
                values[index] = convert(values[index], column, connection)
        instances.append(model.from_db(using, attnames, values))
    return instances


def model_rows(model: type[Model], *, where: dict[str, object], limit: int | None = None,
               using: str = "default") -> list[Model]:
    """Instances of ``model`` whose fields named in ``where`` equal the given values (no ordering), at most
    ``limit``."""
    sql, params = model_select(model, where=where, limit=limit, using=using)
    with statement_cursor(using) as cursor:  # prepared once per connection (Postgres)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return model_instances(model, rows, using=using)
