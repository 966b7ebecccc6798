"""Adapters that plug the outside world into ``payment_core``'s ports.

SQLAlchemy storage (PostgreSQL and SQLite), RabbitMQ messaging (FastStream), payment providers
(Stripe, PayPal, Square and the fake), field encryption, settings, and the composition root.
Nothing here does anything at import time.
"""
