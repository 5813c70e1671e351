"""One SMPP connection and bind: framing, sequence numbers, responses, keep-alive, unbind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Literal, NamedTuple

from smsbridge.carriers.smpp import pdu as p
from smsbridge.carriers.smpp.errors import status_name

log = logging.getLogger(__name__)

BindMode = Literal["transceiver", "transmitter", "receiver"]
# What a session does with a deliver_sm: commit it, then return the status to answer with.
# It gets the PDU's octets too, to log or park them when the content makes no sense.
DeliverHandler = Callable[[p.DeliverSm, bytes], Awaitable[int]]
# What it does with a deliver_sm that would not even decode: park the octets (committed) with
# the reason, so an operator can look at them; the SMSC then gets ESME_ROK and stops resending.
ParkHandler = Callable[[str, bytes], Awaitable[None]]


class Reply(NamedTuple):
    """A response: its header, its body (a PDU, or MalformedPdu), and its octets as received."""

    header: p.Header
    pdu: object
    raw: bytes


_BIND: dict[str, type[p.BindTransceiver] | type[p.BindTransmitter] | type[p.BindReceiver]] = {
    "transceiver": p.BindTransceiver,
    "transmitter": p.BindTransmitter,
    "receiver": p.BindReceiver,
}


class SessionClosed(ConnectionError):
    """The connection ended. `written` tells whether the request had left us before it did."""

    def __init__(self, message: str, *, written: bool) -> None:
        super().__init__(message)
        self.written = written


class BindRefused(ConnectionError):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {status_name(status)}")
        self.status = status


class SmppSession:
    """A bound SMPP session over one TCP (or TLS) connection."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        mode: BindMode,
        system_id: str,
        password: str,
        system_type: str = "",
        tls: bool = False,
        tls_verify: bool = True,
        response_timeout: float = 10.0,
        enquire_link_seconds: float = 30.0,
        on_deliver: DeliverHandler | None = None,
        on_malformed: ParkHandler | None = None,
        name: str = "smsc",
    ) -> None:
        self.host, self.port, self.mode, self.name = host, port, mode, name
        self._credentials = (system_id, password, system_type)
        self._tls = tls
        self._tls_verify = tls_verify
        self._timeout = response_timeout
        self._enquire_every = enquire_link_seconds
        self._on_deliver = on_deliver
        self._on_malformed = on_malformed
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._delivering: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self.close_reason = ""

    # -- life cycle ------------------------------------------------------------------------

    async def open(self) -> None:
        context: ssl.SSLContext | None = None
        if self._tls:
            context = ssl.create_default_context()
            if not self._tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=context), self._timeout
        )
        self._spawn(self._read_loop())
        system_id, password, system_type = self._credentials
        bind: p.BindTransceiver | p.BindTransmitter | p.BindReceiver = _BIND[self.mode](
            system_id=system_id, password=password, system_type=system_type
        )
        header = (await self.request(bind)).header
        if header.command_status != p.CommandStatus.ESME_ROK:
            await self.abort(f"bind refused ({header.command_status:#x})")
            raise BindRefused(header.command_status)
        self._spawn(self._keep_alive())

    async def close(self) -> None:
        """Unbind politely (the SMSC then stops sending us receipts), then hang up."""
        if self.closed.is_set():
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request(p.Unbind()), min(self._timeout, 5.0))
        # Let deliver_sm already being stored finish and be answered: a receipt committed but
        # never acknowledged would be sent again; one cut off before its commit would be lost
        # by an SMSC that does not resend.
        if self._delivering:
            await asyncio.wait(list(self._delivering), timeout=min(self._timeout, 5.0))
        await self.abort("unbound")

    async def abort(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        for sequence, future in list(self._pending.items()):
            if not future.done():
                future.set_exception(SessionClosed(reason, written=True))
            self._pending.pop(sequence, None)
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests --------------------------------------------------------------------------

    async def request(self, message: p.Pdu) -> Reply:
        """Send a request and wait for its response. Raises SessionClosed (with `written`) if
        the connection ends first, TimeoutError if the SMSC does not answer in time (the
        session is then aborted: a silent SMSC is a dead one)."""
        if self.closed.is_set() or self._writer is None:
            raise SessionClosed(self.close_reason or "not connected", written=False)
        self._sequence = p.next_sequence(self._sequence)
        sequence = self._sequence
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            self._writer.write(p.encode(message, sequence))
        except Exception as exc:
            self._pending.pop(sequence, None)
            raise SessionClosed(f"write failed: {exc}", written=False) from exc
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            self._pending.pop(sequence, None)
            await self.abort(f"no answer to {type(message).__name__} in {self._timeout:g}s")
            raise
        finally:
            self._pending.pop(sequence, None)

    def _respond(self, response: p.Pdu, sequence: int, status: int = 0) -> None:
        if self._writer is not None and not self.closed.is_set():
            self._writer.write(p.encode(response, sequence, status))

    # -- the read loop ---------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        framer = p.PduReader()
        reason = "connection closed by the SMSC"
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                for header, message, raw in framer.feed_raw(chunk):
                    self._dispatch(header, message, raw)
        except asyncio.CancelledError:
            raise
        except p.PduError as exc:
            # A command_length no PDU can have: nothing after it can be trusted, so this
            # connection ends (and the connector reconnects). Submits awaiting answers are in
            # doubt; deliver_sm not yet answered will be sent again by the SMSC.
            reason = f"the SMSC sent octets that are not SMPP: {exc}"
            log.warning("SMPP %s: %s; stream starts %s", self.name, reason, framer.rejected.hex())
        except Exception as exc:  # a broken stream: nothing after it can be trusted
            reason = f"connection failed: {exc}"
            log.warning("SMPP %s: %s", self.name, reason)
        await self.abort(reason)

    def _dispatch(self, header: p.Header, message: object, raw: bytes) -> None:
        if header.is_response:
            future = self._pending.get(header.sequence_number)
            if isinstance(message, p.MalformedPdu):
                log.warning(
                    "SMPP %s: unreadable %s (%s): %s",
                    self.name,
                    header.name,
                    message.detail,
                    raw.hex(),
                )
            if future is not None and not future.done():
                future.set_result(Reply(header, message, raw))
            else:
                log.warning(
                    "SMPP %s: %s for no request of ours (sequence %d): %s",
                    self.name,
                    header.name,
                    header.sequence_number,
                    raw.hex(),
                )
            return
        if isinstance(message, p.EnquireLink):
            self._respond(p.EnquireLinkResp(), header.sequence_number)
        elif isinstance(message, p.Unbind):
            self._respond(p.UnbindResp(), header.sequence_number)
            self._spawn(self.abort("the SMSC unbound"))
        elif isinstance(message, p.DeliverSm):
            self._track(self._deliver(header.sequence_number, message, raw))
        elif isinstance(message, p.MalformedPdu) and header.command_id == p.CommandId.DELIVER_SM:
            self._track(self._park(header.sequence_number, message, raw))
        else:
            status = (
                message.status
                if isinstance(message, p.MalformedPdu)
                else p.CommandStatus.ESME_RINVCMDID
            )
            log.warning(
                "SMPP %s: %s refused with %s: %s",
                self.name,
                header.name,
                status_name(status),
                raw.hex(),
            )
            self._respond(p.GenericNack(), header.sequence_number, status)

    def _track(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._delivering.add(task)
        task.add_done_callback(self._delivering.discard)

    async def _park(self, sequence: int, message: p.MalformedPdu, raw: bytes) -> None:
        log.warning("SMPP %s: unreadable deliver_sm (%s): %s", self.name, message.detail, raw.hex())
        status: int = p.CommandStatus.ESME_RX_T_APPN
        try:
            if self._on_malformed is not None:
                await self._on_malformed(f"unreadable deliver_sm: {message.detail}", raw)
                status = p.CommandStatus.ESME_ROK
        except Exception:
            log.exception("SMPP %s: an unreadable deliver_sm could not be parked", self.name)
        self._respond(p.DeliverSmResp(), sequence, status)

    async def _deliver(self, sequence: int, message: p.DeliverSm, raw: bytes) -> None:
        status = p.CommandStatus.ESME_RX_T_APPN
        try:
            if self._on_deliver is not None:
                status = p.CommandStatus(await self._on_deliver(message, raw))
        except Exception:
            # Not stored: a temporary error makes the SMSC deliver it again later.
            log.exception("SMPP %s: deliver_sm could not be stored", self.name)
        self._respond(p.DeliverSmResp(), sequence, status)

    async def _keep_alive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(self._enquire_every)
            try:
                await self.request(p.EnquireLink())
            except (TimeoutError, SessionClosed):
                return  # request() aborted the session; the connector reconnects
