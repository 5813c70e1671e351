"""The mail transports against a real Maildir on disk and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from smsbridge.mail.ports import MailTransport, OutgoingEmail, TransportError
from smsbridge.mail.transports import MaildirTransport, SmtpRelayTransport


def make_email(id: str = "e1", *, body: str = "Hello", **changes: Any) -> OutgoingEmail:
    raw = (
        "From: Bridge <sms@bank.example>\r\n"
        "To: team@bank.example\r\n"
        f"Subject: email {id}\r\n"
        f"Message-ID: <{id}@bank.example>\r\n"
        "\r\n"
        f"{body}\r\n"
        ".a line starting with a dot\r\n"
    ).encode()
    values: dict[str, Any] = {
        "id": id,
        "envelope_sender": "bounces@bank.example",
        "recipients": ["team@bank.example"],
        "raw": raw,
    }
    values.update(changes)
    return OutgoingEmail(**values)


def test_both_transports_satisfy_the_port(tmp_path: Path) -> None:
    transports: list[MailTransport] = [
        MaildirTransport(tmp_path),
        SmtpRelayTransport(host="127.0.0.1", port=25, security="none"),
    ]
    assert [t.name for t in transports] == ["maildir", "smtp"]


# --- Maildir -------------------------------------------------------------------------------


def listing(root: Path) -> dict[str, list[str]]:
    return {sub: sorted(os.listdir(root / sub)) for sub in ("tmp", "new", "cur")}


def test_maildir_delivers_exact_bytes(tmp_path: Path) -> None:
    root = tmp_path / "mail" / "Maildir"  # neither exists yet
    transport = MaildirTransport(root)
    first = make_email("e1")
    second = make_email("e2", raw=b"From: a@b.example\n\nbinary \x00\xff\r\nend")

    async def main() -> None:
        await transport.send(first)
        await transport.send(second)
        await transport.close()

    asyncio.run(main())

    assert listing(root) == {"tmp": [], "new": ["e1.smsbridge", "e2.smsbridge"], "cur": []}
    assert (root / "new" / "e1.smsbridge").read_bytes() == first.raw
    assert (root / "new" / "e2.smsbridge").read_bytes() == second.raw
    assert stat.S_IMODE((root / "new" / "e1.smsbridge").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "new").stat().st_mode) == 0o700


def test_maildir_same_id_twice_is_one_email(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path)
    original = make_email("e1", body="first")

    async def main() -> None:
        await transport.send(original)
        await transport.send(make_email("e1", body="a resend after a crash"))

    asyncio.run(main())

    assert listing(tmp_path) == {"tmp": [], "new": ["e1.smsbridge"], "cur": []}
    assert (tmp_path / "new" / "e1.smsbridge").read_bytes() == original.raw


def test_maildir_does_not_redeliver_what_a_reader_moved_to_cur(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path)
    asyncio.run(transport.send(make_email("e1")))
    # A mail reader saw it: moved to cur/ with the info suffix.
    os.rename(tmp_path / "new" / "e1.smsbridge", tmp_path / "cur" / "e1.smsbridge:2,S")

    asyncio.run(transport.send(make_email("e1")))
    # An id that merely starts the same way is a different email.
    asyncio.run(transport.send(make_email("e1.smsbridge.x")))

    assert listing(tmp_path) == {
        "tmp": [],
        "new": ["e1.smsbridge.x.smsbridge"],
        "cur": ["e1.smsbridge:2,S"],
    }


def test_maildir_concurrent_sends_of_one_id(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path)

    async def main() -> None:
        await asyncio.gather(*(transport.send(make_email("e1")) for _ in range(8)))

    asyncio.run(main())

    assert listing(tmp_path) == {"tmp": [], "new": ["e1.smsbridge"], "cur": []}


@pytest.mark.parametrize("bad_id", ["", "../escape", "a/b", ".hidden", "x:2,S", "a,S=3", "é"])
def test_maildir_refuses_ids_that_cannot_be_file_names(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(TransportError) as caught:
        asyncio.run(MaildirTransport(tmp_path / "md").send(make_email(bad_id)))

    assert caught.value.permanent
    assert not (tmp_path / "md").exists()
    assert not (tmp_path / "escape.smsbridge").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_maildir_read_only_root_is_temporary(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(TransportError) as caught:
            asyncio.run(MaildirTransport(tmp_path / "Maildir").send(make_email()))
    finally:
        tmp_path.chmod(0o755)

    assert not caught.value.permanent


def test_maildir_unusable_new_dir_is_temporary(tmp_path: Path) -> None:
    # Runs as root too: with new/ a regular file, not even root can deliver into it.
    for sub in ("tmp", "cur"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new").write_bytes(b"")

    with pytest.raises(TransportError) as caught:
        asyncio.run(MaildirTransport(tmp_path).send(make_email()))

    assert not caught.value.permanent
    assert caught.value.code is None
    assert os.listdir(tmp_path / "tmp") == []


def test_maildir_root_that_cannot_be_created_is_temporary(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")

    with pytest.raises(TransportError) as caught:
        asyncio.run(MaildirTransport(tmp_path / "file" / "Maildir").send(make_email()))

    assert not caught.value.permanent


def test_maildir_full_disk_is_temporary_and_leaves_no_partial_file(tmp_path: Path) -> None:
    # A write failing part-way, as on a full disk: a file size limit makes write() fail with
    # EFBIG even for root. In a child process, so the limit cannot touch pytest's own files.
    script = textwrap.dedent(
        f"""
        import asyncio, resource, signal
        from smsbridge.mail.ports import OutgoingEmail, TransportError
        from smsbridge.mail.transports import MaildirTransport

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        email = OutgoingEmail("big", "a@b.example", ["c@d.example"], b"x" * 5000)
        try:
            asyncio.run(MaildirTransport({str(tmp_path)!r}).send(email))
        except TransportError as exc:
            print("permanent" if exc.permanent else "temporary", exc)
        else:
            print("delivered")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.startswith("temporary"), result.stdout + result.stderr
    assert listing(tmp_path) == {"tmp": [], "new": [], "cur": []}


