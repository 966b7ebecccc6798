"""An invoice's customer: every field optional, each checked; edited only on a draft."""

from __future__ import annotations

import pycountry
import pytest

from payment_core import Address, Customer, UpdateInvoice
from payment_core.country_table import ISO_3166_ALPHA2
from payment_core.errors import InvoiceNotEditableError, RawCardDataError, ValidationError
from payment_core.model.customer import is_country

ZOE = Customer(
    name="Zoë Ñúñez-Åberg 山田",
    email="zoe@example.org",
    tax_id="ES-X1234567L",
    address=Address(
        line1="Calle de Alcalá 42",
        line2="3º izq.",
        city="Madrid",
        postal_code="28014",
        country="ES",
    ),
)


def test_the_country_table_is_iso_3166_1() -> None:
    assert {c.alpha_2 for c in pycountry.countries} == ISO_3166_ALPHA2
    assert is_country("XK")  # Kosovo: user-assigned, used by banks and providers
    for bad in ("es", "ESP", "XX", "", "E"):
        assert not is_country(bad)


def test_every_field_is_optional() -> None:
    assert Customer().to_json() == {"name": None, "email": None, "tax_id": None, "address": None}
    assert Customer(address=Address()).address.lines() == ()  # type: ignore[union-attr]


def test_it_round_trips_through_json() -> None:
    assert Customer.from_json(ZOE.to_json()) == ZOE
    assert ZOE.address is not None
    assert ZOE.address.lines() == ("Calle de Alcalá 42", "3º izq.", "28014 Madrid", "ES")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Customer(name=""), "customer.name"),
        (lambda: Customer(name="   "), "customer.name"),
        (lambda: Customer(name="x" * 201), "customer.name"),
        (lambda: Customer(name="Zoë\x00"), "customer.name"),
        (lambda: Customer(name=5), "customer.name"),  # type: ignore[arg-type]
        (lambda: Customer(email="zoe"), "customer.email"),
        (lambda: Customer(email="zoe@example"), "customer.email"),
        (lambda: Customer(email="zo e@example.org"), "customer.email"),
        (lambda: Customer(email="a@b@example.org"), "customer.email"),
        (lambda: Customer(email="x" * 65 + "@example.org"), "customer.email"),
        (lambda: Customer(tax_id="x" * 65), "customer.tax_id"),
        (lambda: Address(country="es"), "customer.address.country"),
        (lambda: Address(country="XX"), "customer.address.country"),
        (lambda: Address(postal_code="1" * 21), "customer.address.postal_code"),
        (lambda: Address(city="c" * 101), "customer.address.city"),
        (lambda: Address(line1="l" * 201), "customer.address.line1"),
        (lambda: Customer(address={"city": "Madrid"}), "customer.address"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_refused_naming_the_field(build, field) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Customer(name="4242 4242 4242 4242"), "customer.name"),
        (lambda: Customer(tax_id="4000056655665556"), "customer.tax_id"),
        (lambda: Address(line2="card 5555-5555-5555-4444"), "customer.address.line2"),
    ],
)
def test_a_card_number_anywhere_is_refused(build, field) -> None:
    with pytest.raises(RawCardDataError) as caught:
        build()
    assert caught.value.field == field


async def test_a_draft_takes_a_customer_and_can_change_or_drop_it(kit, services) -> None:
    draft = await kit.draft()
    assert draft.customer is None
    edited = await services.invoices.update(draft.id, UpdateInvoice(customer=ZOE))
    assert edited.customer == ZOE
    kept = await services.invoices.update(draft.id, UpdateInvoice(notes="n"))
    assert kept.customer == ZOE
    dropped = await services.invoices.update(draft.id, UpdateInvoice(customer=None))
    assert dropped.customer is None


async def test_an_issued_invoice_keeps_its_customer(kit, services) -> None:
    draft = await kit.draft()
    await services.invoices.update(draft.id, UpdateInvoice(customer=ZOE, status="OPEN"))
    with pytest.raises(InvoiceNotEditableError):
        await services.invoices.update(draft.id, UpdateInvoice(customer=Customer(name="Other")))
    assert (await services.invoices.get(draft.id)).customer == ZOE
