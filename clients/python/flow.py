#!/usr/bin/env python3
"""The whole partner flow with the generated Python client (`make clients`), no hand-written HTTP.

    python3 clients/python/flow.py <demo.json>

`demo.json` is what the local server writes (`.local/demo.json` for `make run`): its base
URL, organization key, API keys (an MSSP and a reseller one) and an admin token. Every answer
must parse into the generated types, and its raw body must validate against the schema
`openapi.yaml` gives for its status (JSON Schema 2020-12, formats checked). A 429 or 503 is
answered by waiting `retry_after_ms` and sending again; at least one 429 must have happened
(the local server keeps the one-request-a-second limit).
"""

import contextlib
import copy
import datetime
import json
import pathlib
import sys
import time
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from partner_portal_api_client import AuthenticatedClient, Client  # noqa: E402
from partner_portal_api_client.api.admin import list_keys, list_sessions  # noqa: E402
from partner_portal_api_client.api.customers import list_customers  # noqa: E402
from partner_portal_api_client.api.provisioning import (  # noqa: E402
    create_account,
    create_subscription,
    delete_account,
    delete_subscription,
    list_skus,
)
from partner_portal_api_client.api.reports import (  # noqa: E402
    get_mssp_usage,
    get_reseller_usage,
    list_mssp_companies,
    list_mssp_periods,
    list_reseller_companies,
    list_reseller_periods,
)
from partner_portal_api_client.api.sessions import create_session, end_session, get_me  # noqa: E402
from partner_portal_api_client.models import (  # noqa: E402
    AccountCreate,
    AccountResponse,
    ApiKeyList,
    CreateSessionRequest,
    CustomerList,
    EmptyResponse,
    Error,
    LiveSessionList,
    MeResponse,
    MsspCompanyList,
    MsspProductUsageList,
    PeriodList,
    ResellerCompanyList,
    ResellerUsageList,
    SessionResponse,
    SkuList,
    SubscriptionResponse,
    SubscriptionWrite,
)

from contract import Contract  # noqa: E402

CONTRACT = Contract(pathlib.Path(__file__).resolve().parents[2] / "openapi.yaml")
RETRIES = {"429": 0, "503": 0}
CALLS = []


def call(operation, expected_type, expected_status, **kwargs):
    """Sends one operation through the generated client (again after `retry_after_ms` on 429
    or 503) and returns its parsed answer, checked against the contract."""
    # The generated module is the operationId in snake case.
    head, *rest = operation.__name__.rsplit(".", 1)[-1].split("_")
    operation_id = head + "".join(word.title() for word in rest)
    for _ in range(20):
        response = operation.sync_detailed(**kwargs)
        status = int(response.status_code)
        body = json.loads(response.content)
        CONTRACT.validate(operation_id, status, body)
        CALLS.append((operation_id, status, body))
        if status in (429, 503):
            assert isinstance(response.parsed, Error), response.parsed
            RETRIES[str(status)] += 1
            time.sleep(response.parsed.retry_after_ms / 1000)
            continue
        if status != expected_status or not isinstance(response.parsed, expected_type):
            raise SystemExit(f"{operation_id}: {status} {response.content[:300]!r}, expected {expected_status}")
        return response.parsed
    raise SystemExit(f"{operation_id}: still refused after 20 tries")