# --- SMTP relay ------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str | None
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and answers as told."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)
    quits: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 2.0.0 queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.quits += 1
        return "221 Bye"


def check_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"relay-user",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Relay:
    port: int
    connections: list[SMTP]


@asynccontextmanager
async def smtp_relay(
    handler: RecordingHandler, *, implicit_tls: ssl.SSLContext | None = None, **smtp_kwargs: Any
) -> AsyncIterator[Relay]:
    """A real aiosmtpd server on 127.0.0.1, on a free port, in the test's own event loop."""
    loop = asyncio.get_running_loop()
    connections: list[SMTP] = []

    def factory() -> SMTP:
        server = SMTP(handler, hostname="relay.test", loop=loop, **smtp_kwargs)
        connections.append(server)
        return server

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=implicit_tls)
    try:
        yield Relay(server.sockets[0].getsockname()[1], connections)
    finally:
        server.close()
        await server.wait_closed()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    options = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subprocess.run(
        [
            "openssl",
            *options,
            *("-subj", "/CN=relay.test"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def test_smtp_plain_delivery_reuses_one_session() -> None:
    handler = RecordingHandler()
    first = make_email("e1", recipients=["team@bank.example", "boss@bank.example"])
    second = make_email("e2")

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(
                host="127.0.0.1", port=relay.port, security="none", local_hostname="gw.test"
            )
            await transport.send(first)
            await transport.send(second)
            await transport.close()
            await transport.close()  # idempotent
            assert len(relay.connections) == 1
            assert relay.connections[0].session is not None
            assert relay.connections[0].session.host_name == "gw.test"

    run(main)

    assert [r.content for r in handler.received] == [first.raw, second.raw]
    assert handler.received[0].mail_from == "bounces@bank.example"
    assert handler.received[0].rcpt_tos == ["team@bank.example", "boss@bank.example"]
    assert handler.received[1].rcpt_tos == ["team@bank.example"]
    assert not handler.received[0].tls
    assert handler.quits == 1


def test_smtp_null_sender() -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            await transport.send(make_email(envelope_sender=""))
            await transport.close()

    run(main)

    assert handler.received[0].mail_from == "<>"


def test_smtp_reconnects_when_the_relay_dropped_the_session() -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            await transport.send(make_email("e1"))
            # The relay closes the idle session, as relays do after a while.
            first = relay.connections[0].transport
            assert first is not None
            first.close()
            await asyncio.sleep(0.05)
            await transport.send(make_email("e2"))
            await transport.close()
            assert len(relay.connections) == 2

    run(main)

    assert [r.content for r in handler.received] == [make_email("e1").raw, make_email("e2").raw]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_starttls_with_auth(certificate: Certificate, mechanism: str) -> None:
    handler = RecordingHandler()
    excluded = [m for m in ("PLAIN", "LOGIN") if m != mechanism]

    async def main() -> None:
        async with smtp_relay(
            handler,
            tls_context=certificate.server_context(),
            require_starttls=True,
            auth_required=True,
            authenticator=check_password,
            auth_exclude_mechanism=excluded,
        ) as relay:
            transport = SmtpRelayTransport(
                host="127.0.0.1",
                port=relay.port,
                security="starttls",
                username="relay-user",
                password="s3cret",
                tls_context=certificate.client_context(),
            )
            await transport.send(make_email())
            await transport.close()

    run(main)

    assert len(handler.received) == 1
    assert handler.received[0].tls
    assert handler.received[0].authenticated
    assert handler.received[0].content == make_email().raw


def test_smtp_implicit_tls(certificate: Certificate) -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler, implicit_tls=certificate.server_context()) as relay:
            transport = SmtpRelayTransport(
                host="127.0.0.1",
                port=relay.port,
                security="tls",
                tls_context=certificate.client_context(),
            )
            await transport.send(make_email())
            await transport.close()

    run(main)

    assert [r.content for r in handler.received] == [make_email().raw]


def test_smtp_wrong_password_is_temporary(certificate: Certificate) -> None:
    # It is the operator's setting that is wrong, not the email: keep it queued.
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(
            handler,
            tls_context=certificate.server_context(),
            auth_required=True,
            authenticator=check_password,
        ) as relay:
            transport = SmtpRelayTransport(
                host="127.0.0.1",
                port=relay.port,
                security="starttls",
                username="relay-user",
                password="wrong",
                tls_context=certificate.client_context(),
            )
            with pytest.raises(TransportError) as caught:
                await transport.send(make_email())
            await transport.close()
            assert not caught.value.permanent
            assert caught.value.code == 535

    run(main)

    assert handler.received == []


def test_smtp_untrusted_certificate_is_temporary(certificate: Certificate) -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler, tls_context=certificate.server_context()) as relay:
            # Default verification: the self-signed certificate is not trusted.
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="starttls")
            with pytest.raises(TransportError) as caught:
                await transport.send(make_email())
            await transport.close()
            assert not caught.value.permanent
            assert "certificate" in str(caught.value).lower()

    run(main)

    assert handler.received == []


