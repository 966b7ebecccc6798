"""``python -m payment_http`` is ``payment-service serve`` (or any command named first)."""

from __future__ import annotations

import sys

from payment_http.cli import COMMANDS, main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] not in COMMANDS:
        args = ["serve", *args]
    sys.exit(main(args))
