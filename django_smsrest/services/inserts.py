"""Many rows of one model in a few multi-row INSERTs: :func:`insert_rows`, for
:func:`~django_smsrest.services.bulk.queue_many`.

``bulk_create`` prepares every value of every field of every object through the field
(``pre_save``, ``get_db_prep_save``) and builds a model instance per row first: for the
outbox's 35 columns that is most of ``queue_many``'s time. Here the values a batch
shares (defaults, the batch's time) are prepared once per batch, a value that varies is
prepared once per distinct value (or passed as it is where the field would return it
unchanged: text for a ``CharField``/``TextField``, an ``int`` for an integer field or a
foreign key to one), and the statement is the one ``bulk_create`` sends: the same
columns, the same ``VALUES`` rows, ``RETURNING`` the ids, split where the database limits
the parameters of a statement (:meth:`~django.db.backends.base.operations.
BaseDatabaseOperations.bulk_batch_size`). No signal is sent, as with ``bulk_create``.

:func:`can_insert_rows` says whether a database can take it (``INSERT ... RETURNING``
for many rows, no field with its own placeholder SQL); if not, callers use
``bulk_create``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections, models

__all__ = ["can_insert_rows", "insert_rows"]

# Field classes whose get_db_prep_save returns a value of this Python type unchanged
# (exact classes: a subclass may convert). Integer fields: int(value) of an int.
_AS_IS: dict[type[models.Field[Any, Any]], type] = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.AutoField: int,
    models.BigAutoField: int,
}
#: Parameters of one statement at most (PostgreSQL's protocol limit; SQLite's is lower and
#: comes from the backend).
MAX_PARAMS = 65535
#: Rows of one SQLite INSERT at most (SQLITE_MAX_COMPOUND_SELECT, which older versions
#: applied to multi-row VALUES).
MAX_SQLITE_ROWS = 500
_HASHABLE = (str, int, float, bool, datetime, type(None))


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns an INSERT names: every concrete field but the generated primary key."""
    return [f for f in model._meta.concrete_fields if f is not model._meta.pk]


def can_insert_rows(model: type[models.Model], db: str) -> bool:
    """Whether :func:`insert_rows` can write ``model`` on ``db``: many rows returned by one
    INSERT, an auto-generated primary key, and no field with placeholder SQL of its own
    (``get_placeholder``, e.g. geometry fields)."""
    connection = connections[db]
    pk = model._meta.pk
    return (
        connection.features.can_return_rows_from_bulk_insert
        and isinstance(pk, models.AutoField)
        and not any(hasattr(f, "get_placeholder") for f in _fields(model))
    )


def _as_is_type(field: models.Field[Any, Any]) -> type | None:
    """The Python type whose values ``field`` stores unchanged, if any."""
    if type(field) is models.ForeignKey:
        target = field.target_field
        return int if type(target) in (models.AutoField, models.BigAutoField) else None
    return _AS_IS.get(type(field))


