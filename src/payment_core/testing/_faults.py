"""Failures the fake provider is told to raise, per operation, in order."""

from __future__ import annotations

from typing import Final

import attrs

from payment_core.errors import ProviderError

__all__ = ["OPERATIONS", "Fault", "Faults"]

#: The operations whose calls are recorded and may be made to fail.
OPERATIONS: Final = frozenset(
    {
        "create_payment",
        "confirm_payment",
        "retrieve_payment",
        "cancel_payment",
        "capture_payment",
        "increment_authorization",
        "detach_payment_method",
        "refund",
        "retrieve_refund",
        "submit_dispute_evidence",
        "retrieve_dispute",
    }
)


@attrs.frozen(slots=True)
class Fault:
    """Raise ``error``, before the call does its work or (``after_effect``) after it."""

    error: ProviderError
    after_effect: bool


class Faults:
    """The faults waiting for each operation's next calls."""

    def __init__(self) -> None:
        self._queues: dict[str, list[Fault]] = {}

    def inject(
        self, operation: str, error: ProviderError, *, times: int, after_effect: bool
    ) -> None:
        """Make the next ``times`` calls of ``operation`` fail with ``error``."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {sorted(OPERATIONS)}")
        if type(times) is not int or times < 1:
            raise ValueError("times must be a positive int")
        queue = self._queues.setdefault(operation, [])
        queue.extend([Fault(error, after_effect)] * times)

    def next(self, operation: str) -> Fault | None:
        """The fault for this call of ``operation``, if one is waiting."""
        queue = self._queues.get(operation)
        return queue.pop(0) if queue else None