def follow(href):
    """The generated call's keyword arguments for a `_links.next` URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
    return {name: int(values[0]) if name in ("limit", "offset") else values[0] for name, values in query.items()}


def open_session(base_url, organization_key, api_key):
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    body = CreateSessionRequest(organization_key=organization_key, api_key=api_key)
    created = call(create_session, SessionResponse, 201, client=anonymous, body=body)
    token = created.field_data[0].session_token
    assert created.field_links.me.href.endswith("/v1/me")
    # The API's scheme is `Session`, not the generator's default `Bearer`.
    return AuthenticatedClient(base_url=base_url, token=token, prefix="Session", raise_on_unexpected_status=True)


@contextlib.contextmanager
def session(base_url, organization_key, api_key):
    """A session that is ended however the flow goes on."""
    client = open_session(base_url, organization_key, api_key)
    try:
        yield client
    finally:
        call(end_session, EmptyResponse, 200, client=client)


def the_validator_is_live():
    """The check that every answer passes must be able to fail: a real answer with one date
    broken, or one link missing, is refused."""
    _, status, body = next(c for c in CALLS if c[0] == "createSession" and c[1] == 201)
    broken = copy.deepcopy(body)
    broken["_data"][0]["expires_at"] = "2026-13-45T25:61:00Z"
    unlinked = copy.deepcopy(body)
    del unlinked["_links"]["me"]
    for bad in (broken, unlinked):
        try:
            CONTRACT.validate("createSession", status, bad)
        except AssertionError:
            continue
        raise SystemExit(f"the contract check accepted a broken answer: {bad}")


def mssp_flow(base_url, demo, client):
    me = call(get_me, MeResponse, 200, client=client).field_data[0]
    print(f"me: {me.organization.name} / {me.partnership.name} ({me.partnership.type_})")

    customers, pages, kwargs = [], 0, {"limit": 10, "offset": 0}
    while kwargs is not None:
        page = call(list_customers, CustomerList, 200, client=client, **kwargs)
        customers += page.field_data
        pages += 1
        kwargs = follow(page.field_links.next_.href) if page.field_links.next_ else None
    assert len(customers) == page.field_meta.total, (len(customers), page.field_meta.total)
    assert len({c.id for c in customers}) == len(customers)
    print(f"customers: {len(customers)} in {pages} pages by _links.next")

    periods = call(list_mssp_periods, PeriodList, 200, client=client).field_data
    period = periods[0].id  # the open period: the demo's records reached the closed ones late
    companies = call(list_mssp_companies, MsspCompanyList, 200, client=client, id=period, limit=5)
    usage = call(get_mssp_usage, MsspProductUsageList, 200, client=client, id=period)
    print(f"MSSP period {period} ({companies.field_meta.period.status}): {companies.field_meta.total} companies, "
          f"{usage.field_meta.total} products")

    skus = call(list_skus, SkuList, 200, client=client).field_data
    account = call(create_account, AccountResponse, 201, client=client,
                   body=AccountCreate(name="Generated Python Client AB", country="SE")).field_data[0]
    today = datetime.date.today()
    write = SubscriptionWrite(sku=skus[0].code, quantity=5, start_date=today,
                              end_date=today + datetime.timedelta(days=365))
    subscription = call(create_subscription, SubscriptionResponse, 201, client=client, id=account.id,
                        body=write).field_data[0]
    print(f"created account {account.id} and subscription {subscription.id} ({subscription.sku})")

    admin = AuthenticatedClient(base_url=base_url, token=demo["admin_token"], raise_on_unexpected_status=True)
    keys = call(list_keys, ApiKeyList, 200, client=admin, limit=100)
    sessions = call(list_sessions, LiveSessionList, 200, client=admin)
    assert len(sessions.field_data) >= 1
    print(f"admin: {keys.field_meta.total} keys, {len(sessions.field_data)} live sessions")

    # The subscription is deleted before its account (an account with a subscription active
    # today is kept).
    call(delete_subscription, EmptyResponse, 200, client=client, id=subscription.id)
    deleted = call(delete_account, EmptyResponse, 200, client=client, id=account.id)
    assert deleted.field_links.accounts is not None


def reseller_flow(client):
    months = call(list_reseller_periods, PeriodList, 200, client=client).field_data
    month = months[0].id
    companies = call(list_reseller_companies, ResellerCompanyList, 200, client=client, id=month)
    usage = call(get_reseller_usage, ResellerUsageList, 200, client=client, id=month)
    print(f"reseller month {month}: {companies.field_meta.total} companies, {usage.field_meta.total} usage rows")


def main():
    demo = json.loads(pathlib.Path(sys.argv[1]).read_text())
    base_url, organization_key = demo["base_url"], demo["organization_key"]
    mssp_key = next(k for k in demo["keys"] if k["partnership_type"] == "mssp" and not k["allowed_origins"])
    reseller_key = next(k for k in demo["keys"] if k["partnership_type"] == "reseller")
    with session(base_url, organization_key, mssp_key["api_key"]) as client:
        the_validator_is_live()
        mssp_flow(base_url, demo, client)
    with session(base_url, organization_key, reseller_key["api_key"]) as client:
        reseller_flow(client)

    assert RETRIES["429"] >= 1, "no 429 was met: the flow did not show retry_after_ms handling"
    print(f"python client: {len(CALLS)} answers, every one valid for its status; "
          f"{RETRIES['429']} × 429 and {RETRIES['503']} × 503 waited out by retry_after_ms")


if __name__ == "__main__":
    main()
