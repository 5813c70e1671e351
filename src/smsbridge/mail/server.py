"""The receiving side of the email bridge: an aiosmtpd SMTP/LMTP server and our handler."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from smsbridge.mail.ports import InboundMailSink, ReceivedEmail, UnreadableEmail

log = logging.getLogger(__name__)

Channel = Literal["smtp", "lmtp"]

IDENT = "smsbridge"

# RFC 5321 §4.5.3.2.7 asks servers to wait at least 5 minutes for the next command; a shorter
# idle timeout makes slow but legitimate senders give up mid-transaction.
DEFAULT_TIMEOUT = 300.0

# How aiosmtpd hands over the null reverse-path of MAIL FROM:<>. It must stay "<>" inside the
# envelope because aiosmtpd treats an empty envelope.mail_from as "no MAIL command yet" and would
# refuse the RCPT commands that follow; it becomes "" only in the ReceivedEmail.
_NULL_SENDER = "<>"

REPLY_MAIL_OK = "250 2.1.0 OK"
REPLY_RCPT_OK = "250 2.1.5 OK"
REPLY_TOO_BIG = "552 5.3.4 Message too big"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TEMPFAIL = "451 4.3.0 Temporary failure, try again later"
REPLY_STORE_TEMPFAIL = "451 4.3.0 Could not store the message; try again later"


def _one_line(text: str) -> str:
    """Text safe inside a single reply line: a CR or LF coming from the sink (a reason, an id)
    would otherwise end our reply early and inject extra reply lines into the session."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _declared_size(mail_options: list[str]) -> int | None:
    """The SIZE= value of MAIL FROM (RFC 1870), if the client declared one."""
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isascii() and value.isdigit():
            return int(value)
    return None


