"""Bearer API keys: every non-public operation refuses a request without a valid key."""

from __future__ import annotations

import uuid

import pytest
from tests.http.conftest import AUTH, OTHER_KEY, Api, payment_body

from payment_adapters.bootstrap import bootstrap_in_memory
from payment_adapters.settings import Settings
from payment_http.app import create_app

PUBLIC = {
    ("GET", "/api/v1/payments/reference/{reference}"),
    # The contract's Documents: a receipt is public, like the safe view.
    ("GET", "/api/v1/payments/reference/{reference}/receipt"),
    ("GET", "/api/v1/refunds/reference/{reference}"),
    ("POST", "/api/v1/webhooks/{provider}"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
}


def operations(api: Api) -> list[tuple[str, str, dict]]:
    schema = api.app.openapi_schema.to_schema()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def concrete(path: str) -> str:
    return (
        path.replace("{reference}", "pay_x")
        .replace("{provider}", "fake")
        .replace("{number}", "INV-2026-000001")
        .format_map(_AnyId())
    )


class _AnyId(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return str(uuid.uuid4())


def test_the_public_operations_are_exactly_the_contracts(mem: Api) -> None:
    public = {(m, p) for m, p, op in operations(mem) if not op.get("security")}
    assert public == PUBLIC


def test_the_schema_declares_the_bearer_scheme(mem: Api) -> None:
    schema = mem.app.openapi_schema.to_schema()
    assert schema["components"]["securitySchemes"]["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `API_KEYS`.",
    }


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Basic dGVzdA==", "Bearer", f"Token {OTHER_KEY}", "bearer  "],
)
async def test_every_non_public_operation_answers_401(mem: Api, authorization: str | None) -> None:
    checked = 0
    for method, path, operation in operations(mem):
        if not operation.get("security"):
            continue
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        # An invalid body too: the key is checked before anything reads the body.
        response = await mem.client.request(
            method, concrete(path), headers=headers, content=b"{not json"
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == "unauthorized"
        checked += 1
    assert checked >= 15


async def test_public_operations_need_no_key(mem: Api) -> None:
    for method, path in PUBLIC:
        if method != "GET":
            continue
        response = await mem.client.get(concrete(path))
        assert response.status_code in (200, 404), path
    response = await mem.client.post("/api/v1/webhooks/fake", content=b"{}")
    assert response.status_code == 400  # the signature, not the key, is what is missing


@pytest.mark.parametrize("path", ["/schema", "/schema/openapi.json"])
async def test_the_openapi_documents_are_public(mem: Api, path: str) -> None:
    response = await mem.client.get(path)
    assert response.status_code == 200


async def test_every_configured_key_is_accepted_and_the_scheme_is_case_insensitive(
    mem: Api,
) -> None:
    for header in (AUTH["Authorization"], f"Bearer {OTHER_KEY}", f"bearer {OTHER_KEY}"):
        response = await mem.client.post(
            "/api/v1/payments", json=payment_body(), headers={"Authorization": header}
        )
        assert response.status_code == 201


async def test_without_api_keys_the_api_is_open(make_api: object) -> None:
    api = await make_api("memory", api_keys=())  # type: ignore[operator]
    response = await api.client.post("/api/v1/payments", json=payment_body())
    assert response.status_code == 201


def test_an_open_api_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:

    create_app(bootstrap_in_memory(Settings(environment="test")))
    assert any("API_KEYS is unset" in r.getMessage() for r in caplog.records)


async def test_a_key_is_never_logged(mem: Api, caplog: pytest.LogCaptureFixture) -> None:
    await mem.client.post("/api/v1/payments", json=payment_body(), headers=AUTH)
    await mem.client.get("/api/v1/billing/verify", headers={"Authorization": "Bearer guessed"})
    text = "\n".join(str(r.msg) + r.getMessage() for r in caplog.records)
    assert "test-key-1" not in text
    assert "guessed" not in text