def test_smtp_certificate_checks_can_be_disabled(certificate: Certificate) -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler, tls_context=certificate.server_context()) as relay:
            transport = SmtpRelayTransport(
                host="127.0.0.1", port=relay.port, security="starttls", validate_certs=False
            )
            await transport.send(make_email())
            await transport.close()

    run(main)

    assert len(handler.received) == 1
    assert handler.received[0].tls


def test_smtp_starttls_required_but_not_offered_is_temporary() -> None:
    # A relay (or someone in between) not offering STARTTLS must not get the email in clear.
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="starttls")
            with pytest.raises(TransportError) as caught:
                await transport.send(make_email())
            await transport.close()
            assert not caught.value.permanent

    run(main)

    assert handler.received == []


def test_smtp_none_does_not_attempt_starttls(certificate: Certificate) -> None:
    handler = RecordingHandler()

    async def main() -> None:
        async with smtp_relay(handler, tls_context=certificate.server_context()) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            await transport.send(make_email())
            await transport.close()

    run(main)

    assert not handler.received[0].tls


def send_expecting_error(handler: RecordingHandler, email: OutgoingEmail) -> TransportError:
    errors: list[TransportError] = []

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            try:
                await transport.send(email)
            except TransportError as exc:
                errors.append(exc)
            # The session is usable for the next email after a refusal.
            await transport.send(make_email("next", recipients=["ok@bank.example"]))
            await transport.close()

    run(main)
    assert len(errors) == 1, "send() should have failed"
    assert handler.received[-1].rcpt_tos == ["ok@bank.example"]
    return errors[0]


def test_smtp_recipient_550_is_permanent() -> None:
    handler = RecordingHandler(rcpt_replies={"gone@bank.example": "550 5.1.1 No such user"})

    error = send_expecting_error(handler, make_email(recipients=["gone@bank.example"]))

    assert error.permanent
    assert error.code == 550
    assert "No such user" in str(error)


def test_smtp_recipient_451_is_temporary() -> None:
    handler = RecordingHandler(rcpt_replies={"busy@bank.example": "451 4.3.0 Try again later"})

    error = send_expecting_error(handler, make_email(recipients=["busy@bank.example"]))

    assert not error.permanent
    assert error.code == 451


