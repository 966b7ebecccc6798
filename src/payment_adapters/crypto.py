"""Field encryption at rest: AES-256-GCM with key ids, so keys rotate without downtime.

Every value is sealed on its own, with a fresh random 96-bit nonce, under the *primary* key
(the first of ``ENCRYPTION_KEYS``), and carries the id of that key. Any configured key decrypts,
so a new key can be put first while old rows are still readable, and
``payment_adapters.sqlalchemy.rotation.rotate_keys`` re-encrypts the old rows afterwards.

The associated data binds a ciphertext to where it is stored (table, column and row id, e.g.
``b"payments.client_secret:<uuid>"``): a value copied into another row or column does not
decrypt, even with the right key.

Wire format of one value (version 1)::

    0x01 | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | ciphertext + GCM tag (16 bytes)

The header (version, key id) is authenticated too: it is prepended to the associated data.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DEV_KEY_FILE",
    "Cipher",
    "DecryptionError",
    "FieldCipher",
    "generate_key",
    "key_id_of",
    "load_or_create_dev_key",
]

_VERSION: Final = 1
_NONCE_BYTES: Final = 12  # 96 bits: the size GCM is designed for
_TAG_BYTES: Final = 16
_KEY_BYTES: Final = 32  # AES-256
_KEY_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Where a development key is kept when ``ENCRYPTION_KEYS`` is unset outside production.
DEV_KEY_FILE: Final = ".payment-service.key"


class DecryptionError(ValueError):
    """A value could not be decrypted: altered, moved to another row, or under an unknown key.

    The message never carries key material or plaintext.
    """


def _parse_header(ciphertext: bytes) -> tuple[str, int]:
    """The key id and the offset of the nonce; ``DecryptionError`` for a malformed value."""
    if len(ciphertext) < 2 or ciphertext[0] != _VERSION:
        raise DecryptionError("not a sealed value of a known format")
    kid_len = ciphertext[1]
    body = 2 + kid_len
    if kid_len == 0 or len(ciphertext) < body + _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("sealed value is truncated")
    try:
        kid = ciphertext[2:body].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("sealed value has a malformed key id") from None
    return kid, body


def key_id_of(ciphertext: bytes) -> str:
    """The id of the key a sealed value was encrypted with (read from its header)."""
    return _parse_header(ciphertext)[0]


def _check_key_id(kid: str, where: str) -> str:
    if not _KEY_ID.fullmatch(kid):
        raise ValueError(
            f"{where}: key id {kid[:64]!r} must be 1-64 characters of A-Z a-z 0-9 . _ -"
        )
    return kid


def _decode_key(text: str, kid: str, where: str) -> bytes:
    text = text.strip()
    if not text:
        raise ValueError(f"{where}: key {kid!r} is empty")
    # Accept the standard and the URL-safe alphabet, with or without padding.
    altchars = b"-_" if ("-" in text or "_" in text) else None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        # Never echo the value: it is (or is meant to be) a secret.
        raise ValueError(f"{where}: key {kid!r} is not valid base64") from None
    if len(raw) != _KEY_BYTES:
        raise ValueError(
            f"{where}: key {kid!r} decodes to {len(raw)} bytes; AES-256 needs {_KEY_BYTES}"
        )
    return raw


class Cipher(Protocol):
    """Authenticated encryption of a field at rest, bound to where it is stored.

    The port the SQL adapters seal their secret columns through (:class:`FieldCipher`).
    """

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Ciphertext (with key id and nonce), readable only with the same ``associated_data``."""
        ...

    def decrypt(self, ciphertext: bytes, *, associated_data: bytes) -> bytes:
        """The plaintext; raises if the ciphertext or ``associated_data`` was tampered with."""
        ...


