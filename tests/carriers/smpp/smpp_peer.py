"""Drive the SMPP test peer (peer/peer.js, a real SMPP 3.4 server from the npm package "smpp").

    with SmppPeer() as peer:
        carrier = SmppCarrier(host="127.0.0.1", port=peer.port, ...)
        peer.configure(throttle_next=1, id_format="decimal")
        ...
        state = peer.wait_for(lambda s: len(s["deliver_resps"]) == 1)

The peer's node_modules must be installed first: `npm ci --prefix tests/carriers/smpp/peer`.
See peer/README.md for the control API and the config keys.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

PEER_DIR = Path(__file__).resolve().parent / "peer"
INSTALL_COMMAND = "npm ci --prefix tests/carriers/smpp/peer"
_READY = re.compile(rb"^READY smpp=(\d+) control=(\d+)$")

T = TypeVar("T")


class SmppPeerError(RuntimeError):
    """The peer could not start, or its control API refused a request."""


def part(
    data: bytes,
    *,
    esm_class: int = 0,
    data_coding: int = 0,
    **tlvs: int | str,
) -> dict[str, Any]:
    """One deliver_sm for `SmppPeer.deliver`: raw short_message bytes, plus optional TLVs by the
    library's names (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum, ...)."""
    out: dict[str, Any] = {
        "short_message_hex": data.hex(),
        "esm_class": esm_class,
        "data_coding": data_coding,
    }
    if tlvs:
        out["tlvs"] = tlvs
    return out


class SmppPeer:
    """A `node peer.js` subprocess: an SMPP server on 127.0.0.1:`port`, scripted on `control_port`.

    A context manager; `start()`/`stop()` work too. Every control call raises SmppPeerError on a
    non-2xx answer."""

    def __init__(
        self,
        *,
        startup_timeout: float = 20.0,
        env: Mapping[str, str] | None = None,
        peer_dir: Path = PEER_DIR,
    ) -> None:
        self.startup_timeout = startup_timeout
        self.peer_dir = peer_dir
        self._env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None  # a temporary file: the peer's stderr, kept for error messages
        self._http: httpx.Client | None = None
        self.port = 0
        self.control_port = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> SmppPeer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._proc is not None:
            raise SmppPeerError("the SMPP peer is already running")
        node = shutil.which("node")
        if node is None:
            raise SmppPeerError("Node.js (`node`) is not on PATH; the SMPP test peer needs it")
        if not (self.peer_dir / "node_modules" / "smpp" / "package.json").is_file():
            raise SmppPeerError(
                f"the SMPP test peer's node_modules are missing in {self.peer_dir}; "
                f"run from the repository root: {INSTALL_COMMAND}"
            )
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        try:
            self._proc = subprocess.Popen(
                [node, "peer.js", "--exit-on-stdin-eof"],
                cwd=self.peer_dir,
                env={**os.environ, **self._env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
            self.port, self.control_port = self._await_ready()
            self._http = httpx.Client(
                base_url=f"http://127.0.0.1:{self.control_port}", timeout=10.0, trust_env=False
            )
        except BaseException:
            self.stop()
            raise

    def _await_ready(self) -> tuple[int, int]:
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SmppPeerError(
                        f"the SMPP peer printed no READY line in {self.startup_timeout} s"
                        f"{self._stderr_tail()}"
                    )
                if not sel.select(left):
                    continue
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    code = self._proc.wait(timeout=5)
                    raise SmppPeerError(
                        f"the SMPP peer exited with code {code} before READY{self._stderr_tail()}"
                    )
                buf += chunk
        line = buf.split(b"\n", 1)[0].strip()
        match = _READY.match(line)
        if match is None:
            raise SmppPeerError(f"unexpected first line from the SMPP peer: {line!r}")
        return int(match[1]), int(match[2])

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read()[-4000:].decode("utf-8", "replace").strip()
        return f"; its stderr:\n{text}" if text else ""

    def log(self) -> str:
        """The peer's stderr so far (every PDU when started with env={"PEER_DEBUG": "1"})."""
        return self._stderr_tail()

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()  # the peer exits on stdin EOF
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- control API -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._http is None:
            raise SmppPeerError("the SMPP peer is not running")
        response = self._http.request(method, path, json=body)
        if response.status_code >= 300:
            raise SmppPeerError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def state(self) -> dict[str, Any]:
        """binds, submits, delivers, deliver_resps, unbind_resps, enquire_links, max_in_flight,
        pending_receipts, errors, open_sessions, config."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def configure(self, **config: Any) -> dict[str, Any]:
        """Merge these keys into the peer's config (unknown keys are refused); returns it."""
        result: dict[str, Any] = self._call("POST", "/config", config)
        return result

    def reset(self) -> None:
        """Back to the default config; forget every record (open sessions stay open)."""
        self._call("POST", "/reset", {})

    def deliver(
        self,
        source: str,
        destination: str,
        parts: Sequence[Mapping[str, Any]],
        order: Sequence[int] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Send inbound deliver_sm PDUs (see `part()`) to a bound receiver/transceiver, in `order`
        (part indices) if given. `extra`: system_id, source_addr_ton/npi, dest_addr_ton/npi.
        Returns {session, system_id, sequences}."""
        body: dict[str, Any] = {
            "source": source,
            "destination": destination,
            "parts": list(parts),
            **extra,
        }
        if order is not None:
            body["order"] = list(order)
        result: dict[str, Any] = self._call("POST", "/deliver", body)
        return result

    def raw(self, data: bytes, system_id: str | None = None) -> dict[str, Any]:
        """Write `data` as it is to a bound receiver/transceiver session (garbage, on purpose)."""
        body: dict[str, Any] = {"hex": data.hex()}
        if system_id is not None:
            body["system_id"] = system_id
        result: dict[str, Any] = self._call("POST", "/raw", body)
        return result

    def drop(self) -> list[int]:
        """Destroy every open SMPP session (no unbind); returns their session numbers."""
        result: list[int] = self._call("POST", "/drop", {})["dropped"]
        return result

    def unbind(self) -> list[int]:
        """Send an SMSC-initiated unbind on every bound session."""
        result: list[int] = self._call("POST", "/unbind", {})["sent"]
        return result

    def enquire_link(self) -> list[int]:
        """Send an SMSC-initiated enquire_link on every bound session."""
        result: list[int] = self._call("POST", "/enquire_link", {})["sent"]
        return result

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], T],
        timeout: float = 5.0,
        interval: float = 0.02,
    ) -> T:
        """Poll state() until predicate(state) is truthy and return that value; on timeout raise
        AssertionError with the last state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            value = predicate(state)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"SMPP peer state never matched in {timeout} s: {state}")
            time.sleep(interval)
