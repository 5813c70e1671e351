"""The trust rules, pure: who may answer, what authenticates an email, when to explain."""

from __future__ import annotations

import pytest

from smsbridge.conversations import trust
from smsbridge.conversations.trust import (
    ArcEvidence,
    Code,
    DmarcRecord,
    Evidence,
    Refusal,
    Verdict,
)

DOMAIN = "sms.acme.test"


def test_members_are_the_last_responseemail_else_the_number_default() -> None:
    assert trust.members(["alice@acme.example"], ["team@acme.example"]) == ["alice@acme.example"]
    assert trust.members(None, ["team@acme.example"]) == ["team@acme.example"]
    assert trust.members([], [" ", "Team@acme.example", "team@acme.example"]) == [
        "Team@acme.example"
    ]


def test_every_member_and_authorised_sender_may_answer() -> None:
    members = ["alice@acme.example", "bob@acme.example"]
    assert trust.may_answer("Bob@ACME.example", members, [])
    assert trust.may_answer("carol@partner.example", members, ["@partner.example"])
    assert not trust.may_answer("mallory@evil.example", members, ["@partner.example"])
    assert not trust.may_answer("alice@acme.example, bob@acme.example", members, [])


def test_a_reply_keeps_everyone_and_adds_whom_it_copied() -> None:
    after = trust.members_after_reply(
        ["alice@acme.example", "bob@acme.example"],
        "alice@acme.example",
        ["carol@acme.example", "reply+x@sms.acme.test", "BOB@acme.example"],
        DOMAIN,
    )
    assert after == ["alice@acme.example", "bob@acme.example", "carol@acme.example"]
    many = trust.members_after_reply(
        [], "a@x.example", [f"u{i}@x.example" for i in range(40)], DOMAIN
    )
    assert len(many) == trust.MAX_MEMBERS


def test_copies_go_to_the_other_members() -> None:
    assert trust.copy_recipients(
        ["alice@acme.example", "Bob@acme.example", "sms@sms.acme.test"],
        "ALICE@acme.example",
        DOMAIN,
    ) == ["Bob@acme.example"]


@pytest.mark.parametrize(
    ("evidence", "authenticated", "how"),
    [
        (Evidence("acme.example", trusted_network=True), True, "sent from a trusted network"),
        (Evidence("acme.example", trusted_results=True), True, "Authentication-Results"),
        (Evidence("acme.example", dkim_domains=("acme.example",)), True, "DKIM signature"),
        (Evidence("eu.acme.example", dkim_domains=("acme.example",)), True, "DKIM"),
        (
            Evidence(
                "eu.acme.example",
                dkim_domains=("acme.example",),
                dmarc=DmarcRecord("acme.example", adkim="s"),
            ),
            False,
            "no signature aligned",
        ),
        (Evidence("bank.co.uk", dkim_domains=("evil.co.uk",)), False, "no signature aligned"),
        (
            Evidence("acme.example", spf_result="pass", spf_domain="bounce.acme.example"),
            True,
            "SPF pass",
        ),
        (
            Evidence("acme.example", spf_result="pass", spf_domain="mailer.example"),
            False,
            "not aligned",
        ),
        (
            Evidence("acme.example", spf_result="softfail", spf_domain="acme.example"),
            False,
            "SPF: softfail",
        ),
        (
            Evidence(
                "acme.example",
                arc=ArcEvidence("pass", "google.com", True),
                trusted_sealers=("google.com",),
            ),
            True,
            "ARC",
        ),
        (
            Evidence(
                "acme.example",
                arc=ArcEvidence("pass", "google.com", False),
                trusted_sealers=("google.com",),
            ),
            False,
            "ARC",
        ),
        (
            Evidence(
                "acme.example",
                arc=ArcEvidence("pass", "lists.example", True),
                trusted_sealers=("google.com",),
            ),
            False,
            "not a trusted forwarder",
        ),
        (
            Evidence(
                "acme.example",
                arc=ArcEvidence("fail", "google.com", True),
                trusted_sealers=("google.com",),
            ),
            False,
            "ARC: fail",
        ),
        (Evidence("acme.example", trusted_results=False), False, "trusted server's checks"),
        (Evidence("acme.example"), False, "no DKIM signature"),
    ],
)
def test_verdict(evidence: Evidence, authenticated: bool, how: str) -> None:
    result = trust.verdict(evidence)
    assert result.authenticated is authenticated
    assert how in result.how


def test_refusals_are_explained_only_to_authenticated_people() -> None:
    refusal = Refusal(Code.SENDER_NOT_ALLOWED, "not on the conversation")
    yes, no = Verdict(True, "DKIM"), Verdict(False, "nothing")
    assert trust.should_explain(refusal, sender=yes, automatic=False)
    assert not trust.should_explain(refusal, sender=no, automatic=False)
    assert not trust.should_explain(refusal, sender=None, automatic=False)
    assert not trust.should_explain(refusal, sender=yes, automatic=True)
    assert not trust.should_explain(Refusal(Code.AUTOMATIC, "ooo"), sender=yes, automatic=False)
    # A future refusal (say, issue 13's suppressed destination) follows the same rule.
    assert trust.should_explain(
        Refusal("DESTINATION_SUPPRESSED", "opted out"), sender=yes, automatic=False
    )


def test_refusals_keep_their_code_in_what_is_recorded() -> None:
    assert Refusal("NOT_TEXT", "binary").recorded() == "NOT_TEXT: binary"
    refusal = trust.refused_for_message_service("INSUFFICIENT_CREDIT", "No credit.")
    assert refusal.code == "INSUFFICIENT_CREDIT"
    assert refusal.reason.endswith("nothing was charged.")
