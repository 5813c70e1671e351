"""The SMTP/LMTP receiving server, over real sockets on 127.0.0.1, and its handler hooks."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from smsbridge.mail.ports import ReceivedEmail
from smsbridge.mail.server import BridgeHandler, Channel, MailServer

T = TypeVar("T")

DOMAIN = "sms.example.org"
ALICE = f"+447700900001@{DOMAIN}"
BOB = f"+447700900002@{DOMAIN}"
UTF8_RCPT = f"dépôt@{DOMAIN}"
LIMIT = 4096

# CRLF line ends and a final CRLF so the bytes go over the wire untouched; the line starting
# with a dot checks dot-transparency and the UTF-8 body that 8-bit data survives.
RAW = (
    b"From: Sender <sender@example.com>\r\n"
    b"To: <+447700900001@sms.example.org>\r\n"
    b"Subject: hello\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Caf\xc3\xa9 at six?\r\n"
    b".a line starting with a dot\r\n"
)


class FakeSink:
    """In memory: accepts a fixed set of addresses and keeps what it stores."""

    def __init__(
        self,
        accepted: frozenset[str] = frozenset({ALICE, BOB, UTF8_RCPT}),
        *,
        fail_check: bool = False,
        fail_store: bool = False,
    ) -> None:
        self.accepted = accepted
        self.fail_check = fail_check
        self.fail_store = fail_store
        self.checked: list[str] = []
        self.stored: list[ReceivedEmail] = []
        self._lock = threading.Lock()  # called from worker threads

    def check_recipient(self, address: str) -> str | None:
        with self._lock:
            self.checked.append(address)
        if self.fail_check:
            raise RuntimeError("database unavailable")
        return None if address in self.accepted else "No such recipient here"

    def store(self, email: ReceivedEmail) -> str:
        if self.fail_store:
            raise RuntimeError("database unavailable")
        with self._lock:
            self.stored.append(email)
            return f"msg-{len(self.stored)}"


class LoopThread:
    """An event loop running forever in a background thread, as the gateway's loop would."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def close(self) -> None:
        # What asyncio.run does on the way out, so no thread or generator outlives the loop.
        self.run(self.loop.shutdown_asyncgens())
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


ServerFactory = Callable[..., MailServer]


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


@pytest.fixture
def start_server(loop_thread: LoopThread) -> Iterator[ServerFactory]:
    servers: list[MailServer] = []

    def start(
        sink: FakeSink,
        *,
        mode: Channel = "smtp",
        max_message_bytes: int = LIMIT,
        max_recipients: int = 10,
    ) -> MailServer:
        handler = BridgeHandler(
            sink, channel=mode, max_message_bytes=max_message_bytes, max_recipients=max_recipients
        )
        server = MailServer(
            handler,
            host="127.0.0.1",
            port=0,
            mode=mode,
            hostname="mx.test",
            max_message_bytes=max_message_bytes,
        )
        loop_thread.run(server.start())
        servers.append(server)
        return server

    yield start
    for server in servers:
        loop_thread.run(server.stop())


def smtp_client(server: MailServer) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example.net", timeout=10)


# --- SMTP over a socket ---------------------------------------------------------------------


def test_smtp_stores_the_exact_message_with_its_envelope(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink)
    with smtp_client(server) as client:
        code, banner = client.ehlo()
        assert code == 250
        assert b"SMTPUTF8" in banner
        assert f"SIZE {LIMIT}".encode() in banner
        assert client.mail("sender@example.com") == (250, b"2.1.0 OK")
        assert client.rcpt(ALICE) == (250, b"2.1.5 OK")
        assert client.data(RAW) == (250, b"2.0.0 Message accepted msg-1")

    assert sink.stored == [
        ReceivedEmail(
            envelope_sender="sender@example.com",
            recipients=[ALICE],
            raw=RAW,
            channel="smtp",
            peer="127.0.0.1",
            helo="client.example.net",
        )
    ]


def test_smtp_greets_with_hostname_and_ident(start_server: ServerFactory) -> None:
    server = start_server(FakeSink())
    # connect() is the one smtplib call that returns the greeting.
    client = smtplib.SMTP(timeout=10)
    try:
        code, greeting = client.connect("127.0.0.1", server.port)
        assert (code, greeting) == (220, b"mx.test smsbridge")
    finally:
        client.quit()


def test_smtp_refuses_an_unknown_recipient_at_rcpt(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink)
    stranger = "someone@elsewhere.example"
    with smtp_client(server) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("sender@example.com", [stranger], RAW)

    assert refused.value.recipients == {stranger: (550, b"5.1.1 No such recipient here")}
    assert sink.checked == [stranger]
    assert sink.stored == []


def test_smtp_accepts_the_null_sender(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink)
    with smtp_client(server) as client:
        assert client.sendmail("", [ALICE], RAW) == {}

    assert [email.envelope_sender for email in sink.stored] == [""]


