"""The suite-wide leak scan (``tests/_leakscan.py``) can fail: it finds what it must find, and
only that.

A fresh ``LeakScanner`` is used throughout, so that nothing here lands in the session's report;
one test runs a small session of its own to see the run fail.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from tests._leakscan import LeakScanner, card_numbers

SECRET = "sk_test_leakscan_selftest_0123456789"
PAN = "4242424242424242"
ROOT = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]


def record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("payment_core.test", logging.INFO, __file__, 1, msg, args, exc_info)


@pytest.fixture
def scanner() -> LeakScanner:
    scanner = LeakScanner()
    scanner.register_secret(SECRET)
    return scanner


def test_a_registered_secret_and_a_card_number_in_a_record_are_found(
    scanner: LeakScanner,
) -> None:
    found = scanner.record_findings(record("charging %s with key %s", PAN, SECRET))
    assert found == ["secret sk_tes… (36 chars)", "card number …4242"]


def test_what_is_only_in_the_exception_text_is_found(scanner: LeakScanner) -> None:
    try:
        raise RuntimeError(f"provider said: bad key {SECRET} for card 5555-5555-5555-4444")
    except RuntimeError as exc:
        found = scanner.record_findings(record("confirm failed", exc=exc))
    assert found == ["secret sk_tes… (36 chars)", "card number …4444"]


def test_extra_attributes_are_scanned(scanner: LeakScanner) -> None:
    entry = record("request")
    entry.headers = {"authorization": f"Bearer {SECRET}"}
    assert scanner.record_findings(entry) == ["secret sk_tes… (36 chars)"]


@pytest.mark.parametrize(
    "pan",
    [
        PAN,
        "4242 4242 4242 4242",
        "5555-5555-5555-4444",
        "378282246310005",
        "0 4242424242424242",
        "4242.4242.4242.4242",
        "4242\u00a04242  4242\u20134242",
        "4242 / 4242 / 4242 / 4242",
    ],
)
def test_card_numbers_are_found_however_grouped(pan: str) -> None:
    assert card_numbers(f'{{"description": "card {pan} please"}}')


@pytest.mark.parametrize(
    "text",
    [
        '{"card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}}',
        "payment 0191e0b4-1234-7abc-8def-123456789012 confirmed",
        "payment 12345678-1234-1234-1234-123456789012 confirmed",  # digits only, still a UUID
        '{"created_at": "2026-03-14T09:30:00.123456+00:00", "due_date": "2026-12-31"}',
        '{"amount": 12500, "currency": "EUR", "refunded": "125.00", "total": 1234567890}',
        "order 4242424242424241",  # 16 digits, not Luhn-valid
        "t=1700000000,v1=5d41402abc4b2a76b9719d911017c592aa4242424242424242",  # a hex digest
        "process_start_time_seconds 1.7000000004242424e+09",
        'duration_seconds_sum{route="/health"} 0.001234567890128',  # a Luhn-valid fraction
        "paypal order=00412345678901233 status=COMPLETED",  # a Luhn-valid all-digit id
    ],
)
def test_last4_ids_timestamps_and_amounts_are_not_card_numbers(text: str) -> None:
    assert card_numbers(text) == []
    assert LeakScanner().findings(text) == []


def test_only_registered_secrets_count_and_short_values_are_ignored() -> None:
    scanner = LeakScanner()
    scanner.register_secret("t", "", None)  # would match everything
    scanner.register_key_spec("k1:q2V0aGlzaXNub3RhcmVhbGtleWJ1dGxvbmdlbm91Z2g=")
    assert scanner.findings("key k1 rotated; unknown test key") == []
    assert scanner.findings("loaded q2V0aGlzaXNub3RhcmVhbGtleWJ1dGxvbmdlbm91Z2g=") != []


def test_secrets_of_a_source_are_read_at_each_scan_and_kept_after_it_retires() -> None:
    scanner = LeakScanner()
    owner = object()
    tokens: list[str] = []
    scanner.add_source(owner, lambda: tokens)
    assert scanner.findings("Bearer A21AAtoken-issued-later") == []
    tokens.append("A21AAtoken-issued-later")
    assert scanner.findings("Bearer A21AAtoken-issued-later") != []
    scanner.retire_source(owner)
    tokens.clear()
    assert scanner.findings("Bearer A21AAtoken-issued-later") != []


def test_a_leak_is_reported_with_its_test_and_masked(scanner: LeakScanner) -> None:
    scanner.nodeid = "tests/x.py::test_y"
    scanner.scan_record(record("key %s card %s", SECRET, PAN))
    scanner.scan_text(f"line one\n{{'paid with': '{PAN}'}}\n", "stderr of call")
    assert scanner.total == 3
    assert all(v.nodeid == "tests/x.py::test_y" for v in scanner.violations)
    assert scanner.violations[2].source == "stderr of call: {'paid with': '…4242'}"
    assert SECRET not in str(scanner.violations)
    assert PAN not in str(scanner.violations)


def test_a_session_with_a_leak_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest('pytest_plugins = ["tests._leakscan"]')
    pytester.makepyfile(
        f"""
        import logging
        from tests._leakscan import register_secret

        def test_logs_a_secret():
            register_secret("{SECRET}")
            logging.getLogger("payment_core.probe").debug("using %s", "{SECRET}")

        def test_prints_a_card_number():
            print("paid with {PAN}")

        def test_clean():
            logging.getLogger("payment_core.probe").info("card ending 4242")
        """
    )
    # The child imports the plugin as this suite does (``tests`` from the repository root).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), *sys.path]))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*leak scan: secrets or card numbers leaked*",
            "*test_logs_a_secret",
            "*secret sk_tes… (36 chars) in log record payment_core.probe*",
            "*test_prints_a_card_number",
            "*card number …4242 in stdout of call: paid with …4242",
            "leak scan: 2 violation(s) in *",
            "*3 passed*",  # every test passed: the scan alone fails the run
        ]
    )
