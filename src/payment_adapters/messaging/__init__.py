"""Events on the wire: the CloudEvents codec, the outbox relay, the booking-event consumer."""
