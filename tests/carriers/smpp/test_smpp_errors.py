"""The SMPP error table: defaults, per-connector overrides, and what the pipeline is told."""

from __future__ import annotations

import pytest

from smsbridge.carriers.smpp.errors import (
    CLASS_POLICIES,
    DEFAULT_TABLE,
    ErrorTable,
    Override,
    parse_code,
)
from smsbridge.carriers.smpp.pdu import CommandStatus as S


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (S.ESME_RTHROTTLED, "throttle"),
        (S.ESME_RMSGQFUL, "throttle"),
        (S.ESME_RSYSERR, "temporary"),
        (S.ESME_RX_T_APPN, "temporary"),
        (S.ESME_RINVBNDSTS, "temporary"),
        (S.ESME_RSUBMITFAIL, "permanent"),
        (S.ESME_RINVDSTADR, "permanent"),
        (S.ESME_RINVSRCADR, "permanent"),
        (S.ESME_RINVSRCTON, "permanent"),
        (S.ESME_RINVDCS, "permanent"),
        (S.ESME_RINVEXPIRY, "permanent"),
        (S.ESME_RX_P_APPN, "permanent"),
        (0x4AB, "temporary"),  # a vendor code nobody documents
    ],
)
def test_default_classes(status, error_class):
    assert ErrorTable().policy(status).error_class == error_class


def test_throttling_gets_many_slow_retries_and_system_errors_a_few():
    throttle, temporary = ErrorTable().policy(S.ESME_RTHROTTLED), ErrorTable().policy(8)
    assert throttle.retries >= 10 and throttle.delay_seconds >= 10
    assert 1 <= temporary.retries <= 3
    assert ErrorTable().policy(S.ESME_RSUBMITFAIL).retries == 0


def test_the_submit_error_carries_the_policy():
    error = ErrorTable().submit_error(S.ESME_RSYSERR, "ESME_RSYSERR (0x8)")
    assert not error.permanent and error.code == 8 and error.error_class == "temporary"
    assert (error.retries, error.delay_seconds) == (
        CLASS_POLICIES["temporary"].retries,
        CLASS_POLICIES["temporary"].delay_seconds,
    )
    assert ErrorTable().submit_error(S.ESME_RINVDSTADR, "x").permanent


def test_overrides_change_class_and_policy_of_one_code_only():
    table = ErrorTable(
        {
            S.ESME_RSUBMITFAIL: Override(error_class="temporary", retries=5),
            0x401: Override(error_class="permanent"),
            S.ESME_RTHROTTLED: Override(retries=50),
        }
    )
    submit_fail = table.policy(S.ESME_RSUBMITFAIL)
    assert (submit_fail.error_class, submit_fail.retries) == ("temporary", 5)
    assert submit_fail.delay_seconds == CLASS_POLICIES["temporary"].delay_seconds
    assert table.policy(0x401).error_class == "permanent"
    assert table.policy(S.ESME_RTHROTTLED).retries == 50
    assert table.policy(S.ESME_RTHROTTLED).error_class == "throttle"
    assert table.policy(S.ESME_RINVDSTADR).error_class == "permanent"
    assert table.is_known(0x401) and not ErrorTable().is_known(0x401)


@pytest.mark.parametrize(
    ("key", "code"), [("0x45", 0x45), ("69", 69), ("ESME_RSUBMITFAIL", 0x45), ("0X0401", 0x401)]
)
def test_parse_code(key, code):
    assert parse_code(key) == code


@pytest.mark.parametrize("key", ["ESME_RNOSUCH", "0", "forty", "-1", "0x"])
def test_parse_code_refuses(key):
    with pytest.raises(ValueError):
        parse_code(key)


def test_every_standard_code_has_a_class():
    assert all(int(code) in DEFAULT_TABLE for code in S if code != S.ESME_ROK)


def test_docs_show_the_default_table():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "smpp.md").read_text("utf-8")
    for code, error_class in DEFAULT_TABLE.items():
        if error_class != "permanent":
            assert f"`{S(code).name}` ({code:#x})" in text, S(code).name
    for policy in CLASS_POLICIES.values():
        if policy.retries:
            row = (
                f"| {policy.retries} | {policy.delay_seconds:g} s, {policy.max_delay_seconds:g} s |"
            )
            assert row in text, policy
