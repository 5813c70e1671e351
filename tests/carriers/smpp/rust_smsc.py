"""Drive the second SMSC of the SMPP tests (rust_smsc_server.py, on the PyPI package smpp34).

    with RustSmsc(tmp_path) as smsc:
        ... connector port=smsc.port ...
        smsc.configure(crash_on_submit=1)
        smsc.restart()          # a new process on the same port, the same store

Skips the test when smpp34 is not installed (it is a dev dependency: scripts/bootstrap dev).
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RustSmsc:
    def __init__(self, directory: Path) -> None:
        pytest.importorskip("smpp34", reason="the smpp34 SMSC needs `scripts/bootstrap dev`")
        self.store = directory / "rust-smsc-store.json"
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RustSmsc:
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
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.carriers.smpp.rust_smsc_server",
                "--port",
                str(self.port),
                "--store",
                str(self.store),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "SMPP34_WORKER_THREADS": "1"},
        )
        ready = self._read(20.0)
        assert ready.get("ready") == self.port, ready

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise AssertionError(f"the smpp34 SMSC said nothing in {timeout} s")
        line = self._proc.stdout.readline()
        if not line:
            raise AssertionError(f"the smpp34 SMSC exited ({self._proc.poll()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        self._proc.stdin.flush()
        reply = self._read(10.0)
        if "error" in reply:
            raise AssertionError(f"smpp34 SMSC: {reply['error']}")
        return reply

    def state(self) -> dict[str, Any]:
        return self.call("state")

    def configure(self, **config: Any) -> dict[str, Any]:
        return self.call("config", **config)

    def deliver(self, source: str, destination: str, data: bytes, **fields: Any) -> int:
        status: int = self.call(
            "deliver",
            source=source,
            destination=destination,
            short_message_hex=data.hex(),
            **fields,
        )["status"]
        return status

    def wait_for(self, predicate: Callable[[dict[str, Any]], T], timeout: float = 10.0) -> T:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            value = predicate(state)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"smpp34 SMSC state never matched: {state}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self._proc is not None
        code = self._proc.wait(timeout)
        self._close()
        return code

    def restart(self) -> None:
        """A new SMSC process on the same port and the same store (what it accepted)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._close()
        self.start()

    def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        self._close()
