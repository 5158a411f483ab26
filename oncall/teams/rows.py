"""Model instances by plain SQL, for the lookups every signed-in request makes.

Each signed-in page looks up its session, its user and the teams that user
leads. For such a lookup the ORM spends about ten times longer building the
query (cloning the query set, resolving lookups, compiling SQL) than the
database takes to answer it. Here a statement is written once per process
from the model's own metadata and then only run. What comes back goes
through the converters the ORM itself applies (booleans, time-zone-aware
datetimes, JSON), so an instance is the one a query set would give.
"""

import functools
from collections.abc import Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Field, Model
from django.db.models.expressions import Col


def fetch_one[M: Model](model: type[M], **equals: Any) -> M | None:
    """The row of ``model`` whose fields equal ``equals`` (unique fields), or None."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    sql = _statement(model, tuple(equals), alias)
    params = [
        model._meta.get_field(name).get_db_prep_value(value, connection, prepared=False)
        for name, value in equals.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else loaded(model, in_columns(model, row), alias)


def select_list(model: type[Model], table: str, alias: str = DEFAULT_DB_ALIAS) -> str:
    """Every column of ``model`` (``table`` is its name or alias in the statement)."""
    q = connections[alias].ops.quote_name
    return ", ".join(f"{table}.{q(field.column)}" for field in model._meta.concrete_fields)


def loaded[M: Model](model: type[M], values: Mapping[str, Any], alias: str = DEFAULT_DB_ALIAS) -> M:
    """An instance of ``model`` from column values as the driver gave them, by
    field attname; the fields not given are deferred, as with ``only()``."""
    names, converted = [], []
    for field in model._meta.concrete_fields:
        if field.attname in values:
            names.append(field.attname)
            converted.append(as_python(field, values[field.attname], alias))
    return model.from_db(alias, names, converted)


def in_columns(model: type[Model], row) -> dict[str, Any]:
    """The values of a row read with ``select_list``, by attname."""
    fields = model._meta.concrete_fields
    return {field.attname: value for field, value in zip(fields, row, strict=True)}


def as_python(field: Field, value: Any, alias: str = DEFAULT_DB_ALIAS) -> Any:
    """A value of ``field`` as the database driver gave it, as the ORM gives it."""
    connection = connections[alias]
    column, converters = _converters(field, alias)
    for convert in converters:
        value = convert(value, column, connection)
    return value


@functools.cache
def _converters(field: Field, alias: str) -> tuple[Col, list]:
    connection = connections[alias]
    column = field.get_col(field.model._meta.db_table)
    return column, connection.ops.get_db_converters(column) + field.get_db_converters(connection)


@functools.cache
def _statement(model: type[Model], names: tuple[str, ...], alias: str) -> str:
    q = connections[alias].ops.quote_name
    where = " AND ".join(f"t.{q(model._meta.get_field(name).column)} = %s" for name in names)
    table = q(model._meta.db_table)
    return f"SELECT {select_list(model, 't', alias)} FROM {table} t WHERE {where}"  # noqa: S608
