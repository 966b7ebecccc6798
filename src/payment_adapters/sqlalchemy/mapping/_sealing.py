"""Field encryption to and from a row: each ciphertext bound to its table, column and row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import RowMapping

from payment_adapters.crypto import Cipher

Row = RowMapping | Mapping[str, Any]


def associated_data(table: str, column: str, row_key: object) -> bytes:
    """What binds a ciphertext to its place: ``b"payments.client_secret:<uuid>"``."""
    return f"{table}.{column}:{row_key}".encode()


def seal_bytes(cipher: Cipher, table: str, column: str, row_key: object, value: bytes) -> bytes:
    return cipher.encrypt(value, associated_data=associated_data(table, column, row_key))


def open_bytes(cipher: Cipher, table: str, column: str, row_key: object, value: bytes) -> bytes:
    return cipher.decrypt(bytes(value), associated_data=associated_data(table, column, row_key))


def seal_text(
    cipher: Cipher, table: str, column: str, row_key: object, value: str | None
) -> bytes | None:
    if value is None:
        return None
    return seal_bytes(cipher, table, column, row_key, value.encode("utf-8"))


def open_text(
    cipher: Cipher, table: str, column: str, row_key: object, value: bytes | None
) -> str | None:
    if value is None:
        return None
    return open_bytes(cipher, table, column, row_key, value).decode("utf-8")
