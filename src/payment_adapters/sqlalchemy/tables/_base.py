"""What every table shares: the metadata with its naming convention and the column kinds."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Integer,
    MetaData,
    String,
    literal_column,
)
from sqlalchemy.types import CHAR

#: Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# A BIGINT primary key that is an identity on PostgreSQL and SQLite's rowid alias (which must
# be spelled INTEGER) there, so that it autoincrements on both.
BIGSERIAL = BigInteger().with_variant(Integer(), "sqlite")


def partial(where: str) -> dict[str, Any]:
    """Index options for a partial index on both databases."""
    clause: ColumnElement[bool] = literal_column(where)
    return {"postgresql_where": clause, "sqlite_where": clause}


def non_negative(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in columns]


STATUS = String(16)
CURRENCY = CHAR(3)
PROVIDER = String(32)
TOKEN = String(255)
