"""payment_core needs nothing but the standard library, attrs and cattrs.

A fresh virtual environment gets only attrs and cattrs (and what they themselves require);
a script then imports payment_core and payment_core.testing from the source tree and runs a
whole lifecycle. Anything else the core imported would fail here.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from importlib import metadata
    from uuid import uuid4

    import payment_core
    from payment_core import CreateInvoice, CreatePayment, LineItem, PaymentStatus, RefundStatus
    from payment_core.testing import build_in_memory

    async def lifecycle():
        harness = build_in_memory()
        services = harness.services
        booking = uuid4()
        payment = await services.payments.create(CreatePayment(
            booking_id=booking, guest_id=uuid4(), amount=12_500, currency="EUR",
            payment_method="pm_card_visa"))
        payment = await services.payments.confirm(payment.id)
        assert payment.status is PaymentStatus.COMPLETED, payment.status
        refund = await services.refunds.create(payment.id, 2_500)
        assert refund.status is RefundStatus.COMPLETED, refund.status
        invoice = await services.invoices.create(CreateInvoice(
            booking_id=booking, guest_id=payment.guest_id, currency="EUR",
            line_items=[LineItem("Room", 1, 10_000)], payment_id=payment.id))
        invoice = await services.invoices.issue(invoice.id)
        timeout = await services.payments.create(CreatePayment(
            booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR",
            payment_method="pm_card_timeout"))
        await services.payments.confirm(timeout.id)
        harness.clock.advance(minutes=5)
        report = await services.reconciliation.sweep()
        verdict = await services.billing.verify()
        return {
            "invoice": [invoice.number, invoice.status.value],
            "settled": report.settled,
            "verified": [verdict.ok, verdict.records],
            "events": harness.published_types(),
        }

    outcome = asyncio.run(lifecycle())
    # Every third-party top-level module that got imported, by where it came from.
    stdlib = set(sys.stdlib_module_names)
    loaded = sorted({
        name.partition(".")[0] for name, module in list(sys.modules.items())
        if module is not None and getattr(module, "__file__", None)
        and "site-packages" in module.__file__
    } - stdlib)
    installed = sorted(d.metadata["Name"].lower() for d in metadata.distributions())
    print(json.dumps({"outcome": outcome, "loaded": loaded, "installed": installed,
                      "core": payment_core.__file__}))
    """
)


def _requirements(python: Path, names: list[str]) -> set[str]:
    """``names`` and every distribution they require in that environment, transitively."""
    code = textwrap.dedent(
        """
        import json, re, sys
        from importlib import metadata
        todo, seen = list(sys.argv[1:]), set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for req in metadata.requires(name) or []:
                if "extra ==" in req:
                    continue
                head = re.split(r"[ ;<>=!~\\[(]", req, maxsplit=1)[0]
                try:
                    metadata.distribution(head)
                except metadata.PackageNotFoundError:
                    continue  # a marker excluded it for this Python
                todo.append(head.lower().replace("_", "-"))
        print(json.dumps(sorted(seen)))
        """
    )
    out = subprocess.run(
        [str(python), "-c", code, *names], check=True, capture_output=True, text=True
    )
    return set(json.loads(out.stdout))


@pytest.mark.slow
def test_the_core_runs_with_only_attrs_and_cattrs_installed(tmp_path: Path) -> None:
    env_dir = tmp_path / "core-only"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "attrs", "cattrs"],
        check=True,
        timeout=900,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run = subprocess.run(
        [str(python), "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={**clean_env, "PYTHONPATH": str(SRC)},
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["core"].startswith(str(SRC))
    outcome = result["outcome"]
    assert outcome["invoice"] == ["INV-2026-000001", "PAID"]
    assert outcome["settled"] == 1
    assert outcome["verified"] == [True, 4]
    assert outcome["events"][:4] == [
        "payment.initiated",
        "payment.completed",
        "refund.initiated",
        "refund.completed",
    ]

    allowed = {_normal(n) for n in _requirements(python, ["attrs", "cattrs"])}
    tooling = {"pip", "setuptools", "wheel"}
    installed = {_normal(n) for n in result["installed"]}
    assert installed - tooling <= allowed, result["installed"]
    # setuptools' start-up hook (a .pth file) is the environment's tooling, not ours.
    modules = {_normal(m) for m in result["loaded"]} - {"-distutils-hack"}
    assert modules <= allowed | {"attr"}, result["loaded"]  # attrs ships "attr" and "attrs"
    assert "attrs" in modules


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")
