"""Managing the opt-out list over the API, on both databases: list, search, add and import
(all or nothing, each bad line with its reason), remove, the audit trail, CSV, settings, and
one account never seeing or affecting another's list."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from smsbridge.app import Gateway
from smsbridge.credits import ledger
from tests.conversations.conftest import CUSTOMER, customer_texts, pump


def h(key: str) -> dict[str, str]:
    return {"Authorization": key}


def listed(api: TestClient, key: str, **params: Any) -> dict[str, Any]:
    response = api.get("/v1/optouts", params=params, headers=h(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_import_with_bad_lines_is_refused_line_by_line_and_adds_nothing(
    api: TestClient, key: str
) -> None:
    text = "number\n447700900123\nnot a number\n447700900124,447700900777\n447700900125\n"
    response = api.post("/v1/optouts/import", json={"text": text}, headers=h(key))
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["errorCode"]) == ("INVALID_IMPORT", 1700)
    assert [(d["line"], d["value"]) for d in body["details"]] == [
        (3, "not a number"),
        (4, "447700900124,447700900777"),
    ]
    assert "not a Reply Number you hold" in body["details"][1]["reason"]
    assert listed(api, key)["total"] == 0  # nothing half applied


def test_add_list_search_remove_with_an_audit_trail_and_csv(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    added = api.post(
        "/v1/optouts",
        json={"numbers": ["447700900123", "07700900124"], "note": "asked by phone"},
        headers=h(key),
    )
    assert added.status_code == 201, added.text
    assert added.json() == {"added": 2, "alreadylisted": 0}
    again = api.post(
        "/v1/optouts/import",
        json={"text": "447700900123\n447700900125,447700900001"},
        headers=h(key),
    )
    assert again.json() == {"added": 1, "alreadylisted": 1}
    everything = listed(api, key)
    assert everything["total"] == 3
    assert {(e["customer"], e["replynumber"], e["scope"]) for e in everything["optouts"]} == {
        ("447700900123", None, "account"),
        ("447700900124", None, "account"),
        ("447700900125", "447700900001", "pair"),
    }
    assert listed(api, key, search="0124")["optouts"][0]["customer"] == "447700900124"
    assert listed(api, key, search="0124")["total"] == 1
    assert listed(api, key, replynumber="447700900001")["total"] == 1
    entry = listed(api, key, search="0123")["optouts"][0]
    assert entry["source"] == "api" and entry["actor"].startswith("API key default")
    assert entry["note"] == "asked by phone"
    # An added entry is enforced like a STOP: for every sender of the account.
    send = api.post(
        "/v1/message/send",
        json={"sender": "Acme", "destination": "447700900124", "content": "Hi"},
        headers=h(key),
    )
    assert send.status_code == 403 and send.json()["code"] == "DESTINATION_OPTED_OUT"

    exported = api.get("/v1/optouts/export.csv", headers=h(key))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:2] == ["customer", "replynumber"]
    assert {r[0] for r in rows[1:]} == {"+447700900123", "+447700900124", "+447700900125"}
    # The export is a valid import (its first two columns).
    reimport = api.post("/v1/optouts/import", json={"text": exported.text}, headers=h(key))
    assert reimport.status_code == 201, reimport.text
    assert reimport.json()["added"] == 0

    removed = api.delete("/v1/optouts/447700900124", headers=h(key))
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    assert api.delete("/v1/optouts/447700900124", headers=h(key)).json()["code"] == (
        "OPTOUT_NOT_FOUND"
    )
    events = api.get("/v1/optouts/events", params={"customer": "447700900124"}, headers=h(key))
    assert [e["action"] for e in events.json()["events"]] == ["removed", "added"]
    assert all(e["actor"].startswith("API key default") for e in events.json()["events"])


def test_a_keyword_entry_names_its_message_in_the_trail(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    inbound_id = customer_texts(bridge, acme["number"], "UNSUBSCRIBE", "in-1")
    pump(bridge)
    [entry] = listed(api, key)["optouts"]
    assert (entry["source"], entry["keyword"], entry["messageid"]) == (
        "keyword",
        "UNSUBSCRIBE",
        inbound_id,
    )
    [event] = api.get("/v1/optouts/events", headers=h(key)).json()["events"]
    assert (event["action"], event["messageid"]) == ("opted_out", inbound_id)
    assert event["answerid"] is not None  # the confirmation SMS


def test_accounts_never_see_or_touch_each_others_list(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    customer_texts(bridge, acme["number"], "STOP", "in-1")
    pump(bridge)
    other = bridge.accounts.create_account("Globex")
    with bridge.db.write() as session:
        ledger.credit(session, other.id, 10_000, bridge.clock.now(), kind="topup")
    other_key = bridge.accounts.create_key(other.id).key
    assert listed(api, other_key) == {"total": 0, "optouts": []}
    assert api.get("/v1/optouts/events", headers=h(other_key)).json()["events"] == []
    assert CUSTOMER.lstrip("+") not in api.get("/v1/optouts/export.csv", headers=h(other_key)).text
    gone = api.delete(f"/v1/optouts/{CUSTOMER.lstrip('+')}", headers=h(other_key))
    assert gone.status_code == 404
    assert listed(api, key)["total"] == 1
    # Acme's customer opted out of Acme, not of Globex.
    send = api.post(
        "/v1/message/send",
        json={"sender": "Globex", "destination": CUSTOMER.lstrip("+"), "content": "Hi"},
        headers=h(other_key),
    )
    assert send.status_code == 201, send.text
    assert api.get("/v1/optouts", headers={}).status_code == 401


def test_settings_are_validated_and_reset_to_the_default(api: TestClient, key: str) -> None:
    current = api.get("/v1/optouts/settings", headers=h(key)).json()
    assert current["scope"] == "pair" and current["scopeisdefault"] is True
    assert "STOP" in current["keywords"]["en"]["optout"]
    ambiguous = {"en": {"optout": ["STOP"], "optin": ["STOP"]}}
    bad = api.put("/v1/optouts/settings", json={"keywords": ambiguous}, headers=h(key))
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_KEYWORDS"
    bad = api.put("/v1/optouts/settings", json={"texts": {"optout": {"en": ""}}}, headers=h(key))
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_OPTOUT_TEXT"
    bad = api.put("/v1/optouts/settings", json={"scope": "planet"}, headers=h(key))
    assert bad.status_code == 400
    put = api.put(
        "/v1/optouts/settings",
        json={"scope": "account", "texts": {"help": {"en": "Call us"}}},
        headers=h(key),
    )
    assert put.json()["scope"] == "account" and put.json()["texts"]["help"]["en"] == "Call us"
    reset = api.put("/v1/optouts/settings", json={"scope": None}, headers=h(key)).json()
    assert reset["scope"] == "pair" and reset["texts"]["help"]["en"] == "Call us"
