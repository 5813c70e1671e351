"""An SMSC on another SMPP 3.4 implementation (PyPI `smpp34`, Rust), run as its own process.

    python -m tests.carriers.smpp.rust_smsc_server --port P --store FILE

None of smsbridge's SMPP code is used here: binds, framing and PDU decoding are smpp34's, the
rules below are written from the spec. It refuses what real SMSCs refuse, keeps what it
accepted in a JSON store (so a receipt survives a crash and restart of this process, as on a
real SMSC), and sends receipts on the bind. Commands arrive as JSON lines on stdin; each gets
one JSON line on stdout:

    {"cmd": "state"}                         -> {"binds", "submits", "receipts_sent", ...}
    {"cmd": "config", ...keys}               -> the config (keys: see CONFIG)
    {"cmd": "deliver", "source", "destination", "text", ...}  -> an MO deliver_sm
    {"cmd": "stop"}                          -> the process exits after answering
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import smpp34

ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RINVREGDLVFLG = 0x07
ESME_RINVSRCTON = 0x48
ESME_RINVDSTTON = 0x50
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
STATES = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}

CONFIG: dict[str, Any] = {
    "expect_receipts": True,  # a submit without registered_delivery is refused (0x07)
    "crash_on_submit": 0,  # N > 0: the N-th submit from now is stored, then the process dies
    "outcome_by_destination": {},  # {"447700900123": "UNDELIV"}; default DELIVRD
    "receipt_delay_ms": 30,
}
_GSM_NAME = re.compile(r"^[\x20-\x7e]{1,11}$")


def refusal(event: smpp34.SubmitSmEvent, config: dict[str, Any]) -> int:
    """The command_status a strict SMSC answers this submit with, or 0 to take it."""
    source, ton = event.source_addr, event.source_addr_ton
    if ton == 5:
        if source.lstrip("+").isdigit():
            return ESME_RINVSRCTON  # a number sent as a name: the handset cannot reply
        if not _GSM_NAME.match(source):
            return ESME_RINVSRCADR  # names are at most 11 characters
    elif ton in (1, 2) and not (source.isdigit() and 4 <= len(source) <= 15):
        return ESME_RINVSRCADR  # numbers are digits only: no "+", no spaces
    if event.dest_addr_ton == 5:
        return ESME_RINVDSTTON
    if not (event.destination_addr.isdigit() and 4 <= len(event.destination_addr) <= 15):
        return ESME_RINVDSTADR
    if config["expect_receipts"] and event.registered_delivery & 0x03 == 0:
        return ESME_RINVREGDLVFLG
    return 0


class Smsc:
    def __init__(self, port: int, store: Path) -> None:
        self.port = port
        self.store_path = store
        self.config = dict(CONFIG)
        self.store: dict[str, Any] = (
            json.loads(store.read_text()) if store.exists() else {"next_id": 1, "messages": []}
        )
        self.binds: list[dict[str, Any]] = []
        self.submits: list[dict[str, Any]] = []
        self.deliver_results: list[dict[str, Any]] = []
        self.esmes: dict[str, smpp34.Esme] = {}
        self.held: list[smpp34.SubmitSmEvent] = []  # unanswered on purpose (see crash)
        self.tasks: set[asyncio.Task[None]] = set()

    def save(self) -> None:
        # Written and flushed to disk before anything is answered: what was stored survives.
        tmp = self.store_path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.store, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.store_path)

    async def run(self) -> None:
        server = smpp34.Server("127.0.0.1", self.port, system_id="rust-smsc")
        await server.start()
        print(json.dumps({"ready": self.port}), flush=True)
        self.spawn(self.commands())
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                self.esmes[event.session_id] = event
                self.binds.append({"system_id": event.system_id, "session": event.session_id})
                self.spawn(self.flush_receipts(event))
            elif isinstance(event, smpp34.SubmitSmEvent):
                self.on_submit(event)
            elif isinstance(event, smpp34.Unbound):
                self.esmes.pop(event.session_id, None)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_submit(self, event: smpp34.SubmitSmEvent) -> None:
        record = {
            "source_addr": event.source_addr,
            "source_addr_ton": event.source_addr_ton,
            "source_addr_npi": event.source_addr_npi,
            "destination_addr": event.destination_addr,
            "dest_addr_ton": event.dest_addr_ton,
            "dest_addr_npi": event.dest_addr_npi,
            "data_coding": event.data_coding,
            "esm_class": event.esm_class,
            "registered_delivery": event.registered_delivery,
            "short_message": event.short_message.hex(),
            "status": 0,
            "message_id": None,
        }
        self.submits.append(record)
        status = refusal(event, self.config)
        if status:
            record["status"] = status
            event.reject(status)
            return
        message_id = f"R{self.store['next_id']:08d}"
        self.store["next_id"] += 1
        record["message_id"] = message_id
        stored = {
            "message_id": message_id,
            "system_id": next(
                (b["system_id"] for b in self.binds if b["session"] == event.session_id), ""
            ),
            "source_addr": event.source_addr,
            "source_addr_ton": event.source_addr_ton,
            "source_addr_npi": event.source_addr_npi,
            "destination_addr": event.destination_addr,
            "dest_addr_ton": event.dest_addr_ton,
            "dest_addr_npi": event.dest_addr_npi,
            "text": receipt_text(event.short_message, event.data_coding, event.esm_class),
            "submitted": datetime.now(UTC).strftime("%y%m%d%H%M"),
            "receipt_sent": False,
        }
        self.store["messages"].append(stored)
        self.save()
        if self.config["crash_on_submit"] > 0:
            self.config["crash_on_submit"] -= 1
            if self.config["crash_on_submit"] == 0:
                # Stored, never answered: the process dies and the OS closes every socket.
                record["crashed"] = True
                os._exit(3)
        event.accept(message_id)
        esme = self.esmes.get(event.session_id)
        if esme is not None and event.registered_delivery & 0x03:
            self.spawn(self.send_receipt(esme, stored))

    async def send_receipt(self, esme: smpp34.Esme, stored: dict[str, Any]) -> None:
        await asyncio.sleep(self.config["receipt_delay_ms"] / 1000)
        stat = self.config["outcome_by_destination"].get(stored["destination_addr"], "DELIVRD")
        now = datetime.now(UTC).strftime("%y%m%d%H%M")
        body = (
            f"id:{stored['message_id']} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{stored['submitted']} done date:{now} stat:{stat} "
            f"err:{'000' if stat == 'DELIVRD' else '001'} text:{stored['text']}"
        )
        try:
            answer = await esme.deliver_sm(
                stored["source_addr"],
                body.encode("ascii"),
                source_addr=stored["destination_addr"],
                source_addr_ton=stored["dest_addr_ton"],
                source_addr_npi=stored["dest_addr_npi"],
                dest_addr_ton=stored["source_addr_ton"],
                dest_addr_npi=stored["source_addr_npi"],
                esm_class=0x04,
                tlvs=[
                    smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, stored["message_id"].encode() + b"\0"),
                    smpp34.Tlv(TLV_MESSAGE_STATE, bytes((STATES[stat],))),
                ],
            )
        except Exception as exc:  # the session went: the receipt waits for the next bind
            self.deliver_results.append({"message_id": stored["message_id"], "error": str(exc)})
            return
        self.deliver_results.append(
            {"message_id": stored["message_id"], "status": answer.command_status}
        )
        if answer.is_success:
            stored["receipt_sent"] = True
            self.save()

    async def flush_receipts(self, esme: smpp34.Esme) -> None:
        await asyncio.sleep(0.05)
        for stored in self.store["messages"]:
            if not stored["receipt_sent"] and stored["system_id"] in ("", esme.system_id):
                await self.send_receipt(esme, stored)

    async def commands(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                os._exit(0)  # the test process went away
            try:
                reply = await self.command(json.loads(line))
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command.pop("cmd")
        if name == "state":
            return {
                "binds": self.binds,
                "submits": self.submits,
                "deliver_results": self.deliver_results,
                "stored": self.store["messages"],
                "bound": len(self.esmes),
            }
        if name == "config":
            unknown = set(command) - set(CONFIG)
            if unknown:
                return {"error": f"unknown config keys {sorted(unknown)}"}
            self.config.update(command)
            return dict(self.config)
        if name == "deliver":
            esme = next((e for e in self.esmes.values() if e.can_receive), None)
            if esme is None:
                return {"error": "no bound ESME can receive"}
            answer = await esme.deliver_sm(
                command["destination"],
                bytes.fromhex(command["short_message_hex"]),
                source_addr=command["source"],
                source_addr_ton=command.get("source_addr_ton", 1),
                source_addr_npi=command.get("source_addr_npi", 1),
                dest_addr_ton=command.get("dest_addr_ton", 1),
                dest_addr_npi=command.get("dest_addr_npi", 1),
                data_coding=command.get("data_coding", 0),
            )
            return {"status": answer.command_status}
        if name == "stop":
            asyncio.get_running_loop().call_later(0.05, os._exit, 0)
            return {"stopping": True}
        return {"error": f"unknown command {name}"}


def receipt_text(short_message: bytes, data_coding: int, esm_class: int) -> str:
    """The first 20 characters for the receipt's text:, non-ASCII as "?" (as SMSCs write it)."""
    body = short_message
    if esm_class & 0x40 and body:
        body = body[1 + body[0] :]
    if data_coding == 8:
        text = body.decode("utf-16-be", errors="replace")
    else:
        # Unpacked GSM-7 septets read as ASCII where the two alphabets agree (letters, digits,
        # most punctuation); the septets where they differ are mapped or become "?".
        text = "".join(_GSM_TO_ASCII.get(octet, chr(octet)) for octet in body)
    return "".join(c if " " <= c <= "~" else "?" for c in text[:20])


_GSM_TO_ASCII = {0x00: "@", 0x02: "$", 0x11: "_", 0x24: "?", 0x40: "?", 0x60: "?"} | {
    octet: "?" for octet in (0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F)
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Smsc(args.port, args.store).run())


if __name__ == "__main__":
    main()
