"""The ``payment-service`` sub-commands other than ``serve`` (:mod:`payment_http.cli`)."""
