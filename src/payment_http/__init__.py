"""The HTTP service (Litestar) and the ``payment-service`` command line."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # Importing the package does not import Litestar (the CLI's other commands don't need it).
    if name == "create_app":
        from payment_http.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(name)
