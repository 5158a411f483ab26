"""Model instances by plain SQL, for the lookups every signed-in request makes.

Each signed-in page looks up its session, its user and the teams that user
leads. For such a lookup the ORM spends about ten times longer building the
query (cloning the query set, resolving lookups, compiling SQL) than the
database takes to answer it. Here a statement is written once per process
from the model's own metadata and then only run. What comes back goes
through the converters the ORM itself applies (booleans, time-zone-aware
datetimes, JSON), so an instance is the one a query set would give.

On PostgreSQL these statements are also prepared (``prepared_cursor``):
planning the runbook page's statement took longer than running it.
"""

import functools
from collections.abc import Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model


def prepared_cursor(alias: str = DEFAULT_DB_ALIAS):
    """A cursor for the statements every request runs; on PostgreSQL it prepares them.

    Django's cursors bind parameters on the client, which psycopg never
    prepares. This one is psycopg's server-side binding cursor, which
    prepares each statement the first time a connection runs it (the
    connection's ``prepare_threshold`` is 0, see settings.py), wrapped as
    Django wraps its own, so queries are logged and counted the same.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    return connection._prepare_cursor(cursor)


def select_list(model: type[Model], table: str, alias: str = DEFAULT_DB_ALIAS) -> str:
    """Every column of ``model`` (``table`` is its name or alias in the statement)."""
    q = connections[alias].ops.quote_name
    return ", ".join(f"{table}.{q(field.column)}" for field in model._meta.concrete_fields)


def loaded[M: Model](model: type[M], values: Mapping[str, Any], alias: str = DEFAULT_DB_ALIAS) -> M:
    """An instance of ``model`` from column values as the driver gave them, by
    field attname; the fields not given are deferred, as with ``only()``."""
    names, converters = _plan(model, tuple(values), alias)
    connection = connections[alias]
    converted = []
    for name in names:
        value = values[name]
        for column, convert in converters[name]:
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(alias, names, converted)


def in_columns(model: type[Model], row) -> dict[str, Any]:
    """The values of a row read with ``select_list``, by attname."""
    fields = model._meta.concrete_fields
    return {field.attname: value for field, value in zip(fields, row, strict=True)}


@functools.cache
def _plan(model: type[Model], given: tuple[str, ...], alias: str) -> tuple[list, dict]:
    """The given attnames in the model's field order (as ``from_db`` takes them),
    and the converters the ORM applies to each: (column, converter) pairs."""
    connection = connections[alias]
    names, converters = [], {}
    for field in model._meta.concrete_fields:
        if field.attname in given:
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            names.append(field.attname)
            converters[field.attname] = [(column, convert) for convert in found]
    return names, converters
