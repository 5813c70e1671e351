"""Trust decisions of the email bridge (pure): who may answer, authentication, explanations.

Nothing here does I/O. The conversation service gathers the facts (rows, DNS answers already
looked up, the parsed email) and asks these functions what they mean, so every rule can be
tested in milliseconds and read in one place.

The rules, in short (docs/email-bridge.md says the same for users):
- A conversation's *members* are the addresses its emails go to: the responseemail of the last
  SMS sent to the customer (set by the API, or by the last email reply), else the Reply
  Number's default Response Email. Every member may answer, and so may the number's default
  Response Email and its `authorisedsenders` (addresses or @domains), even when the
  conversation's emails go elsewhere. An accepted reply
  never removes anyone: its From, To and Cc join the members already there.
- An email is authenticated when its From domain is vouched for: an aligned DKIM signature,
  an SPF pass for an aligned envelope domain (alignment as DMARC defines it, relaxed unless the
  domain's DMARC record says strict), a trusted server's Authentication-Results, a valid ARC
  chain sealed by a configured trusted forwarder whose results vouch for the From domain, or
  (SMTP only) a connection from a trusted network.
- A refusal is always recorded. It is explained by email only to a sender whose identity was
  authenticated, never to automatic mail, and never about anything but that sender's own email:
  an unauthenticated stranger cannot learn whether a conversation exists, and a forged From
  address never receives backscatter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from smsbridge.mail.checks import sender_allowed
from smsbridge.mail.domains import aligned, normalise_domain

# The most addresses a conversation keeps (the API's own limit for responseemail).
MAX_MEMBERS = 20


class Code(StrEnum):
    """Why an email did not become an SMS. Stored as the reason's prefix; stable."""

    UNREADABLE = "UNREADABLE"
    TOO_COMPLEX = "TOO_COMPLEX"
    TOO_SLOW = "TOO_SLOW"
    NOT_TEXT = "NOT_TEXT"
    AMBIGUOUS_AUTHOR = "AMBIGUOUS_AUTHOR"
    AUTOMATIC = "AUTOMATIC"
    UNKNOWN_CONVERSATION = "UNKNOWN_CONVERSATION"
    REVOKED_ADDRESS = "REVOKED_ADDRESS"
    NUMBER_RELEASED = "NUMBER_RELEASED"
    SENDER_NOT_ALLOWED = "SENDER_NOT_ALLOWED"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    EMPTY_TEXT = "EMPTY_TEXT"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_MANY_NUMBERS = "TOO_MANY_NUMBERS"
    NO_REPLY_NUMBER = "NO_REPLY_NUMBER"
    # The message service's own refusals (no credit, a destination not allowed, too long...)
    # keep their API codes; this one stands for "any of those" in the rules below.
    NOT_SENDABLE = "NOT_SENDABLE"


@dataclass(frozen=True)
class Refusal:
    """One reason an email (or one SMS of it) was not sent."""

    code: str
    reason: str  # a sentence for the writer and for the account's pages

    def recorded(self) -> str:
        return f"{self.code}: {self.reason}"


# --- who may answer ------------------------------------------------------------------------


def members(last_response_emails: Sequence[str] | None, number_default: Sequence[str]) -> list[str]:
    """Where the conversation's emails go: the last outbound SMS's responseemail, else the
    number's default Response Email (empty: nobody, the SMS waits in the inbox)."""
    chosen = list(last_response_emails or []) or list(number_default)
    return unique_addresses(a.strip() for a in chosen if a.strip())


def may_answer(author: str, conversation_members: Iterable[str], authorised: Iterable[str]) -> bool:
    """Whether this address may answer the conversation by email."""
    return sender_allowed(author, [*conversation_members, *authorised])


def members_after_reply(
    previous: Sequence[str], author: str, on_the_reply: Sequence[str], mail_domain: str
) -> list[str]:
    """The members once an accepted reply went out: nobody leaves; the author and the
    reply's To/Cc join (never the gateway's own addresses), up to MAX_MEMBERS."""
    domain = "@" + mail_domain.lower()
    joined = [a for a in [*previous, author, *on_the_reply] if not a.lower().endswith(domain)]
    return unique_addresses(joined)[:MAX_MEMBERS]


def copy_recipients(
    conversation_members: Sequence[str], author: str, mail_domain: str
) -> list[str]:
    """Who gets a copy of what a member sent: every other member (each may answer too)."""
    domain = "@" + mail_domain.lower()
    return [
        a
        for a in unique_addresses(conversation_members)
        if a.lower() != author.lower() and not a.lower().endswith(domain)
    ]


