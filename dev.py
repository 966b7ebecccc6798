#!/usr/bin/env python3
"""Developer entry point: everything needs only Python 3.11+ to start.

    ./dev.py serve     # the API on port 8005: SQLite file, fake provider, no other service
    ./dev.py test      # lint, types, import contracts and the whole test suite
    ./dev.py bench     # the benchmarks (see bench/README.md)

Each command first makes ``.venv`` and installs the project into it when needed (again only
when pyproject.toml changed), so a fresh clone needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
EXTRAS = {"serve": "all", "test": "all,test,lint,typing", "bench": "all,test"}


def _run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project with ``extras`` unless already done."""
    if sys.version_info < (3, 11):  # noqa: UP036 - says so clearly on an older Python
        sys.exit("Python 3.11 or newer is required")
    if not PYTHON.exists():
        print("creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras.replace(',', '-')}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing the project with [{extras}] into .venv", file=sys.stderr)
    code = _run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--editable",
        f".[{extras}]",
    )
    if code != 0:
        sys.exit(code)
    stamp.write_text(digest)


def serve(args: list[str]) -> int:
    ensure_venv(EXTRAS["serve"])
    # Become the server, so that a SIGTERM sent to this process reaches it directly.
    os.chdir(ROOT)
    command = BIN / "payment-service"
    os.execv(command, [str(command), "serve", *args])
    return 1  # pragma: no cover - execv does not return


def test(args: list[str]) -> int:
    ensure_venv(EXTRAS["test"])
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff check", [BIN / "ruff", "check", "src", "tests", "bench", "dev.py", "noxfile.py"]),
        ("ruff format", [BIN / "ruff", "format", "--check", "src"]),
        ("import contracts", [BIN / "lint-imports"]),
        ("mypy", [BIN / "mypy"]),
    ]
    if "--no-lint" in args:
        args = [a for a in args if a != "--no-lint"]
        steps = []
    for name, command in steps:
        print(f"== {name}", file=sys.stderr, flush=True)
        code = _run(*command)
        if code != 0:
            print(f"{name} failed", file=sys.stderr)
            return code
    print("== pytest", file=sys.stderr, flush=True)
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    return _run(
        PYTHON,
        "-m",
        "pytest",
        "--cov=payment_core",
        "--cov-branch",
        "--cov-report=term",
        "--cov-fail-under=95",
        *args,
        env=env,
    )


def bench(args: list[str]) -> int:
    ensure_venv(EXTRAS["bench"])
    scripts = args or ["core"]
    for name in scripts:
        code = _run(PYTHON, ROOT / "bench" / f"{name}.py")
        if code != 0:
            return code
    return 0


COMMANDS = {"serve": serve, "test": test, "bench": bench}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
