"""Model instances read by column equality without compiling a queryset, for the lookups on every request's path.

Compiling ``Model.objects.filter(column=value)[:1]`` costs about twice the round trip it makes (measured 0.37 ms of
CPU against 0.14 ms for the same row read here, docs/benchmarks.md "fourth round"). ``model_rows`` writes the same
``SELECT <every concrete column> FROM <table> WHERE <column> = %s [LIMIT n]`` from the model's own fields, converts
each value with the field's and the backend's converters (what the ORM applies to a column it reads) and builds the
instances with ``Model.from_db``, so that they are what the queryset would have returned
(``tests/site/test_model_rows.py`` compares them on SQLite and Postgres).
"""

from __future__ import annotations

from django.db import connections
from django.db.models import Model


def model_rows(model: type[Model], *, where: dict[str, object], limit: int | None = None,
               using: str = "default") -> list[Model]:
    """Instances of ``model`` whose fields named in ``where`` equal the given values (no ordering), at most
    ``limit``."""
    connection = connections[using]
    meta = model._meta
    quote = connection.ops.quote_name
    fields = meta.concrete_fields
    conditions = " AND ".join(f"{quote(meta.get_field(name).column)} = %s" for name in where)
    sql = (f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(meta.db_table)} "
           f"WHERE {conditions}" + (f" LIMIT {int(limit)}" if limit is not None else ""))
    params = [meta.get_field(name).get_db_prep_value(value, connection) for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    columns = [field.get_col(meta.db_table) for field in fields]
    converters = [(index, column, field.get_db_converters(connection) + connection.ops.get_db_converters(column))
                  for index, (field, column) in enumerate(zip(fields, columns))]
    converters = [(index, column, found) for index, column, found in converters if found]
    attnames = [field.attname for field in fields]
    instances = []
    for row in rows:
        values = list(row)
        for index, column, found in converters:
            for convert in found:
                values[index] = convert(values[index], column, connection)
        instances.append(model.from_db(using, attnames, values))
    return instances