def _rows_per_statement(
    connection: Any, fields: list[models.Field[Any, Any]], rows: Sequence[Any]
) -> int:
    """Rows one INSERT may carry: PostgreSQL's 65,535 parameters of one statement; for
    SQLite, the limit of the library in use (``getlimit``: 32,766 since 3.32, where
    Django's ``bulk_batch_size`` assumes the 999 of older builds), at most
    :data:`MAX_SQLITE_ROWS` rows; elsewhere the backend's ``bulk_batch_size``."""
    limit = MAX_PARAMS
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        variables = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return min(variables // len(fields), MAX_SQLITE_ROWS)
    return min(connection.ops.bulk_batch_size(fields, rows), limit // len(fields))


def insert_rows(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    db: str,
    now: datetime,
    *,
    max_rows: int | None = None,
) -> tuple[list[int], list[list[Any]]]:
    """INSERT one row of ``model`` per mapping of ``rows`` (``attname``: Python value);
    ``(ids, values)``: the new primary keys in the order of ``rows``, and each row's
    Python values in the order of ``model._meta.concrete_fields`` with its key (what
    ``Model.from_db`` takes, to build an instance without a query).

    Every row names the same fields. A field a row does not name takes its default, the
    same for the whole call (a callable default is called once: pass a value per row
    where each must differ, such as a unique order id; a mutable default is copied per
    row); ``auto_now``/``auto_now_add`` fields take ``now``. The caller checked
    :func:`can_insert_rows` and runs this inside a transaction.
    """
    if not rows:
        return [], []
    connection = connections[db]
    ops: Any = connection.ops  # return_insert_columns and the like are not in the stubs
    fields = _fields(model)
    named = set(rows[0])
    value: Any
    # Per field: (attname, Python value shared by every row or None, its prepared value).
    shared: dict[str, tuple[Any, Any]] = {}
    for field in fields:
        if field.attname in named:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        shared[field.attname] = (value, field.get_db_prep_save(value, connection))
    # One row's parameters and values as templates holding what every row shares; each
    # row copies them and fills in its own (a mutable default is copied per row, as if
    # the default were called for each: instances never share a list).
    pk_index = model._meta.concrete_fields.index(model._meta.pk)
    params_template: list[Any] = []
    values_template: list[Any] = []
    mutable: list[int] = []  # positions in values of shared lists and dicts
    own: list[tuple[int, int, str, models.Field[Any, Any], type | None]] = []
    for field in fields:
        if field.attname in shared:
            value, prepared = shared[field.attname]
            if isinstance(value, list | dict):
                mutable.append(len(values_template) + (len(values_template) >= pk_index))
        else:
            value = prepared = None
            own.append(
                (
                    len(params_template),
                    len(values_template) + (len(values_template) >= pk_index),
                    field.attname,
                    field,
                    _as_is_type(field),
                )
            )
        params_template.append(prepared)
        values_template.append(value)
    values_template.insert(pk_index, None)
    caches: dict[str, dict[tuple[type, Any], Any]] = {f.attname: {} for f in fields}

    params_rows: list[list[Any]] = []
    values_rows: list[list[Any]] = []
    for row in rows:
        params = params_template.copy()
        values = values_template.copy()
        for position in mutable:
            values[position] = values[position].copy()
        for param_at, value_at, attname, field, as_is in own:
            value = values[value_at] = row[attname]
            if as_is is not None and type(value) is as_is:
                params[param_at] = value
            elif isinstance(value, _HASHABLE):
                cache = caches[attname]
                key: tuple[type, Any] = (type(value), value)
                if key not in cache:
                    cache[key] = field.get_db_prep_save(value, connection)
                params[param_at] = cache[key]
            elif not value and isinstance(value, list | dict):  # the usual [] or {}
                cache = caches[attname]
                key = (type(value), ())
                if key not in cache:
                    cache[key] = field.get_db_prep_save(value, connection)
                params[param_at] = cache[key]
            else:  # a list or a dict with items (JSON): each its own
                params[param_at] = field.get_db_prep_save(value, connection)
        params_rows.append(params)
        values_rows.append(values)

    table = ops.quote_name(str(model._meta.db_table))
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    # Django 6.0 renamed these two (returning_columns, fetch_returned_rows); 5.2 has the
    # old names.
    if hasattr(ops, "returning_columns"):
        returning, returning_params = ops.returning_columns([model._meta.pk])
    else:
        returning, returning_params = ops.return_insert_columns([model._meta.pk])
    unnest = _unnest_types(connection, fields)
    if unnest is not None:
        # PostgreSQL: one array per column, UNNEST into rows (as bulk_create does since
        # Django 5.2): a few parameters whatever the number of rows, so the statement
        # is parsed and planned once, not with 34 placeholders per row.
        size = max_rows or len(rows)
    else:
        size = min(_rows_per_statement(connection, fields, rows), max_rows or len(rows))
        row_sql = [["%s"] * len(fields)]
    size = max(1, size)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(params_rows), size):
            chunk = params_rows[start : start + size]
            # Names quoted by the backend, every value a parameter.
            if unnest is not None:
                sql = f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({unnest}) {returning}"  # noqa: S608
                params = [list(column) for column in zip(*chunk, strict=True)]
            else:
                values_sql = ops.bulk_insert_sql(fields, row_sql * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) {values_sql} {returning}"
                params = [p for row_params in chunk for p in row_params]
            cursor.execute(sql, params + list(returning_params))
            if hasattr(ops, "fetch_returned_rows"):
                returned = ops.fetch_returned_rows(cursor, returning_params)
            else:
                returned = ops.fetch_returned_insert_rows(cursor)
            ids += [row[0] for row in returned]
    for pk, values in zip(ids, values_rows, strict=True):
        values[pk_index] = pk
    return ids, values_rows


def _unnest_types(connection: Any, fields: list[models.Field[Any, Any]]) -> str | None:
    """PostgreSQL: the ``UNNEST`` arguments, ``(%s)::varchar[], (%s)::jsonb[], ...``
    (without a length, so nothing is truncated), when every column has a built-in
    type (the condition of Django's own ``SQLInsertCompiler``); ``None`` elsewhere."""
    if connection.vendor != "postgresql":
        return None
    types = []
    for field in fields:
        target = getattr(field, "target_field", field) if field.is_relation else field
        if target.get_internal_type() not in connection.data_types:
            return None
        types.append(f"(%s)::{str(field.db_type(connection)).split('(')[0]}[]")
    return ", ".join(types)
