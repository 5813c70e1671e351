"""What a submit_sm_resp's command_status means for the message: the default error table, the
per-connector overrides, and the SubmitError the pipeline acts on (pure, no I/O).

The defaults follow what gateways with years on real SMSCs do. Jasmin retries ESME_RTHROTTLED
20 times 30 s apart, ESME_RSYSERR and ESME_RMSGQFUL twice, and nothing else; Kannel treats
throttling and a full queue as "slow down", ESME_RSYSERR and ESME_RX_T_APPN as temporary, and
every other refusal as final. So here:

- throttle: the SMSC wants less traffic. The connection slows down and the message is retried
  many times, slowly.
- temporary: the SMSC had a problem, not the message. A few retries with backoff.
- permanent: the message itself is refused (addresses, length, data_coding, submit failed,
  ...): sending the same bytes again gets the same answer, so it is REJECTED and refunded.

Codes no table names (vendor codes 0x400-0x4FF and anything else) are temporary: a code we
cannot read is as often "route down" as "bad number", and two retries cost little.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from smsbridge.carriers.base import SubmitError
from smsbridge.carriers.smpp.pdu import CommandStatus

ErrorClass: TypeAlias = Literal["throttle", "temporary", "permanent"]


@dataclass(frozen=True)
class ErrorPolicy:
    error_class: ErrorClass
    retries: int
    """Retries a message gets in all after errors of this policy (0 for permanent)."""
    delay_seconds: float
    """Wait before the first retry; it doubles per failure up to max_delay_seconds."""
    max_delay_seconds: float


CLASS_POLICIES: Final[Mapping[ErrorClass, ErrorPolicy]] = MappingProxyType(
    {
        "throttle": ErrorPolicy("throttle", 20, 30.0, 300.0),
        "temporary": ErrorPolicy("temporary", 2, 30.0, 120.0),
        "permanent": ErrorPolicy("permanent", 0, 0.0, 0.0),
    }
)

S = CommandStatus
_THROTTLE: Final = (S.ESME_RTHROTTLED, S.ESME_RMSGQFUL)
_TEMPORARY: Final = (
    S.ESME_RSYSERR,
    S.ESME_RX_T_APPN,
    S.ESME_RUNKNOWNERR,
    S.ESME_RDELIVERYFAILURE,
    S.ESME_RINVSCHED,
    # Bind-state confusion: the connector also rebinds (see REBIND_STATUSES).
    S.ESME_RINVBNDSTS,
    S.ESME_RALYBND,
    S.ESME_RBINDFAIL,
)
# After these the session is not to be trusted with more submits: reconnect.
REBIND_STATUSES: Final = frozenset({S.ESME_RINVBNDSTS, S.ESME_RALYBND, S.ESME_RBINDFAIL})

DEFAULT_TABLE: Final[Mapping[int, ErrorClass]] = MappingProxyType(
    {
        **{int(code): "permanent" for code in CommandStatus if code != S.ESME_ROK},
        **{int(code): "throttle" for code in _THROTTLE},
        **{int(code): "temporary" for code in _TEMPORARY},
    }
)
UNKNOWN_CODE_CLASS: Final[ErrorClass] = "temporary"

_CODE: Final = re.compile(r"^(0[xX][0-9A-Fa-f]{1,8}|[0-9]{1,10}|ESME_[A-Z0-9_]+)$")


def parse_code(key: str) -> int:
    """A command_status from a table key: "0x45", "69" or "ESME_RSUBMITFAIL"."""
    text = key.strip()
    if not _CODE.match(text):
        raise ValueError(f"{key!r} is not a command_status: write 0x45, 69 or ESME_RSUBMITFAIL")
    if text.startswith("ESME_"):
        try:
            return int(CommandStatus[text])
        except KeyError:
            raise ValueError(f"{key!r} is not an SMPP 3.4 command_status name") from None
    value = int(text, 16) if text[:2].lower() == "0x" else int(text)
    if not 0 < value <= 0xFFFFFFFF:
        raise ValueError(f"{key!r} is not a command_status (1 to 0xFFFFFFFF)")
    return value


@dataclass(frozen=True)
class Override:
    """One connector's word on one code; None keeps the default."""

    error_class: ErrorClass | None = None
    retries: int | None = None
    delay_seconds: float | None = None
    max_delay_seconds: float | None = None


class ErrorTable:
    """The default table with one connector's overrides applied."""

    def __init__(self, overrides: Mapping[int, Override] | None = None) -> None:
        self._overrides = dict(overrides or {})

    def policy(self, status: int) -> ErrorPolicy:
        override = self._overrides.get(status, Override())
        error_class = override.error_class or DEFAULT_TABLE.get(status, UNKNOWN_CODE_CLASS)
        policy = CLASS_POLICIES[error_class]
        return replace(
            policy,
            retries=policy.retries if override.retries is None else override.retries,
            delay_seconds=(
                policy.delay_seconds if override.delay_seconds is None else override.delay_seconds
            ),
            max_delay_seconds=(
                policy.max_delay_seconds
                if override.max_delay_seconds is None
                else override.max_delay_seconds
            ),
        )

    def is_known(self, status: int) -> bool:
        return status in DEFAULT_TABLE or status in self._overrides

    def submit_error(self, status: int, detail: str) -> SubmitError:
        policy = self.policy(status)
        return SubmitError(
            permanent=policy.error_class == "permanent",
            code=status,
            detail=detail,
            retries=policy.retries,
            delay_seconds=policy.delay_seconds,
            max_delay_seconds=policy.max_delay_seconds,
            error_class=policy.error_class,
        )


def status_name(status: int) -> str:
    try:
        return f"{CommandStatus(status).name} ({status:#x})"
    except ValueError:
        return f"{status:#x}"


def table_rows() -> list[tuple[str, str]]:
    """(code, class) for every code the default table names: what docs/smpp.md shows."""
    return [(status_name(code), DEFAULT_TABLE[code]) for code in sorted(DEFAULT_TABLE)]