def unique_addresses(addresses: Iterable[str]) -> list[str]:
    """Each address once (compared without case), in order."""
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


# --- authentication ------------------------------------------------------------------------


@dataclass(frozen=True)
class DmarcRecord:
    """The parts of a DMARC record (RFC 7489 section 6.3) that decide alignment."""

    domain: str  # where it was found: the From domain or its organisational domain
    adkim: str = "r"  # "r" relaxed or "s" strict
    aspf: str = "r"
    policy: str = "none"


@dataclass(frozen=True)
class ArcEvidence:
    chain: str  # "pass", "fail" or "none" (dkimpy's chain validation)
    sealer: str | None  # d= of the newest ARC-Seal
    vouched: bool  # that instance's ARC-Authentication-Results pass for the From domain
    detail: str = ""


@dataclass(frozen=True)
class Evidence:
    """What the checks found about one email; gathered by mail.authentication."""

    author_domain: str
    trusted_network: bool = False  # an SMTP client in mail.inbound.trusted_networks
    trusted_results: bool | None = None  # a trusted Authentication-Results: pass/fail/absent
    dkim_domains: tuple[str, ...] = ()  # d= of every DKIM signature that verified
    dkim_detail: str = ""
    spf_result: str | None = None  # pyspf's word, None when not checked
    spf_domain: str = ""  # the domain SPF was checked for (MAIL FROM, else HELO)
    dmarc: DmarcRecord | None = None
    arc: ArcEvidence | None = None
    trusted_sealers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Verdict:
    authenticated: bool
    how: str  # what vouched, or why nothing did


def verdict(evidence: Evidence) -> Verdict:
    """Whether the From domain of an email is vouched for, and by what."""
    author = normalise_domain(evidence.author_domain)
    if evidence.trusted_network:
        return Verdict(True, "sent from a trusted network")
    if evidence.trusted_results is True:
        return Verdict(True, "Authentication-Results from a trusted server")
    dmarc = evidence.dmarc or DmarcRecord(author)
    for domain in evidence.dkim_domains:
        if aligned(domain, author, dmarc.adkim):
            return Verdict(True, f"DKIM signature of {domain}")
    if evidence.spf_result == "pass" and aligned(evidence.spf_domain, author, dmarc.aspf):
        return Verdict(True, f"SPF pass for {evidence.spf_domain}")
    arc = evidence.arc
    trusted = {normalise_domain(s) for s in evidence.trusted_sealers}
    if (
        arc is not None
        and arc.chain == "pass"
        and arc.sealer is not None
        and normalise_domain(arc.sealer) in trusted
        and arc.vouched
    ):
        return Verdict(True, f"forwarded by {arc.sealer}, which vouched for {author} (ARC)")
    failures = []
    if evidence.dkim_domains:
        failures.append("DKIM: no signature aligned with " + author)
    elif evidence.dkim_detail:
        failures.append("DKIM: " + evidence.dkim_detail)
    if evidence.spf_result is not None:
        if evidence.spf_result == "pass":
            failures.append(f"SPF: pass for {evidence.spf_domain}, not aligned with {author}")
        else:
            failures.append(f"SPF: {evidence.spf_result} for {evidence.spf_domain or '?'}")
    if arc is not None and arc.chain != "none":
        if arc.sealer is not None and normalise_domain(arc.sealer) not in trusted:
            failures.append(f"ARC: sealed by {arc.sealer}, not a trusted forwarder")
        else:
            failures.append(f"ARC: {arc.chain}{' ' + arc.detail if arc.detail else ''}")
    if evidence.trusted_results is False:
        failures.append("the trusted server's checks failed")
    failures += evidence.notes
    return Verdict(False, "; ".join(failures) or "no DKIM signature, SPF pass or trusted result")


# --- explaining refusals -------------------------------------------------------------------


def should_explain(refusal: Refusal, *, sender: Verdict | None, automatic: bool) -> bool:
    """Whether to email the writer about a refusal: only to an authenticated sender (so never
    backscatter to a forged address, and nothing learnt by a stranger), never to automatic
    mail (answering robots is how loops start)."""
    if automatic or refusal.code == Code.AUTOMATIC:
        return False
    return sender is not None and sender.authenticated


def refused_for_message_service(code: str, message: str) -> Refusal:
    """A refusal the message service made (no credit, not allowed, too long): its code and
    sentence as the API gives them, and a note that nothing was charged."""
    if "nothing was charged" in message.lower():
        return Refusal(code, message)  # it says so already (an opt-out's refusal does)
    return Refusal(code, f"{message} Nothing was sent and nothing was charged.")
