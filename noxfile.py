"""nox sessions: lint, typing, tests, integration, docs, bench.

``./dev.py test`` runs the same checks in one reusable venv; these sessions give each its
own fresh environment, as CI systems like.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typing", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and the import-layer contracts."""
    session.install("-e", ".[all,lint]")
    session.run("ruff", "check", "src", "tests", "bench", "dev.py", "noxfile.py")
    session.run("ruff", "format", "--check", "src")
    session.run("lint-imports")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy, strict on payment_core."""
    session.install("-e", ".[all,typing,test]")
    session.run("mypy")


@nox.session(python=PYTHONS[0])
def tests(session: nox.Session) -> None:
    """The whole suite (PostgreSQL and RabbitMQ must be running) with core coverage."""
    session.install("-e", ".[all,test]")
    session.run(
        "pytest",
        "--cov=payment_core",
        "--cov-branch",
        "--cov-report=term",
        "--cov-fail-under=95",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "ci"},
    )


@nox.session(python=PYTHONS[0])
def integration(session: nox.Session) -> None:
    """Only the tests against the real PostgreSQL and RabbitMQ, and the process-level ones."""
    session.install("-e", ".[all,test]")
    session.run("pytest", "tests/integration", "tests/contract", "tests/e2e", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Run the examples in docs/ (the embedding guide is executed by the suite)."""
    session.install("-e", ".[all,test]")
    session.run("pytest", "tests/unit/test_docs_embedding.py")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks; pass names to choose (core db http events)."""
    session.install("-e", ".[all,test]")
    for name in session.posargs or ["core"]:
        session.run("python", f"bench/{name}.py")
