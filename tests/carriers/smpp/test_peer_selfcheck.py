"""The SMPP test peer itself works: checked with a tiny raw-socket SMPP client written here."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from tests.carriers.smpp.smpp_peer import SmppPeer, part

BIND_TRANSCEIVER, SUBMIT_SM, DELIVER_SM, ENQUIRE_LINK = 0x09, 0x04, 0x05, 0x15
RESP = 0x80000000


def cstr(text: str) -> bytes:
    return text.encode("ascii") + b"\0"


class RawEsme:
    """Just enough SMPP 3.4 to poke the peer: PDUs in and out, no state machine."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, command_id: int, body: bytes = b"", seq: int | None = None) -> int:
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.sock.sendall(struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body)
        return seq

    def read(self) -> tuple[int, int, int, bytes]:
        """(command_id, status, sequence, body); b"" command_id 0 when the peer closed."""
        head = self._exactly(16)
        if not head:
            return 0, 0, 0, b""
        length, command_id, status, seq = struct.unpack(">IIII", head)
        return command_id, status, seq, self._exactly(length - 16)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return b""
            data += chunk
        return data

    def bind(self, system_id: str = "acme", password: str = "secret") -> int:
        body = cstr(system_id) + cstr(password) + cstr("") + bytes([0x34, 0, 0]) + cstr("")
        self.send(BIND_TRANSCEIVER, body)
        command_id, status, _, _ = self.read()
        assert command_id == BIND_TRANSCEIVER | RESP
        return status

    def submit(self, dest: str, text: bytes, esm_class: int = 0, receipt: int = 1) -> int:
        body = (
            cstr("")
            + bytes([1, 1])
            + cstr("447700900000")
            + bytes([1, 1])
            + cstr(dest)
            + bytes([esm_class, 0, 0])
            + cstr("")
            + cstr("")
            + bytes([receipt, 0, 0, 0])
            + bytes([len(text)])
            + text
        )
        return self.send(SUBMIT_SM, body)


def deliver_fields(body: bytes) -> tuple[list[str], int, bytes, dict[int, bytes]]:
    """([service_type, source, destination], esm_class, short_message, TLVs) of a deliver_sm."""
    strings, pos = [], 0
    for skip in (2, 2, 0):  # service_type, ton, npi, source_addr, ton, npi, destination_addr
        end = body.index(b"\0", pos)
        strings.append(body[pos:end].decode())
        pos = end + 1 + skip
    esm_class = body[pos]
    pos += 3  # esm_class, protocol_id, priority_flag
    for _ in range(2):  # schedule_delivery_time, validity_period
        pos = body.index(b"\0", pos) + 1
    pos += 4  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    sm = body[pos + 1 : pos + 1 + body[pos]]
    pos += 1 + body[pos]
    tlvs = {}
    while pos + 4 <= len(body):
        tag, length = struct.unpack(">HH", body[pos : pos + 4])
        tlvs[tag] = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return strings, esm_class, sm, tlvs


@pytest.fixture(scope="module")
def peer() -> Iterator[SmppPeer]:
    with SmppPeer() as p:
        yield p


@pytest.fixture
def esme(peer: SmppPeer) -> Iterator[RawEsme]:
    peer.reset()
    client = RawEsme(peer.port)
    yield client
    client.close()


def test_bind_submit_receipt_and_enquire_link(peer: SmppPeer, esme: RawEsme) -> None:
    assert esme.bind() == 0
    seq = esme.submit("447700900001", b"hello world")
    command_id, status, rseq, body = esme.read()
    assert (command_id, status, rseq) == (SUBMIT_SM | RESP, 0, seq)
    message_id = body.rstrip(b"\0").decode()
    assert message_id == "abc001"  # hex by default

    command_id, _, dseq, body = esme.read()
    assert command_id == DELIVER_SM
    strings, esm_class, sm, tlvs = deliver_fields(body)
    assert strings[1:] == ["447700900001", "447700900000"]
    assert esm_class == 0x04
    assert sm.startswith(b"id:abc001 sub:001 dlvrd:001 submit date:")
    assert b" stat:DELIVRD err:000 text:hello world" in sm
    assert tlvs[0x001E] == b"abc001\0"
    assert tlvs[0x0427] == b"\x02"
    esme.send(DELIVER_SM | RESP, b"\0", seq=dseq)

    seq = esme.send(ENQUIRE_LINK)
    assert esme.read()[:3] == (ENQUIRE_LINK | RESP, 0, seq)

    peer.wait_for(lambda s: s["deliver_resps"])
    state = peer.state()
    assert state["deliver_resps"][0]["sequence"] == dseq
    assert state["deliver_resps"][0]["status"] == 0
    (submit,) = state["submits"]
    assert submit["short_message"] == b"hello world".hex()
    assert submit["message_id"] == "abc001"
    assert state["binds"] == [
        {**state["binds"][0], "system_id": "acme", "mode": "transceiver", "open": True}
    ]