class FieldCipher:
    """AES-256-GCM field cipher implementing :class:`Cipher`.

    ``keys`` maps key ids to 32-byte keys, in order: the first is the primary key (it
    encrypts), every one decrypts. Build it from configuration with :meth:`from_keys`.
    """

    __slots__ = ("_aead", "_primary")

    def __init__(self, keys: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
        if not pairs:
            raise ValueError("at least one encryption key is needed")
        aead: dict[str, AESGCM] = {}
        for kid, key in pairs:
            _check_key_id(kid, "encryption keys")
            if kid in aead:
                raise ValueError(f"encryption keys: key id {kid!r} appears twice")
            if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
                raise ValueError(f"encryption keys: key {kid!r} must be {_KEY_BYTES} bytes")
            aead[kid] = AESGCM(key)
        self._aead = aead
        self._primary = pairs[0][0]

    @classmethod
    def from_keys(cls, spec: str, *, name: str = "ENCRYPTION_KEYS") -> FieldCipher:
        """Parse ``"kid1:base64key,kid2:base64key"`` (the first encrypts, all decrypt).

        Raises ``ValueError`` naming ``name``, the entry and what is wrong with it; a key's
        value never appears in the message.
        """
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"{name} is empty; expected kid:base64key[,kid:base64key...]")
        pairs: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for position, raw_entry in enumerate(spec.split(","), start=1):
            entry = raw_entry.strip()
            if not entry:
                raise ValueError(f"{name}: entry {position} is empty")
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep or not kid:
                raise ValueError(f"{name}: entry {position} has no key id; expected kid:base64key")
            _check_key_id(kid, name)
            if kid in seen:
                raise ValueError(f"{name}: key id {kid!r} appears twice")
            seen.add(kid)
            pairs.append((kid, _decode_key(encoded, kid, name)))
        return cls(pairs)

    @property
    def primary_key_id(self) -> str:
        """The id of the key new values are encrypted with."""
        return self._primary

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id that decrypts, the primary first."""
        return tuple(self._aead)

    def __repr__(self) -> str:
        return f"FieldCipher(primary={self._primary!r}, keys={list(self._aead)!r})"

    def encrypt(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Seal ``plaintext`` under the primary key, bound to ``associated_data``."""
        kid = self._primary.encode("ascii")
        header = bytes((_VERSION, len(kid))) + kid
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead[self._primary].encrypt(nonce, plaintext, header + associated_data)
        return header + nonce + sealed

    def decrypt(self, ciphertext: bytes, *, associated_data: bytes) -> bytes:
        """The plaintext; ``DecryptionError`` if altered, moved, or under an unknown key."""
        kid, offset = _parse_header(ciphertext)
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"sealed with key {kid!r}, which is not configured")
        nonce = ciphertext[offset : offset + _NONCE_BYTES]
        try:
            return aead.decrypt(
                nonce, ciphertext[offset + _NONCE_BYTES :], ciphertext[:offset] + associated_data
            )
        except InvalidTag:
            raise DecryptionError(
                "authentication failed: the value was altered or belongs elsewhere"
            ) from None

    def needs_rotation(self, ciphertext: bytes) -> bool:
        """Whether a sealed value is under another key than the primary one."""
        return key_id_of(ciphertext) != self._primary

    @staticmethod
    def key_id_of(ciphertext: bytes) -> str:
        """The id of the key a sealed value was encrypted with."""
        return key_id_of(ciphertext)


def generate_key(kid: str | None = None) -> str:
    """A new random key as ``"kid:base64"`` (``kid`` defaults to ``k`` + 8 random hex digits)."""
    kid = _check_key_id(kid or f"k{secrets.token_hex(4)}", "generate_key")
    return f"{kid}:{base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode('ascii')}"


def load_or_create_dev_key(path: str | os.PathLike[str] = DEV_KEY_FILE) -> str:
    """The development key spec kept in ``path``, created once with mode 0600.

    For use outside production when ``ENCRYPTION_KEYS`` is unset (the caller logs a warning).
    Creation is atomic: the key is written to a private temporary file and hard-linked into
    place, so concurrent starters agree on one key and nobody reads a half-written file.
    """
    target = Path(path)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(generate_key("dev") + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            # Another process may have won the race: then its key is the key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    spec = target.read_text(encoding="ascii").strip()
    FieldCipher.from_keys(spec, name=str(target))  # fail here, naming the file, if it is bad
    return spec
