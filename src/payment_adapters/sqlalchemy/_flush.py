"""Staged inserts, and the statements that send them: as few as the database allows.

On PostgreSQL one flush is a single statement: each staged row a data-modifying CTE, the
outbox rows one more, and the notification. Elsewhere (SQLite, or more rows than one
statement should carry) it is one ``executemany`` per table, in foreign-key order.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any, Final
from uuid import UUID

import attrs
from sqlalchemy import Select, Table, bindparam, func, insert, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy._errors import unique_violation_table
from payment_core.errors import ConcurrencyError

__all__ = [
    "MAX_INLINE_ROWS",
    "OUTBOX_COLUMNS",
    "Groups",
    "Staged",
    "flush_statement",
    "grouped",
    "one_statement",
    "unique_violations_as_conflicts",
]

_NIL: Final = UUID(int=0)
#: Rows sent in one inline multi-row statement at most; more go by executemany. Small units
#: of work (1-3 rows) are the rule; the bound also caps the distinct statement shapes that
#: the prepared-statement cache has to hold.
MAX_INLINE_ROWS: Final = 16
#: The outbox columns the unit of work writes (``sequence`` is the identity; ``published_at``
#: is the relay's).
OUTBOX_COLUMNS: Final = ("id", "type", "stream_id", "body", "created_at")
#: Insert order that satisfies the foreign keys (SQLite checks them per statement).
_TABLE_ORDER: Final = {table.name: i for i, table in enumerate(t.metadata.sorted_tables)}


@attrs.define(slots=True)
class Staged:
    """A row to insert, and what to name in a ``ConcurrencyError`` if its key is taken."""

    table: Table
    row: dict[str, Any]
    entity: str
    ident: UUID


Groups = dict[str, tuple[Table, list[dict[str, Any]]]]


def grouped(staged: Sequence[Staged]) -> Groups:
    """The staged rows by table, tables in an order that satisfies the foreign keys."""
    groups: Groups = {}
    # A table declared in a module of its own (payment_plans) may be registered after this
    # order was taken; it has no foreign keys, so it goes last.
    last = len(_TABLE_ORDER)
    for item in sorted(staged, key=lambda s: _TABLE_ORDER.get(s.table.name, last)):
        groups.setdefault(item.table.name, (item.table, []))[1].append(item.row)
    return groups


@functools.cache
def flush_statement(
    shape: tuple[tuple[str, tuple[str, ...], int], ...], *, outbox: bool
) -> Select[Any]:
    """``WITH ins_payments_0 AS (INSERT ...), ins_outbox AS (INSERT ...) SELECT 1``.

    Built once per shape (which tables and columns, how many rows) with named parameters
    ``<table>_<row>_<column>``, one single-row ``INSERT`` per row: SQLAlchemy caches the
    compiled form of those, but compiles a multi-row ``VALUES`` afresh on every execution.

    Sibling CTEs run in no set order, so the outbox rows, whose identity values must follow
    the order of the events, are one ``INSERT ... SELECT`` over ``unnest`` of one array per
    column ``WITH ORDINALITY ... ORDER BY`` it: in order, and one statement shape whatever
    the number of events.
    """
    ctes = []
    for name, columns, count in shape:
        table = t.metadata.tables[name]
        for i in range(count):
            values = {c: bindparam(f"{name}_{i}_{c}", type_=table.c[c].type) for c in columns}
            ctes.append(insert(table).values(values).cte(f"ins_{name}_{i}"))
    if outbox:
        arrays = [
            bindparam(f"outbox_{c}", type_=postgresql.ARRAY(t.outbox.c[c].type))
            for c in OUTBOX_COLUMNS
        ]
        rows = (
            func.unnest(*arrays)
            .table_valued(*OUTBOX_COLUMNS, with_ordinality="position")
            .render_derived()
        )
        ordered = select(*(rows.c[c] for c in OUTBOX_COLUMNS)).order_by(rows.c.position)
        ctes.append(insert(t.outbox).from_select(list(OUTBOX_COLUMNS), ordered).cte("ins_outbox"))
    # No pg_notify here: a notifying commit takes PostgreSQL's global notification lock
    # (``_wake`` wakes the relay after the commit instead).
    return select(literal(1)).add_cte(*ctes)


def one_statement(
    groups: Groups, outbox_rows: list[dict[str, Any]]
) -> tuple[Select[Any], dict[str, Any]]:
    """One statement: each staged row as a data-modifying CTE, the outbox rows as one more
    (in event order). Foreign keys are checked at the end of the statement, when every row
    is in."""
    shape = tuple(
        (table.name, tuple(group_rows[0]), len(group_rows)) for table, group_rows in groups.values()
    )
    statement = flush_statement(shape, outbox=bool(outbox_rows))
    parameters: dict[str, Any] = {
        f"{table.name}_{i}_{column}": value
        for table, group_rows in groups.values()
        for i, row in enumerate(group_rows)
        for column, value in row.items()
    }
    if outbox_rows:
        for column in OUTBOX_COLUMNS:
            parameters[f"outbox_{column}"] = [row[column] for row in outbox_rows]
    return statement, parameters


@contextlib.contextmanager
def unique_violations_as_conflicts(staged: Sequence[Staged]) -> Iterator[None]:
    """A unique violation (an id taken, a chain forked) as ``ConcurrencyError`` naming the row;
    any other integrity error as it is."""
    try:
        yield
    except IntegrityError as exc:
        table = unique_violation_table(exc)
        if table is None:
            raise
        culprit = next((s for s in staged if s.table.name == table), None)
        raise ConcurrencyError(
            entity=culprit.entity if culprit else table,
            entity_id=culprit.ident if culprit else _NIL,
        ) from None