def test_throttle_queue_full_and_failure_statuses(peer: SmppPeer, esme: RawEsme) -> None:
    assert esme.bind() == 0
    peer.configure(throttle_next=1, queue_full_next=1, fail_next=1, receipts=False)
    statuses = []
    for _ in range(4):
        esme.submit("447700900001", b"x")
        statuses.append(esme.read()[1])
    assert statuses == [0x58, 0x14, 0x0B, 0]
    assert peer.state()["config"]["throttle_next"] == 0


def test_formats_receipt_before_response_and_multipart(peer: SmppPeer, esme: RawEsme) -> None:
    assert esme.bind() == 0
    peer.configure(
        id_format="decimal",
        receipt_id_format="padded",
        receipt_before_response=True,
        outcome_by_destination={"447700900002": "UNDELIV"},
    )
    for seqnum in (1, 2):
        esme.submit("447700900002", bytes([5, 0, 3, 0x42, 2, seqnum]) + b"part", esm_class=0x40)
        receipt = esme.read()
        assert receipt[0] == DELIVER_SM  # before the submit_sm_resp
        _, _, sm, tlvs = deliver_fields(receipt[3])
        resp = esme.read()
        assert resp[0] == SUBMIT_SM | RESP
        assert resp[3] == str(0xABC000 + seqnum).encode() + b"\0"
        assert tlvs[0x001E] == f"{0xABC000 + seqnum:010d}".encode() + b"\0"
        assert b"stat:UNDELIV err:001" in sm
        assert tlvs[0x0427] == b"\x05"
        esme.send(DELIVER_SM | RESP, b"\0", seq=receipt[2])
    udhs = [s["udh"] for s in peer.state()["submits"]]
    assert udhs == [
        {"ref": 0x42, "total": 2, "seq": 1, "ref_bits": 8},
        {"ref": 0x42, "total": 2, "seq": 2, "ref_bits": 8},
    ]


def test_drop_after_submits_and_bind_refusal(peer: SmppPeer, esme: RawEsme) -> None:
    assert esme.bind() == 0
    peer.configure(drop_after_submits=2, receipts=False)
    esme.submit("447700900001", b"one")
    assert esme.read()[1] == 0
    esme.submit("447700900001", b"two")
    assert esme.read() == (0, 0, 0, b"")  # closed without an answer
    assert [s["dropped"] for s in peer.state()["submits"]] == [False, True]

    peer.configure(password="right")
    other = RawEsme(peer.port)
    try:
        assert other.bind(password="wrong") == 0x0E
    finally:
        other.close()


def test_deliver_sends_inbound_deliver_sm(peer: SmppPeer, esme: RawEsme) -> None:
    assert esme.bind() == 0
    text = "héllo".encode("utf-16-be")
    sent = peer.deliver(
        "447700900003",
        "447700900000",
        [part(text, data_coding=8, sar_msg_ref_num=7, sar_total_segments=1, sar_segment_seqnum=1)],
    )
    command_id, _, seq, body = esme.read()
    assert command_id == DELIVER_SM
    assert sent["sequences"] == [seq]
    strings, esm_class, sm, tlvs = deliver_fields(body)
    assert strings[1:] == ["447700900003", "447700900000"]
    assert (esm_class, sm) == (0, text)
    assert tlvs[0x020C] == b"\x00\x07"
    esme.send(DELIVER_SM | RESP, b"\0", seq=seq)
    peer.wait_for(lambda s: s["deliver_resps"] and s["deliver_resps"][0]["kind"] == "mo")
