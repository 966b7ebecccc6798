"""Suite-wide leak scan: no registered secret and no card number in any log line or response.

Registered from ``tests/conftest.py``. For the whole session it scans, as each arrives, and keeps
nothing but what it finds:

- every standard-library record that reaches the root logger (a handler at DEBUG; the
  ``payment_*`` loggers are held at DEBUG so all of theirs get there): message with arguments,
  exception text, stack and extra attributes. Records the service's own formatter renders
  (``configure_logging`` in force, as under ``json_logs``) are scanned as rendered, below;
- what each test phase wrote on stdout and stderr (pytest's captured output and what
  ``capsys.readouterr()`` hands a test): structlog's lines go straight to ``sys.stderr``, past
  every logging handler, and are rendered throughout the session exactly as the service
  renders them (``payment_http.logging.configure_logging``);
- the logs of service processes that fixtures start (``watch_file``), as they grow;
- HTTP responses that client fixtures pass to ``scan_response`` (body and headers).

The needles are (a) secrets that fixtures register (API keys, webhook signing secrets, provider
credentials and access tokens, and the material of every encryption key the suite generates)
and (b) card numbers as ``payment_core.card_data`` finds them in free text. Violations are kept
with the test that was running; the session fails at the end if there are any.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
import structlog

from payment_adapters import crypto
from payment_core.card_data import DIGIT_RUN, card_number_spans
from payment_http.logging import configure_logging

__all__ = [
    "SCANNER",
    "LeakScanner",
    "Violation",
    "register_env",
    "register_key_spec",
    "register_secret",
    "register_settings",
    "scan_response",
    "watch_file",
]

# Shorter values (a test's "s" or "t") would match everywhere and prove nothing.
MIN_SECRET_LENGTH: Final = 6
SERVICE_LOGGERS: Final = ("payment_core", "payment_adapters", "payment_http")
_MAX_KEPT: Final = 200  # violations kept for the report; the rest are only counted

_ENOUGH_DIGITS: Final = re.compile(DIGIT_RUN)
# A digit run as card_data joins groups, and more: masked in the report whether card or not.
_RUN: Final = re.compile(rf"{DIGIT_RUN}(?:\W{{0,4}}\d)*")
# Not card numbers written out, though card_data would refuse them in a request: card_data's
# redaction already leaves alone digits that are part of a word (hex digests, ids such as
# pi_3Mtw... or evt_9f2c...), UUIDs and numbers that begin with 0; and digits after a lone
# decimal point are a fraction (metrics' seconds), not separated groups.
_FRACTION: Final = re.compile(r"(?<![0-9]\.)(?<![0-9])([0-9]+\.)([0-9]+)(?![0-9]|\.[0-9])")
_DIGIT: Final = re.compile(r"\d")
_RECORD_FIELDS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
# Settings fields and environment variables that hold secrets (comma-separated lists allowed).
_SECRET_SETTINGS: Final = (
    "api_keys",
    "fake_webhook_secret",
    "stripe_api_key",
    "stripe_webhook_secret",
    "paypal_client_secret",
    "square_access_token",
    "square_webhook_signature_key",
)


@attrs.frozen
class Violation:
    nodeid: str
    source: str
    what: str


def _hint(secret: str) -> str:
    return f"secret {secret[:6]}… ({len(secret)} chars)"


def card_numbers(text: str) -> list[str]:
    """A hint (``card number …4242``) for each card number in ``text``, as card_data reads it."""
    if len(text) < 13 or _ENOUGH_DIGITS.search(text) is None:
        return []  # the usual case, one pass of C
    bare = _FRACTION.sub(lambda m: m.group(1) + "#" * len(m.group(2)), text)
    hints = set()
    for start, end in card_number_spans(bare, in_words=False):
        digits = "".join(_DIGIT.findall(bare, start, end))
        hints.add(f"card number …{digits[-4:]}")
    return sorted(hints)


def record_text(record: logging.LogRecord) -> str:
    """Everything of a record a handler could write: message, arguments, exception, extras."""
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit: scan both as they are
        message = f"{record.msg!s} {record.args!r}"
    parts = [message]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    for key, value in vars(record).items():
        if key not in _RECORD_FIELDS:
            parts.append(f"{key}={value!s}")
    return "\n".join(parts)


class LeakScanner:
    """Registered secrets, and the violations found so far (with the test running)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._compiled: re.Pattern[str] | None = None
        self._stale = False
        self._sources: dict[int, Callable[[], Iterable[str]]] = {}
        self._files: dict[Path, int] = {}
        self.nodeid = "(before the first test)"
        self.violations: list[Violation] = []
        self._seen: set[Violation] = set()
        self.total = 0
        self.scanned: Counter[str] = Counter()

    # ------------------------------------------------------------------ registry

    def register_secret(self, *values: str | None) -> None:
        """Values that must never be logged or answered (too short ones are ignored)."""
        new = {v.strip() for v in values if v and len(v.strip()) >= MIN_SECRET_LENGTH}
        with self._lock:
            if not new <= self._secrets:
                self._secrets |= new
                self._stale = True

    def register_key_spec(self, spec: str | None) -> None:
        """The key material of an ``ENCRYPTION_KEYS`` spec (``kid:base64,...``), not its ids."""
        for entry in (spec or "").split(","):
            _, sep, material = entry.partition(":")
            if sep:
                self.register_secret(material)

    def register_settings(self, settings: Any) -> None:
        """Every secret a ``Settings`` holds."""
        for name in _SECRET_SETTINGS:
            value = getattr(settings, name, None)
            values = value if isinstance(value, tuple | list) else (value or "").split(",")
            self.register_secret(*values)
        self.register_key_spec(getattr(settings, "encryption_keys", None))

    def register_env(self, env: dict[str, str]) -> None:
        """Every secret of a service's environment (``API_KEYS``, ``ENCRYPTION_KEYS``, ...)."""
        for name in _SECRET_SETTINGS:
            self.register_secret(*env.get(name.upper(), "").split(","))
        self.register_key_spec(env.get("ENCRYPTION_KEYS"))

    def add_source(self, owner: object, secrets: Callable[[], Iterable[str]]) -> None:
        """Secrets that change while ``owner`` lives (access tokens issued on the way)."""
        with self._lock:
            self._sources[id(owner)] = secrets

    def retire_source(self, owner: object) -> None:
        """``owner`` is done: what it holds now stays registered, without asking it again."""
        with self._lock:
            secrets = self._sources.pop(id(owner), None)
        if secrets is not None:
            self.register_secret(*secrets())

    @property
    def registered(self) -> int:
        return len(self._secrets) + len(self._dynamic())

    def _pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._stale:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._compiled = re.compile("|".join(map(re.escape, ordered)))
                self._stale = False
            return self._compiled

    def _dynamic(self) -> list[str]:
        with self._lock:
            sources = list(self._sources.values())
        values: list[str] = []
        for source in sources:
            try:
                values.extend(source())
            except AttributeError:
                continue  # an owner still being built: it holds no secret yet
        return [s for s in values if s and len(s) >= MIN_SECRET_LENGTH]

    # ------------------------------------------------------------------ checks (pure)

    def findings(self, text: str) -> list[str]:
        """What in ``text`` must not be there: registered secrets and card numbers."""
        found: set[str] = set()
        pattern = self._pattern()
        if pattern is not None:
            found.update(_hint(m.group()) for m in pattern.finditer(text))
        found.update(_hint(s) for s in self._dynamic() if s in text)
        return sorted(found) + card_numbers(text)

    def record_findings(self, record: logging.LogRecord) -> list[str]:
        return self.findings(record_text(record))

    def masked(self, text: str) -> str:
        """``text`` fit for the report: secrets and card-like digit runs masked."""
        pattern = self._pattern()
        if pattern is not None:
            text = pattern.sub("<secret>", text)
        for secret in self._dynamic():
            text = text.replace(secret, "<secret>")
        return _RUN.sub(lambda m: "…" + m.group()[-4:], text)

    # ------------------------------------------------------------------ scanning (records)

    def _report(self, source: str, findings: Iterable[str]) -> None:
        for what in findings:
            violation = Violation(self.nodeid, source, what)
            with self._lock:
                self.total += 1
                if violation in self._seen or len(self.violations) >= _MAX_KEPT:
                    continue
                self._seen.add(violation)
                self.violations.append(violation)

    def _count(self, kind: str) -> None:
        with self._lock:  # records arrive from the stand-ins' and servers' threads too
            self.scanned[kind] += 1

    def scan_record(self, record: logging.LogRecord) -> None:
        self._count("log records")
        findings = self.record_findings(record)
        if findings:
            where = f"{Path(record.pathname).name}:{record.lineno}"
            self._report(f"log record {record.name} ({where})", findings)

    def scan_text(self, text: str, source: str, kind: str = "captured outputs") -> None:
        """Scan ``text`` whole; name the line of each finding only when there is one."""
        if not text:
            return
        self._count(kind)
        if not self.findings(text):
            return
        for line in text.splitlines():
            findings = self.findings(line)
            if findings:
                self._report(f"{source}: {self.masked(line)[:160]}", findings)

    # ------------------------------------------------------------------ files

    def watch_file(self, path: Path) -> None:
        """Scan ``path`` (a process's log) as it grows, after each test and at the end."""
        with self._lock:
            self._files.setdefault(Path(path), 0)

    def sweep_files(self, *, final: bool = False) -> None:
        with self._lock:
            files = dict(self._files)
        for path, start in files.items():
            offset = self._sweep(path, start, final=final)
            with self._lock:
                if final or offset is None:
                    self._files.pop(path, None)
                else:
                    self._files[path] = offset

    def _sweep(self, path: Path, offset: int, *, final: bool) -> int | None:
        """Scan the lines of ``path`` past ``offset``; where the next sweep starts."""
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                for raw in iter(handle.readline, b""):
                    if not raw.endswith(b"\n") and not final:
                        break  # a line being written: read it whole next time
                    offset += len(raw)
                    self._count("service log lines")
                    line = raw.decode(errors="replace").strip()
                    findings = self.findings(line)
                    if findings:
                        where = f"service log {path.name}: {self.masked(line)[:160]}"
                        self._report(where, findings)
        except FileNotFoundError:
            return None
        return offset