def test_smtp_all_refused_with_some_temporary_is_temporary() -> None:
    handler = RecordingHandler(
        rcpt_replies={
            "gone@bank.example": "550 5.1.1 No such user",
            "busy@bank.example": "451 4.3.0 Try again later",
        }
    )

    error = send_expecting_error(
        handler, make_email(recipients=["gone@bank.example", "busy@bank.example"])
    )

    assert not error.permanent
    assert error.code == 451


def test_smtp_partial_refusal_is_success(caplog: pytest.LogCaptureFixture) -> None:
    handler = RecordingHandler(rcpt_replies={"gone@bank.example": "550 5.1.1 No such user"})
    email = make_email(recipients=["gone@bank.example", "team@bank.example"])

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            await transport.send(email)
            await transport.close()

    run(main)

    assert [r.rcpt_tos for r in handler.received] == [["team@bank.example"]]
    assert "gone@bank.example: 550" in caplog.text


@pytest.mark.parametrize(
    ("reply", "permanent", "code"),
    [
        ("552 5.3.4 Message too big", True, 552),
        ("451 4.3.0 Queue full", False, 451),
        ("554 5.7.1 Rejected as spam", True, 554),
    ],
)
def test_smtp_data_refusal(reply: str, permanent: bool, code: int) -> None:
    handler = RecordingHandler(data_reply=reply)
    errors: list[TransportError] = []

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            try:
                await transport.send(make_email())
            except TransportError as exc:
                errors.append(exc)
            await transport.close()

    run(main)

    assert len(errors) == 1
    assert (errors[0].permanent, errors[0].code) == (permanent, code)


def test_smtp_sender_refused_5xx_is_permanent() -> None:
    handler = RecordingHandler()

    async def refuse_sender(
        server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "553 5.7.1 Sender address rejected"

    handler.handle_MAIL = refuse_sender  # type: ignore[attr-defined]
    errors: list[TransportError] = []

    async def main() -> None:
        async with smtp_relay(handler) as relay:
            transport = SmtpRelayTransport(host="127.0.0.1", port=relay.port, security="none")
            try:
                await transport.send(make_email())
            except TransportError as exc:
                errors.append(exc)
            await transport.close()

    run(main)

    assert [(e.permanent, e.code) for e in errors] == [(True, 553)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def test_smtp_closed_port_is_temporary() -> None:
    async def main() -> None:
        transport = SmtpRelayTransport(host="127.0.0.1", port=free_port(), security="none")
        with pytest.raises(TransportError) as caught:
            await transport.send(make_email())
        await transport.close()
        assert not caught.value.permanent
        assert caught.value.code is None

    run(main)


def test_smtp_silent_server_times_out_temporarily() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets; wait for the client to give up
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = SmtpRelayTransport(host="127.0.0.1", port=port, security="none", timeout=0.3)
        with pytest.raises(TransportError) as caught:
            await transport.send(make_email())
        await transport.close()
        server.close()
        await server.wait_closed()
        assert not caught.value.permanent

    run(main)


def test_smtp_greeting_554_is_temporary() -> None:
    # A relay refusing us outright says nothing about the email.
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.7.1 Go away\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = await asyncio.start_server(refuse, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = SmtpRelayTransport(host="127.0.0.1", port=port, security="none")
        with pytest.raises(TransportError) as caught:
            await transport.send(make_email())
        await transport.close()
        server.close()
        await server.wait_closed()
        assert (caught.value.permanent, caught.value.code) == (False, 554)

    run(main)


def test_smtp_no_recipients_is_permanent() -> None:
    transport = SmtpRelayTransport(host="127.0.0.1", port=free_port(), security="none")

    with pytest.raises(TransportError) as caught:
        asyncio.run(transport.send(make_email(recipients=[])))

    assert caught.value.permanent


def test_smtp_refuses_unsafe_settings() -> None:
    with pytest.raises(ValueError, match="without TLS"):
        SmtpRelayTransport(
            host="relay.example", port=25, security="none", username="u", password="p"
        )
    with pytest.raises(ValueError, match="both"):
        SmtpRelayTransport(host="relay.example", port=587, security="starttls", username="u")
    with pytest.raises(ValueError, match="security"):
        SmtpRelayTransport(host="relay.example", port=25, security="ssl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        SmtpRelayTransport(host="relay.example", port=0, security="none")