def _peer_address(peer: object) -> str | None:
    """The client's IP address. aiosmtpd stores the transport's peername, a (host, port, ...)
    tuple for TCP, whatever its annotation says."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    if isinstance(peer, str) and peer:
        return peer
    return None


class BridgeHandler:
    """Our policy as aiosmtpd handler hooks: which recipients to take, how big a message may be,
    and handing the message to the sink. Instances are shared by all connections, so everything
    about one transaction lives in aiosmtpd's Envelope, never on the handler."""

    def __init__(
        self,
        sink: InboundMailSink,
        *,
        channel: Channel,
        max_message_bytes: int,
        max_recipients: int = 10,
    ) -> None:
        if channel not in ("smtp", "lmtp"):
            raise ValueError(f"channel must be 'smtp' or 'lmtp', not {channel!r}")
        if max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        if max_recipients <= 0:
            raise ValueError("max_recipients must be positive")
        self._sink = sink
        self._channel: Channel = channel
        self._max_message_bytes = max_message_bytes
        self._max_recipients = max_recipients

    @property
    def channel(self) -> Channel:
        return self._channel

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # aiosmtpd already refuses a SIZE over its data_size_limit before calling us; this
        # covers a handler whose limit is lower than the server's, and direct callers.
        size = _declared_size(mail_options)
        if size is not None and size > self._max_message_bytes:
            return REPLY_TOO_BIG
        # Having a handle_MAIL makes setting the envelope our job (aiosmtpd's hook contract).
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return REPLY_MAIL_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        # The sink does database work synchronously; a thread keeps the event loop (and every
        # other connection and the rest of the gateway) running meanwhile.
        try:
            reason = await asyncio.to_thread(self._sink.check_recipient, address)
        except Exception:
            log.exception("Checking recipient %r failed", address)
            return REPLY_TEMPFAIL
        if reason is not None:
            # Never relay: only what the sink accepts (addresses it serves) gets into the
            # envelope, so there is nothing for anyone to send elsewhere through us.
            return f"550 5.1.1 {_one_line(reason) or 'Recipient refused'}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        status = await self._take_message(session, envelope)
        if self._channel == "lmtp":
            # RFC 2033 §4.2: after DATA an LMTP server answers once per accepted recipient, in
            # RCPT order. aiosmtpd's LMTP pushes our return value as is (plus CRLF), so the
            # lines are joined here. The message is stored once for all, so all get one status.
            return "\r\n".join([status] * len(envelope.rcpt_tos))
        return status

    async def handle_exception(self, error: Exception) -> str:
        # Called by aiosmtpd for an exception escaping a command (a bug on our side). Its
        # default answer is a 500 quoting the exception text to the client; a temporary
        # failure instead keeps the details private and makes the sender retry, not bounce.
        log.error("Unexpected error in the mail server", exc_info=error)
        return REPLY_TEMPFAIL

    async def _take_message(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            # Only direct callers leave original_content unset; decode_data=False servers
            # put the same bytes in content.
            content = envelope.content
            if isinstance(content, str):
                raw = content.encode("utf-8", errors="surrogateescape")
            else:
                raw = content or b""
        # aiosmtpd's data_size_limit counts the dot-stuffed wire bytes and stops reading;
        # this check is on the message itself, for direct callers and a lower handler limit.
        if len(raw) > self._max_message_bytes:
            return REPLY_TOO_BIG
        sender = envelope.mail_from or ""
        email = ReceivedEmail(
            envelope_sender="" if sender == _NULL_SENDER else sender,
            # A recipient given twice is still one delivery; the envelope keeps the duplicate
            # because LMTP owes it a reply line of its own.
            recipients=list(dict.fromkeys(envelope.rcpt_tos)),
            raw=raw,
            channel=self._channel,
            peer=_peer_address(session.peer),
            helo=session.host_name,
        )
        try:
            email_id = await asyncio.to_thread(self._sink.store, email)
        except UnreadableEmail as unreadable:
            # Recorded (the account sees it); the client, who is there to hear it, is told why.
            log.info("Refused unreadable %s message %s", self._channel, unreadable.email_id)
            # ASCII only: the reason may quote the email, and replies are read by old clients.
            why = _one_line(unreadable.reason).encode("ascii", "backslashreplace").decode()
            return f"550 5.6.0 {why[:400] or 'Message cannot be read'}"
        except Exception:
            # Not stored: a 4xx makes the sending MTA keep the message and try again.
            log.exception(
                "Could not store a message from %r to %r", email.envelope_sender, email.recipients
            )
            return REPLY_STORE_TEMPFAIL
        log.info("Stored inbound %s message %s for %r", self._channel, email_id, email.recipients)
        return f"250 2.0.0 Message accepted {_one_line(email_id)}"


class _BridgeSMTP(SMTP):
    """aiosmtpd's SMTP protocol that stays in `live` while its command loop runs, so that
    MailServer.stop() can close connections still open: in Python 3.11 Server.close() only
    stops listening.

    It also takes DATA lines of any length up to the message size limit. RFC 5321 caps a line
    at 1,000 octets, but Outlook and others send longer lines in HTML parts; aiosmtpd refuses
    them with a bare "500 Line too long" and the reply is lost. Command lines keep their own
    limits (aiosmtpd checks them against command_size_limit separately)."""

    def __init__(
        self,
        handler: BridgeHandler,
        *,
        live: set[_BridgeSMTP],
        max_line_bytes: int,
        **kwargs: Any,
    ) -> None:
        # Read by aiosmtpd's __init__ to size its stream buffer, so it must be set first.
        self.line_length_limit = max_line_bytes
        super().__init__(handler, **kwargs)
        self._live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        task = self._handler_coroutine
        if task is not None and self not in self._live:
            self._live.add(self)
            task.add_done_callback(lambda _task: self._live.discard(self))

    async def close_and_wait(self) -> None:
        """Close the connection and wait until its command loop has finished."""
        if self.transport is not None:
            self.transport.close()
        task = self._handler_coroutine
        if task is not None:
            # connection_lost cancels the command loop; waiting for it lets it unwind while
            # the loop still runs, instead of leaving a pending task behind.
            await asyncio.gather(task, return_exceptions=True)


class _BridgeLMTP(_BridgeSMTP, LMTP):
    """The same for LMTP (LHLO instead of HELO/EHLO)."""


class MailServer:
    """An SMTP or LMTP server running inside the gateway's own event loop."""

    def __init__(
        self,
        handler: BridgeHandler,
        *,
        host: str,
        port: int,
        mode: Channel,
        hostname: str,
        max_message_bytes: int,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if mode not in ("smtp", "lmtp"):
            raise ValueError(f"mode must be 'smtp' or 'lmtp', not {mode!r}")
        # The handler shapes its DATA reply for the protocol (one line per recipient for
        # LMTP); a mismatch would desynchronise every client.
        if handler.channel != mode:
            raise ValueError(f"handler channel {handler.channel!r} does not match mode {mode!r}")
        if max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")
        self._handler = handler
        self._host = host
        self._port = port
        self._mode: Channel = mode
        self._hostname = hostname
        self._max_message_bytes = max_message_bytes
        self._timeout = timeout
        self._server: asyncio.Server | None = None
        self._live: set[_BridgeSMTP] = set()

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the mail server is already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._make_protocol(loop), self._host, self._port
        )
        log.info("%s server listening on %s:%d", self._mode.upper(), self._host, self.port)

    def _make_protocol(self, loop: asyncio.AbstractEventLoop) -> _BridgeSMTP:
        protocol_class = _BridgeLMTP if self._mode == "lmtp" else _BridgeSMTP
        return protocol_class(
            self._handler,
            live=self._live,
            max_line_bytes=self._max_message_bytes + 2,
            # Makes aiosmtpd advertise SIZE and stop buffering an oversized message (it then
            # answers 552 itself) rather than reading it whole into memory.
            data_size_limit=self._max_message_bytes,
            enable_SMTPUTF8=True,
            # Keep the message as bytes: we store exactly what was sent.
            decode_data=False,
            hostname=self._hostname,
            ident=IDENT,
            timeout=self._timeout,
            # Explicit, so aiosmtpd never goes looking for (or creating) a loop of its own.
            loop=loop,
        )

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the mail server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, close the connections still open and wait for them to end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()
        await asyncio.gather(*(conn.close_and_wait() for conn in list(self._live)))
        log.info("%s server stopped", self._mode.upper())
