"""The schema's one ``MetaData`` and its naming convention, apart from the tables so that
the modules declaring tables (``tables``, ``_dispute_tables``) share it without importing
one another's tables."""

from __future__ import annotations

from typing import Final

from sqlalchemy import MetaData

__all__ = ["NAMING_CONVENTION", "metadata"]

#: Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