SCANNER: Final = LeakScanner()
register_secret = SCANNER.register_secret
register_key_spec = SCANNER.register_key_spec
register_settings = SCANNER.register_settings
register_env = SCANNER.register_env
watch_file = SCANNER.watch_file


def _is_text(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return not kind or kind.startswith("text/") or kind.endswith(("json", "xml"))


async def scan_response(response: httpx.Response) -> None:
    """An httpx response hook: the body and headers of every response a client gets."""
    await response.aread()
    source = f"HTTP {response.request.method} {response.request.url.path} -> {response.status_code}"
    source = SCANNER.masked(source)
    # A static file's ETag is Litestar's "<mtime>-<size>": digits of the checkout's clock that
    # read as a card number about one time in ten; it carries nothing a request sent.
    headers = "\n".join(
        f"{name}: {value}" for name, value in response.headers.items() if name.lower() != "etag"
    )
    SCANNER.scan_text(headers, f"{source} headers", kind="HTTP responses")
    if _is_text(response):
        SCANNER.scan_text(response.text, f"{source} body", kind="HTTP responses")


# ---------------------------------------------------------------------- key material


def _registering(generate_key: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(generate_key)
    def wrapper(kid: str | None = None) -> str:
        spec = generate_key(kid)
        SCANNER.register_key_spec(spec)
        return spec

    return wrapper


# Test modules make their keys at import (``CIPHER = FieldCipher.from_keys(generate_key(...))``)
# in files no fixture owns: every key generated in this process is registered as it is made.
# Patched on import of this plugin, before any test module binds the name.
crypto.generate_key = _registering(crypto.generate_key)  # type: ignore[assignment]


# ---------------------------------------------------------------------- log plumbing


class _RecordScanner(logging.Handler):
    def __init__(self, scanner: LeakScanner) -> None:
        super().__init__(logging.DEBUG)
        self.scanner = scanner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.scanner.scan_record(record)
        except Exception as exc:  # never break the code that logged; the report says so
            self.scanner._report(f"scanner error on {record.name}", [type(exc).__name__])


_HANDLER: Final = _RecordScanner(SCANNER)


class _ScanningStderrLogger:
    """The service's final structlog logger (one line on ``sys.stderr``, named), scanned."""

    def __init__(self, name: str) -> None:
        self.name = name  # read by structlog.stdlib.add_logger_name

    @classmethod
    def factory(cls, *args: Any) -> _ScanningStderrLogger:
        return cls(str(args[0]) if args else "payment_http")

    def msg(self, message: str) -> None:
        SCANNER.scan_text(message, f"structlog line of {self.name}", kind="structlog lines")
        sys.stderr.write(message + "\n")

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _render_structlog_like_the_service() -> None:
    """structlog as the service configures it (JSON, card numbers masked, on ``sys.stderr``).

    ``configure_logging`` also rewires the standard library (root handlers, uvicorn's loggers,
    levels): that part is put back, so that the suite's logging is otherwise untouched.
    """
    root = logging.getLogger()
    touched = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    touched.append(logging.getLogger("alembic"))
    saved = [(lg, list(lg.handlers), lg.propagate, lg.disabled, lg.level) for lg in touched]
    saved_root = (list(root.handlers), root.level, logging.raiseExceptions)
    configure_logging("DEBUG", json=True)
    # Same processors; each rendered line is scanned as it is written, even one written by a
    # thread while pytest's capture is paused between phases (then nothing captures it).
    structlog.configure(logger_factory=_ScanningStderrLogger.factory)
    for lg, handlers, propagate, disabled, level in saved:
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled
        lg.setLevel(level)
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    logging.raiseExceptions = saved_root[2]


def _install() -> None:
    """Attach the handler and the levels (again: a test's logging set-up may have reset them)."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    for name in SERVICE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    if not structlog.is_configured():
        _render_structlog_like_the_service()


class _ScanningCapture:
    """``capsys`` whose ``readouterr()`` is scanned before the test gets it."""

    def __init__(self, capture: pytest.CaptureFixture[str]) -> None:
        self._capture = capture

    def readouterr(self) -> Any:
        result = self._capture.readouterr()
        SCANNER.scan_text(result.out, "stdout read by the test")
        SCANNER.scan_text(result.err, "stderr read by the test")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._capture, name)


@pytest.fixture
def capsys(capsys: pytest.CaptureFixture[str]) -> Any:
    """The built-in ``capsys``, scanned: what a test reads never reaches pytest's sections."""
    return _ScanningCapture(capsys)


# ---------------------------------------------------------------------- hooks


def pytest_configure(config: pytest.Config) -> None:
    _install()


def pytest_runtest_logstart(nodeid: str) -> None:
    SCANNER.nodeid = nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _install()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Sections accumulate over the phases: only this phase's are new.
    for name, content in report.sections:
        if name in (f"Captured stdout {report.when}", f"Captured stderr {report.when}"):
            SCANNER.scan_text(content, name.removeprefix("Captured ").replace(" ", " of "))
    if report.when == "teardown":
        SCANNER.sweep_files()


def pytest_runtest_logfinish(nodeid: str) -> None:
    SCANNER.nodeid = f"(after {nodeid})"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    SCANNER.sweep_files(final=True)
    if SCANNER.total and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    scanned = ", ".join(f"{n} {kind}" for kind, n in sorted(SCANNER.scanned.items()))
    scanned = f"{scanned or 'nothing'} ({SCANNER.registered} secrets registered)"
    if not SCANNER.total:
        terminalreporter.write_line(f"leak scan: no secret and no card number in {scanned}")
        return
    terminalreporter.section("leak scan: secrets or card numbers leaked", sep="=", red=True)
    for v in SCANNER.violations:
        terminalreporter.write_line(f"{v.nodeid}\n    {v.what} in {v.source}")
    left = SCANNER.total - len(SCANNER.violations)
    if left:
        terminalreporter.write_line(f"... and {left} more (repeats or past {_MAX_KEPT})")
    terminalreporter.write_line(
        f"leak scan: {SCANNER.total} violation(s) in {scanned}", red=True, bold=True
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_HANDLER)
