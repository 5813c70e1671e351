"""API fixtures: a real HTTP server on 127.0.0.1, and The SMS Works' own OpenAPI document."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from smsbridge.app import Gateway

# The document The SMS Works' SDKs are generated from, kept in the shared folder beside the
# repository (a user's clone has none: the contract tests then skip).
SMSWORKS_SPEC = (
    Path(__file__).resolve().parents[3] / "shared" / "interop" / "smsworks-openapi-1.9.0.yaml"
)


@pytest.fixture(scope="session")
def smsworks_spec() -> Path:
    if not SMSWORKS_SPEC.is_file():
        pytest.skip(f"The SMS Works' OpenAPI document is not at {SMSWORKS_SPEC} (../shared).")
    return SMSWORKS_SPEC


@pytest.fixture
def live_api(gateway: Gateway) -> Iterator[str]:
    """The gateway's whole API served by uvicorn on a free loopback port; its base URL."""
    config = uvicorn.Config(
        gateway.api(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
