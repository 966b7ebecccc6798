"""One kit per provider: the adapter wired to its stand-in, and the provider-side moves a
contract test needs (the customer passes 3-D Secure, the provider sends an event, time passes,
the cardholder's bank opens a dispute).

Every kit speaks in the same terms, so that one test body runs over every provider.
"""

from ._base import (
    FAKE_WEBHOOK_SECRET,
    KNOWN_PANS,
    PAYPAL_WEBHOOK_ID,
    RETURN_URL,
    SQUARE_NOTIFICATION_URL,
    SQUARE_SIGNATURE_KEY,
    STRIPE_WEBHOOK_SECRETS,
    VERIFY_URL,
    Delivery,
    EventKind,
    Keys,
    Kit,
    RecordingSleep,
    VirtualPace,
    fast_backoff,
    refund_id_of,
)
from ._fake import FakeKit
from ._paypal import PayPalKit
from ._square import SquareKit
from ._stripe import StripeKit

__all__ = [
    "FAKE_WEBHOOK_SECRET",
    "KNOWN_PANS",
    "PAYPAL_WEBHOOK_ID",
    "RETURN_URL",
    "SQUARE_NOTIFICATION_URL",
    "SQUARE_SIGNATURE_KEY",
    "STRIPE_WEBHOOK_SECRETS",
    "VERIFY_URL",
    "Delivery",
    "EventKind",
    "FakeKit",
    "Keys",
    "Kit",
    "PayPalKit",
    "RecordingSleep",
    "SquareKit",
    "StripeKit",
    "VirtualPace",
    "fast_backoff",
    "refund_id_of",
]