def test_smtp_refuses_a_message_over_the_limit_at_data(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink, max_message_bytes=1000)
    big = RAW + b"x" * 70 + b"\r\n"
    big *= 1 + 1000 // len(big)
    with smtp_client(server) as client:
        client.ehlo()
        # No SIZE declared, so the limit can only be applied to the data itself.
        assert client.mail("sender@example.com")[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        code, _ = client.data(big)
        assert code == 552
        # The session goes on: a following message within the limit is taken.
        assert client.sendmail("sender@example.com", [ALICE], RAW) == {}

    assert [email.raw for email in sink.stored] == [RAW]


def test_smtp_refuses_a_declared_size_over_the_limit(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink, max_message_bytes=1000)
    with smtp_client(server) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        # sendmail declares SIZE= itself since the server advertises it.
        client.sendmail("sender@example.com", [ALICE], b"x" * 2000 + b"\r\n")

    assert refused.value.smtp_code == 552
    assert sink.checked == []
    assert sink.stored == []


def test_smtp_answers_451_when_the_message_cannot_be_stored(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink(fail_store=True)
    server = start_server(sink)
    with smtp_client(server) as client, pytest.raises(smtplib.SMTPDataError) as failed:
        client.sendmail("sender@example.com", [ALICE], RAW)

    assert failed.value.smtp_code == 451
    assert failed.value.smtp_error == b"4.3.0 Could not store the message; try again later"
    assert "Could not store a message" in caplog.text
    assert sink.stored == []


def test_smtp_answers_451_at_rcpt_when_the_recipient_check_fails(
    start_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FakeSink(fail_check=True)
    server = start_server(sink)
    with smtp_client(server) as client:
        client.ehlo()
        assert client.mail("sender@example.com")[0] == 250
        assert client.rcpt(ALICE) == (451, b"4.3.0 Temporary failure, try again later")
    assert "database unavailable" in caplog.text
    assert sink.stored == []


def test_smtp_limits_the_number_of_recipients(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink, max_recipients=2)
    third = f"+447700900003@{DOMAIN}"
    with smtp_client(server) as client:
        refused = client.sendmail("sender@example.com", [ALICE, BOB, third], RAW)

    assert refused == {third: (452, b"4.5.3 Too many recipients")}
    assert [email.recipients for email in sink.stored] == [[ALICE, BOB]]


def test_smtp_takes_an_smtputf8_address(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink)
    with smtp_client(server) as client:
        refused = client.sendmail("sénder@example.com", [UTF8_RCPT], RAW, mail_options=["SMTPUTF8"])

    assert refused == {}
    assert [(e.envelope_sender, e.recipients) for e in sink.stored] == [
        ("sénder@example.com", [UTF8_RCPT])
    ]


def test_stop_closes_connections_still_open(
    loop_thread: LoopThread, start_server: ServerFactory
) -> None:
    server = start_server(FakeSink())
    client = smtp_client(server)
    try:
        client.ehlo()
        loop_thread.run(server.stop())
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    finally:
        client.close()


# --- LMTP over a socket ---------------------------------------------------------------------


def lmtp_client(server: MailServer) -> smtplib.LMTP:
    return smtplib.LMTP("127.0.0.1", server.port, local_hostname="mta.example.net", timeout=10)


def test_lmtp_answers_accepted_recipients_and_stores_once(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink, mode="lmtp")
    stranger = "someone@elsewhere.example"
    with lmtp_client(server) as client:
        refused = client.sendmail("sender@example.com", [ALICE, stranger], RAW)
        # Exactly one reply line came for the one accepted recipient: the next reply read is
        # the NOOP's, not a stray DATA reply.
        assert client.noop() == (250, b"OK")

    assert refused == {stranger: (550, b"5.1.1 No such recipient here")}
    assert sink.stored == [
        ReceivedEmail(
            envelope_sender="sender@example.com",
            recipients=[ALICE],
            raw=RAW,
            channel="lmtp",
            peer="127.0.0.1",
            helo="mta.example.net",
        )
    ]


def test_lmtp_answers_data_once_per_accepted_recipient(start_server: ServerFactory) -> None:
    sink = FakeSink()
    server = start_server(sink, mode="lmtp")
    with lmtp_client(server) as client:
        assert client.ehlo()[0] == 250  # sent as LHLO
        assert client.mail("sender@example.com")[0] == 250
        assert client.rcpt(ALICE)[0] == 250
        assert client.rcpt("nobody@elsewhere.example")[0] == 550
        assert client.rcpt(BOB)[0] == 250
        # smtplib's data() reads the first recipient's reply; the second follows it.
        assert client.data(RAW) == (250, b"2.0.0 Message accepted msg-1")
        assert client.getreply() == (250, b"2.0.0 Message accepted msg-1")
        assert client.noop() == (250, b"OK")

    assert [email.recipients for email in sink.stored] == [[ALICE, BOB]]


def test_lmtp_refuses_helo(start_server: ServerFactory) -> None:
    server = start_server(FakeSink(), mode="lmtp")
    with lmtp_client(server) as client:
        assert client.helo()[0] == 500


# --- the handler's hooks, called directly ---------------------------------------------------


def call_hook(
    handler: BridgeHandler,
    hook: Callable[[SMTP, Session, Envelope], Coroutine[Any, Any, str]],
    envelope: Envelope,
) -> str:
    async def go() -> str:
        loop = asyncio.get_running_loop()
        session = Session(loop)
        # aiosmtpd stores the transport's peername, a tuple, despite annotating peer as str.
        session.peer = ("192.0.2.7", 40123)  # type: ignore[assignment]
        session.host_name = "mx.sender.example"
        return await hook(SMTP(handler, loop=loop), session, envelope)

    return asyncio.run(go())


def sent_envelope(*recipients: str, content: bytes = RAW) -> Envelope:
    envelope = Envelope()
    envelope.mail_from = "sender@example.com"
    envelope.rcpt_tos.extend(recipients)
    envelope.content = envelope.original_content = content
    return envelope


def test_rcpt_hook_refuses_with_the_sinks_reason_and_keeps_the_envelope_clean() -> None:
    sink = FakeSink(accepted=frozenset({ALICE}))
    handler = BridgeHandler(sink, channel="smtp", max_message_bytes=LIMIT)
    envelope = sent_envelope()

    def rcpt(address: str) -> Callable[[SMTP, Session, Envelope], Coroutine[Any, Any, str]]:
        return lambda server, session, env: handler.handle_RCPT(server, session, env, address, [])

    assert call_hook(handler, rcpt(BOB), envelope) == "550 5.1.1 No such recipient here"
    assert envelope.rcpt_tos == []
    assert call_hook(handler, rcpt(ALICE), envelope) == "250 2.1.5 OK"
    assert envelope.rcpt_tos == [ALICE]
    assert sink.checked == [BOB, ALICE]


def test_rcpt_hook_keeps_a_multiline_reason_on_one_reply_line() -> None:
    class Chatty(FakeSink):
        def check_recipient(self, address: str) -> str | None:
            return "no\r\n250 injected"

    handler = BridgeHandler(Chatty(), channel="smtp", max_message_bytes=LIMIT)
    status = call_hook(
        handler,
        lambda server, session, env: handler.handle_RCPT(server, session, env, ALICE, []),
        sent_envelope(),
    )
    assert status == "550 5.1.1 no 250 injected"


def test_mail_hook_refuses_a_declared_size_over_the_limit() -> None:
    handler = BridgeHandler(FakeSink(), channel="smtp", max_message_bytes=1000)
    envelope = Envelope()
    status = call_hook(
        handler,
        lambda server, session, env: handler.handle_MAIL(
            server, session, env, "sender@example.com", ["SIZE=1001"]
        ),
        envelope,
    )
    assert status == "552 5.3.4 Message too big"
    assert envelope.mail_from is None


def test_data_hook_refuses_oversized_content_without_storing() -> None:
    sink = FakeSink()
    handler = BridgeHandler(sink, channel="smtp", max_message_bytes=len(RAW) - 1)
    status = call_hook(handler, handler.handle_DATA, sent_envelope(ALICE))
    assert status == "552 5.3.4 Message too big"
    assert sink.stored == []


def test_data_hook_records_the_peer_and_helo_and_the_null_sender() -> None:
    sink = FakeSink()
    handler = BridgeHandler(sink, channel="smtp", max_message_bytes=LIMIT)
    envelope = sent_envelope(ALICE, ALICE)
    envelope.mail_from = "<>"  # how aiosmtpd hands over MAIL FROM:<>
    assert call_hook(handler, handler.handle_DATA, envelope) == "250 2.0.0 Message accepted msg-1"
    assert sink.stored == [
        ReceivedEmail(
            envelope_sender="",
            recipients=[ALICE],  # a duplicated recipient is one delivery
            raw=RAW,
            channel="smtp",
            peer="192.0.2.7",
            helo="mx.sender.example",
        )
    ]


def test_lmtp_data_hook_answers_each_recipient_even_on_failure() -> None:
    handler = BridgeHandler(FakeSink(fail_store=True), channel="lmtp", max_message_bytes=LIMIT)
    status = call_hook(handler, handler.handle_DATA, sent_envelope(ALICE, BOB))
    line = "451 4.3.0 Could not store the message; try again later"
    assert status == f"{line}\r\n{line}"


def test_server_mode_must_match_the_handler_channel() -> None:
    handler = BridgeHandler(FakeSink(), channel="smtp", max_message_bytes=LIMIT)
    with pytest.raises(ValueError, match="does not match"):
        MailServer(
            handler,
            host="127.0.0.1",
            port=0,
            mode="lmtp",
            hostname="mx.test",
            max_message_bytes=LIMIT,
        )


def test_unexpected_errors_become_a_temporary_failure_without_details() -> None:
    handler = BridgeHandler(FakeSink(), channel="smtp", max_message_bytes=LIMIT)
    status = asyncio.run(handler.handle_exception(RuntimeError("secret internals")))
    assert status == "451 4.3.0 Temporary failure, try again later"
