"""Alembic environment: runs on the connection that ``Database.migrate()`` hands over."""

from __future__ import annotations

from alembic import context

from payment_adapters.sqlalchemy.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run the migrations through Database.migrate() or payment-service migrate; "
        "they need a connection in config.attributes['connection']"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: later revisions use batch mode there.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
