"""The console in a real browser: Debian's Chromium driven by Playwright, against ``serve``.

Chromium is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it when
it is missing); nothing is downloaded at run time, and a missing browser fails these tests.
Screenshots of every page are kept in ``tests/artifacts/console/`` (git-ignored).

The accessibility checks run in the page: every form control has a label, every text has a
WCAG contrast of at least 4.5:1 against its background (3:1 when large), the Tab key reaches
every link and button of the page, and a focused control shows a visible outline.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.e2e.conftest import API_KEY, AUTH, Service

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"

# Relative luminance and contrast as WCAG 2.2 defines them, on computed colours.
A11Y_SCRIPT = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const problems = [];
  const unlabelled = [];
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    if (!named) unlabelled.push(el.outerHTML.slice(0, 80));
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest("svg") || el.closest(".visually-hidden")) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!rect.width || !rect.height || style.visibility === "hidden") continue;
    if (el.closest("details:not([open])") && !el.closest("summary")) continue;
    const fg = parse(style.color).slice(0, 3);
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`${ratio.toFixed(2)}:1 "${node.textContent.trim().slice(0, 30)}"`);
    }
  }
  return { unlabelled, problems };
}
"""

FOCUSABLE = "a[href], button, input:not([type=hidden]), select, summary"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("console-browser")
    svc = Service(f"sqlite+aiosqlite:///{workdir}/payments.db", workdir).start()
    yield svc
    assert svc.terminate() == 0, svc.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def api(service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, headers=AUTH, timeout=30) as client:
        yield client


def make_payment(
    api: httpx.Client, method: str | None = "pm_card_visa", amount: int = 12500
) -> Any:
    body = {
        "booking_id": str(uuid.uuid4()),
        "guest_id": str(uuid.uuid4()),
        "amount": amount,
        "currency": "EUR",
    }
    payment = api.post("/api/v1/payments", json=body).json()
    if method:
        payment = api.post(
            f"/api/v1/payments/{payment['id']}/confirm", json={"payment_method": method}
        ).json()
    return payment


def sign_in(page: Page, service: Service) -> None:
    page.goto(f"{service.url}/console")
    expect(page).to_have_url(f"{service.url}/console/login?next=/console")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def refunds_of(api: httpx.Client, payment_id: str) -> list[Any]:
    return list(api.get(f"/api/v1/refunds/payment/{payment_id}").json()["items"])


def test_find_refund_see_it_double_click_and_sign_out(browser: Browser, service, api) -> None:
    payment = make_payment(api)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    sign_in(page, service)

    # Find the payment by its reference.
    page.get_by_role("link", name="Payments", exact=True).click()
    page.get_by_label("Reference", exact=True).fill(payment["reference"])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=payment["reference"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(payment["reference"])

    # Refund part of it: form, review, confirm.
    page.get_by_role("link", name="Refund…").click()
    page.get_by_label("Amount in EUR").fill("20.00")
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_role("button", name="Review the refund").click()
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_visible()
    page.get_by_role("button", name="Refund EUR 20.00").click()
    expect(page.get_by_role("status")).to_contain_text("of EUR 20.00: COMPLETED")
    expect(page.locator("#refunds")).to_contain_text("EUR 20.00")
    expect(page.locator("#timeline")).to_contain_text("Refund completed")
    expect(page.locator("#timeline")).to_contain_text("Billing record REFUND")

    # A double click on the confirmation makes one refund.
    page.get_by_role("link", name="Refund…").click()
    page.get_by_label("Amount in EUR").fill("5.00")
    page.get_by_role("button", name="Review the refund").click()
    page.get_by_role("button", name="Refund EUR 5.00").dblclick()
    expect(page.get_by_role("status")).to_contain_text("of EUR 5.00: COMPLETED")
    assert sorted(r["amount"] for r in refunds_of(api, payment["id"])) == [500, 2000]

    # Sign out: the console is closed, the old page is not shown again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(f"{service.url}/console/payments/{payment['id']}")
    expect(page).to_have_url(f"{service.url}/console/login?next=/console/payments/{payment['id']}")
    context.close()


def test_a_double_click_without_javascript_still_refunds_once(browser, service, api) -> None:
    """The form key, not the script, is what makes an action happen once."""
    payment = make_payment(api)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{service.url}/console/login")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{service.url}/console/payments/{payment['id']}/refund")
    page.get_by_label("Amount in EUR").fill("7.00")
    page.get_by_role("button", name="Review the refund").click()
    page.get_by_role("button", name="Refund EUR 7.00").dblclick()
    expect(page.get_by_role("status")).to_contain_text("EUR 7.00")
    assert [r["amount"] for r in refunds_of(api, payment["id"])] == [700]
    context.close()


def test_every_page_is_accessible_and_photographed(browser: Browser, service, api) -> None:
    payment = make_payment(api)
    failing = make_payment(api, "pm_card_refundFail")
    api.post("/api/v1/refunds", json={"payment_id": payment["id"], "amount": 1500})
    api.post("/api/v1/refunds", json={"payment_id": failing["id"], "amount": 1000})
    make_payment(api, "pm_card_chargeDeclined")
    make_payment(api, None)
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.goto(f"{service.url}/console/login")
    shoot(page, "login")
    check_page(page, "login")
    sign_in(page, service)
    pages = {
        "overview": "/console",
        "payments": "/console/payments",
        "payment": f"/console/payments/{payment['id']}",
        "refund-form": f"/console/payments/{payment['id']}/refund",
        "attention": "/console/attention",
        "webhooks": "/console/webhooks",
        "outbox": "/console/outbox",
        "not-found": "/console/nowhere",
    }
    for name, path in pages.items():
        page.goto(f"{service.url}{path}")
        shoot(page, name)
        check_page(page, name)
    page.goto(f"{service.url}/console/payments/{payment['id']}/refund")
    page.get_by_role("button", name="Review the refund").click()
    shoot(page, "refund-confirm")
    check_page(page, "refund-confirm")
    context.close()


def check_page(page: Page, name: str) -> None:
    found = page.evaluate(A11Y_SCRIPT)
    assert found["unlabelled"] == [], f"{name}: inputs without a label"
    assert found["problems"] == [], f"{name}: text below WCAG AA contrast"
    # Tab through the page: every link and button is reached, and each shows its focus.
    expected = page.locator(FOCUSABLE).evaluate_all(
        "els => els.filter(e => e.getBoundingClientRect().width > 0"
        " && !e.closest('details:not([open])') || e.tagName === 'SUMMARY').length"
    )
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.locator("body").focus()
    reached = set()
    for _ in range(expected * 3 + 10):  # a date field takes a Tab per part
        if len(reached) >= expected:
            break
        page.keyboard.press("Tab")
        info = page.evaluate(
            """(selector) => { const e = document.activeElement;
                 if (!e || e === document.body) return null;
                 const s = getComputedStyle(e);
                 const index = Array.from(document.querySelectorAll(selector)).indexOf(e);
                 return { key: index + " " + e.outerHTML.slice(0, 100),
                          outline: s.outlineStyle, width: parseFloat(s.outlineWidth) }; }""",
            FOCUSABLE,
        )
        if info is None:
            continue
        reached.add(info["key"])
        assert info["outline"] != "none", f"{name}: no visible focus on {info['key']}"
        assert info["width"] >= 2, f"{name}: a thin focus outline on {info['key']}"
    assert len(reached) >= expected, f"{name}: Tab reached {len(reached)} of {expected}"
