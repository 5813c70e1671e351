"""The one settings model: defaults, then a TOML file, then SMSBRIDGE_* environment variables."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "SMSBRIDGE_"
ENV_NESTED_DELIMITER = "__"


class _Section(BaseModel):
    # A misspelt option must fail loudly at start, not silently keep its default.
    model_config = ConfigDict(extra="forbid")


class HttpSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8080, description="Port the HTTP API listens on.")
    public_base_url: str = Field(
        "",
        description=(
            "The address people and providers reach the gateway at (https://sms.example.com), "
            "when a proxy stands in front; empty: where the request arrived."
        ),
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description=(
            "Mark the account page's cookies Secure (sent over HTTPS only): auto = when "
            "public_base_url is https, or, without it, when the request came over https."
        ),
    )


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite:///data/smsbridge.db",
        description=(
            "SQLAlchemy URL. sqlite:///path for the embedded default, "
            "postgresql+psycopg://user@host/db for PostgreSQL."
        ),
    )
    auto_migrate: bool = Field(True, description="Apply pending migrations when `serve` starts.")


class SimulatorSettings(_Section):
    receipt_delay_seconds: float = Field(
        1.0, description="Delay before the simulated carrier reports delivery."
    )
    submit_delay_ms: float = Field(
        0.0, description="Extra latency per submitted batch, to imitate a slow carrier."
    )
    poll_interval_seconds: float = Field(
        0.2, description="How often the simulator looks for due receipts."
    )


IdBase = Literal["text", "hex", "decimal"]
AddressKind = Literal["international", "national", "short_code", "alphanumeric"]


class SmppErrorSettings(_Section):
    error_class: Literal["throttle", "temporary", "permanent"] | None = Field(
        None, alias="class", description="throttle, temporary or permanent."
    )
    retries: int | None = Field(None, ge=0, description="Retries a message gets in all.")
    delay_seconds: float | None = Field(None, ge=0, description="First wait before a retry.")
    max_delay_seconds: float | None = Field(None, ge=0, description="Longest wait.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SmppConnectorSettings(_Section):
    name: str = Field("smsc", description="A name for logs and metrics.")
    host: str = Field("127.0.0.1", description="SMSC host.")
    port: int = Field(2775, description="SMSC port.")
    tls: bool = Field(False, description="Connect with TLS.")
    tls_verify: bool = Field(True, description="Verify the SMSC's TLS certificate.")
    system_id: str = Field("", description="Bind system_id (the login).")
    password: str = Field("", description="Bind password.")
    system_type: str = Field("", description="Bind system_type.")
    bind_mode: Literal["transceiver", "transmitter_receiver"] = Field(
        "transceiver", description="One transceiver bind, or a transmitter and a receiver."
    )
    number_format: Literal["international", "national"] = Field(
        "international",
        description="How numbers go in source_addr/destination_addr: international digits "
        "(TON 1), or numbers of billing.home_region in national format (TON 2).",
    )
    ton_npi: dict[
        Literal["international", "national", "short_code", "alphanumeric"], tuple[int, int]
    ] = Field(
        default_factory=dict,
        description="TON and NPI per kind of address, over the defaults international [1, 1], "
        "national [2, 1], short_code [3, 0], alphanumeric [5, 0].",
    )
    source_ton: int | None = Field(
        None, description="Source TON for every sender; empty: chosen by what the sender is."
    )
    source_npi: int | None = Field(
        None, description="Source NPI for every sender; empty: chosen by what the sender is."
    )
    dest_ton: int | None = Field(
        None, description="Destination TON for every number; empty: by number_format."
    )
    dest_npi: int | None = Field(
        None, description="Destination NPI for every number; empty: by number_format."
    )
    throughput_per_second: float = Field(
        0.0, description="Most submit_sm per second on this connection (0: no limit)."
    )
    window_size: int = Field(10, description="Most submits awaiting an answer at once.")
    enquire_link_seconds: float = Field(30.0, description="Keep-alive interval.")
    response_timeout_seconds: float = Field(
        10.0, description="An answer later than this means the session is dead."
    )
    reconnect_min_seconds: float = Field(1.0, description="First wait before reconnecting.")
    reconnect_max_seconds: float = Field(60.0, description="Longest wait between reconnects.")
    destinations: list[str] = Field(
        default_factory=list,
        description="Which destinations it serves: E.164 prefixes (+44) or countries (GB). "
        "Empty: all.",
    )
    senders: list[str] = Field(
        default_factory=list, description="Which senders it serves. Empty: all."
    )
    gsm7_packed: bool = Field(False, description="Pack GSM-7 septets (most SMSCs want unpacked).")
    gsm7_data_coding: Literal[0, 1, 3] = Field(
        0,
        description="data_coding for GSM-7 messages: 0 (SMSC default alphabet, GSM septets), "
        "1 (IA5/ASCII) or 3 (Latin-1), as the SMSC wants.",
    )
    flash_alt_dcs: bool = Field(
        False,
        description="Flash (class 0) SMS as data_coding 0xF0 instead of 0x10 (GSM-7 only; "
        "UCS-2 flash is always 0x18).",
    )
    validity_format: Literal["relative", "absolute", "none"] = Field(
        "relative",
        description="How validity_period is sent: relative (immune to clock skew), absolute "
        "(UTC), or none (the SMSC's default applies).",
    )
    errors: dict[str, SmppErrorSettings] = Field(
        default_factory=dict,
        description="Per command_status overrides of the error table, keyed by code "
        '("0x45", "69" or "ESME_RSUBMITFAIL"); see docs/smpp.md.',
    )
    receipt_date_offset_minutes: int = Field(
        0,
        description="The SMSC writes receipt dates at UTC plus this many minutes (its local "
        "time); used to match receipts to in-doubt messages.",
    )

    @field_validator("errors")
    @classmethod
    def _codes_are_command_statuses(
        cls, value: dict[str, SmppErrorSettings]
    ) -> dict[str, SmppErrorSettings]:
        from smsbridge.carriers.smpp.errors import parse_code

        for key in value:
            parse_code(key)  # raises ValueError, which pydantic reports with the setting's name
        return value

    submit_id_base: IdBase = Field(
        "text", description="How the SMSC writes message ids in submit_sm_resp."
    )
    receipt_id_base: IdBase = Field(
        "text", description="How it writes them in receipts (SMSCs often mix hex and decimal)."
    )


class SmppSettings(_Section):
    connectors: list[SmppConnectorSettings] = Field(
        default_factory=list, description="SMPP connections ([[carrier.smpp.connectors]])."
    )
    inbound_part_timeout_seconds: float = Field(
        300.0,
        description="How long to wait for the missing parts of a long inbound SMS before "
        "delivering what arrived, marked.",
    )
    inbound_duplicate_window_seconds: float = Field(
        180.0,
        description="The same SMS (sender, number and text) arriving again within this time "
        "is the SMSC resending one whose deliver_sm_resp it missed, and is stored once.",
    )


class TwilioAccountSettings(_Section):
    name: str = Field(
        "twilio",
        description="A name for routes, logs and metrics; its webhooks are under "
        "/v1/carrier/<name>/ (letters, digits, - and _).",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
    )
    account_sid: str = Field("", description="The Twilio account SID (AC...).")
    auth_token: str = Field(
        "", description="The account's Auth Token: API login and webhook signature key."
    )
    numbers: list[str] = Field(
        default_factory=list,
        description="Reply Numbers held at this Twilio account (E.164): SMS from them go out "
        "here, and SMS to them are accepted only from here.",
    )
    messaging_service_sid: str = Field(
        "",
        description="Send through this Messaging Service (MG...) instead of naming the "
        "sender; empty: From is the message's sender.",
    )
    api_base_url: str = Field(
        "https://api.twilio.com",
        description="Where Twilio's REST API is (change only for a test double or a proxy).",
    )
    timeout_seconds: float = Field(30.0, description="Deadline of one request to Twilio.")
    max_concurrent_requests: int = Field(
        10, ge=1, description="Requests to Twilio in flight at once (Twilio queues the rest)."
    )


class TwilioSettings(_Section):
    accounts: list[TwilioAccountSettings] = Field(
        default_factory=list, description="Twilio accounts ([[carrier.twilio.accounts]])."
    )


class AndroidPhoneSettings(_Section):
    name: str = Field(
        "android",
        description="A name for routes, logs and metrics; its webhooks are under "
        "/v1/carrier/<name>/ (letters, digits, - and _).",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
    )
    base_url: str = Field(
        "https://api.sms-gate.app/3rdparty/v1",
        description="The app's API: http://<phone>:8080 in local-server mode, "
        "https://api.sms-gate.app/3rdparty/v1 (or your private server) in cloud mode.",
    )
    username: str = Field("", description="The API login the app shows.")
    password: str = Field("", description="The API password the app shows.")
    webhook_signing_key: str = Field(
        "",
        description="The app's webhook signing key (Settings > Webhooks): webhooks without a "
        "valid X-Signature for it are refused.",
    )
    webhook_max_age_seconds: float = Field(
        300.0, description="A webhook whose X-Timestamp is older than this is a replay: refused."
    )
    register_webhooks: bool = Field(
        True,
        description="Register our webhook URL for sms:received, sms:sent, sms:delivered and "
        "sms:failed with the app at start (retried until the phone answers).",
    )
    numbers: list[str] = Field(
        default_factory=list,
        description="Reply Numbers of this phone's SIMs (E.164): SMS from them go out here, and "
        "SMS to them are accepted only from here.",
    )
    sims: dict[str, int] = Field(
        default_factory=dict,
        description='Which SIM slot (1-3) sends each Reply Number, e.g. sims = { "+447700900001" '
        "= 2 }; others go by the phone's default SIM.",
    )
    max_per_hour_per_sim: int = Field(
        100,
        ge=1,
        description="Most SMS one SIM sends per hour (operators and Android cap it); counted in "
        "the database, so restarts and several workers respect it.",
    )
    timeout_seconds: float = Field(30.0, description="Deadline of one request to the app.")


class AndroidSettings(_Section):
    phones: list[AndroidPhoneSettings] = Field(
        default_factory=list, description="Android phones ([[carrier.android.phones]])."
    )


class RouteSettings(_Section):
    carrier: str = Field(
        description="The carrier this route sends through: a Twilio account's or Android "
        'phone\'s name, "smpp" (all SMPP connectors) or "simulator".'
    )
    destinations: list[str] = Field(
        default_factory=list,
        description="Destinations it serves: E.164 prefixes (+44) or countries (GB). Empty: all.",
    )
    senders: list[str] = Field(default_factory=list, description="Senders it serves. Empty: all.")
    priority: int = Field(
        100, description="Lower goes first; the next route is the failover when this fails."
    )


class RoutingSettings(_Section):
    failures_to_mark_down: int = Field(
        3,
        ge=1,
        description="Temporary failures in a row after which a carrier is taken as down and "
        "tried after the others.",
    )
    down_seconds: float = Field(
        30.0, description="How long a carrier taken as down is tried only when no other can."
    )
    recent_failure_window_seconds: float = Field(
        300.0, description="Failures within this time are shown as recent in the health report."
    )


class CarrierSettings(_Section):
    kind: Literal["simulator", "smpp", "twilio", "android", "routed"] = Field(
        "simulator",
        description="Which carrier sends SMS: the simulator, SMPP connectors, Twilio accounts, "
        "Android phones, or routed (every carrier configured, by carrier.routes, with "
        "failover).",
    )
    simulator: SimulatorSettings = SimulatorSettings()
    smpp: SmppSettings = SmppSettings()
    twilio: TwilioSettings = TwilioSettings()
    android: AndroidSettings = AndroidSettings()
    routes: list[RouteSettings] = Field(
        default_factory=list,
        description="Routes of kind = routed ([[carrier.routes]]); empty: every configured "
        "carrier in turn, in the order above.",
    )
    routing: RoutingSettings = RoutingSettings()


class PipelineSettings(_Section):
    workers: int = Field(1, description="Outbound worker tasks in this process.")
    batch_size: int = Field(500, description="Messages one worker claims per round.")
    poll_interval_seconds: float = Field(
        0.2, description="Idle wait between claims when the queue is empty."
    )
    in_flight_timeout_seconds: float = Field(
        60.0,
        description=(
            "A message claimed longer ago than this, by a worker that never finished, is "
            "reconciled with the carrier instead of being resent blindly."
        ),
    )
    max_retries: int = Field(
        10,
        description="Retries a message gets after temporary submit errors, when the carrier "
        "sets no limit of its own (SMPP sets one per error code).",
    )
    retry_delay_seconds: float = Field(
        2.0, description="First wait before a retry; it doubles per failure (default policy)."
    )
    max_retry_delay_seconds: float = Field(
        300.0, description="Longest wait between retries (default policy)."
    )


class BillingSettings(_Section):
    home_region: str = Field(
        "GB", description="ISO country of the gateway: national numbers and domestic rates."
    )
    rates_file: str = Field(
        "", description="TOML rate table overriding the shipped one (empty: shipped table)."
    )
    smart_encoding: bool = Field(
        False,
        description="Replace look-alike characters with GSM ones when that avoids UCS-2.",
    )


class ApiSettings(_Section):
    max_schedule_days: int = Field(
        90, description="How far ahead a message may be scheduled, in days."
    )
    max_batch_size: int = Field(5000, description="Most destinations in one batch.")
    max_content_length: int = Field(1280, description="Most characters in one message.")
    max_request_bytes: int = Field(
        10_000_000, description="Largest request body the HTTP server reads (413 above it)."
    )
    max_json_depth: int = Field(32, description="Deepest nesting a JSON request body may have.")
    max_metadata_bytes: int = Field(
        4096, description="Largest `metadata` of one message, in bytes of compact JSON."
    )
    max_metadata_depth: int = Field(10, description="Deepest nesting `metadata` may have.")
    max_page_bytes: int = Field(
        10_000_000,
        description=(
            "Most bytes of records one search answer holds; a page cut short says where to "
            "go on in the X-Smsbridge-Next-Skip header."
        ),
    )
    timezone: str = Field(
        "Europe/London",
        description=(
            "Time zone of the dates the SMS Works API writes (JavaScript date strings, as "
            "The SMS Works does); dates read carry their own offset."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value


class OtpSettings(_Section):
    default_validity_seconds: int = Field(
        300, description="How long a one-time passcode lives when the request does not say."
    )
    max_validity_seconds: int = Field(86400, description="The longest validity a request may ask.")
    max_attempts: int = Field(
        5, description="Wrong passcodes for one OTP (by messageid or destination) before it locks."
    )
    max_failures_per_minute: int = Field(
        60,
        description=(
            "Wrong passcodes per account per minute when verifying by passcode alone; more are "
            "refused with 429 until the minute has passed."
        ),
    )
    default_template: str = Field(
        "Your one-time passcode is {{passcode}}",
        description="The SMS text when a request gives no template.",
    )


class MailOutSettings(_Section):
    transport: Literal["maildir", "smtp"] = Field(
        "maildir", description="How email leaves: a local maildir, or an SMTP relay."
    )
    maildir: str = Field("data/maildir", description="The maildir that `maildir` delivers into.")
    smtp_host: str = Field("127.0.0.1", description="SMTP relay host.")
    smtp_port: int = Field(25, description="SMTP relay port (587 for STARTTLS, 465 for TLS).")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "none", description="Connection security to the relay."
    )
    smtp_username: str = Field("", description="Relay login (empty: no AUTH).")
    smtp_password: str = Field("", description="Relay password.")
    smtp_timeout_seconds: float = Field(30.0, description="Per-connection timeout.")
    retry_hours: float = Field(
        48.0, description="How long temporary failures are retried before the email fails."
    )
    dkim_selector: str = Field("", description="DKIM selector; empty: do not sign.")
    dkim_key_file: str = Field("", description="PEM private key for DKIM signing.")
    poll_interval_seconds: float = Field(0.5, description="Idle wait of the email sender.")


class MailInSettings(_Section):
    smtp_enabled: bool = Field(True, description="Run the built-in SMTP (or LMTP) server.")
    smtp_host: str = Field("127.0.0.1", description="Address the mail server listens on.")
    smtp_port: int = Field(2525, description="Port the mail server listens on.")
    mode: Literal["smtp", "lmtp"] = Field(
        "smtp", description="`lmtp` when Postfix (or another MTA) delivers to us."
    )
    max_message_bytes: int = Field(10_000_000, description="Largest email accepted.")
    http_secret: str = Field(
        "",
        description="Secret for POST /v1/inbound/email (raw MIME); empty disables the endpoint.",
    )
    trusted_networks: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description=(
            "SMTP clients (SMTP mode only) whose mail needs no DKIM/SPF result: the machine "
            "itself by default. Clear it when the server is reachable from outside."
        ),
    )
    trusted_authserv_ids: list[str] = Field(
        default_factory=list,
        description="Authentication-Results headers are believed only from these server ids.",
    )
    replies_per_conversation_per_hour: int = Field(
        20, description="Email replies turned into SMS, per conversation per hour."
    )
    replies_per_account_per_hour: int = Field(
        500, description="Email replies turned into SMS, per account per hour."
    )
    max_reply_segments: int = Field(
        6, description="Longest SMS an email reply may become, in segments."
    )
    trusted_arc_sealers: list[str] = Field(
        default_factory=list,
        description=(
            "Forwarders (the d= of their ARC-Seal, e.g. google.com) whose ARC results are "
            "believed for forwarded mail that no longer passes DKIM or SPF."
        ),
    )
    dns_servers: list[str] = Field(
        default_factory=list,
        description="DNS servers for DKIM, SPF, DMARC and ARC (host or host:port); empty: "
        "the system's resolv.conf.",
    )
    dns_timeout_seconds: float = Field(3.0, description="Deadline of one DNS lookup.")
    auth_budget_seconds: float = Field(
        8.0, description="Most time spent authenticating one email (DNS included)."
    )
    read_budget_seconds: float = Field(
        2.0, description="Most time spent reading one email's headers and MIME parts."
    )
    max_header_bytes: int = Field(131_072, description="Largest header section an email may have.")
    max_mime_parts: int = Field(100, description="Most MIME parts in one email.")
    max_mime_depth: int = Field(10, description="Deepest nesting of MIME parts.")
    workers: int = Field(
        4, description="Emails judged at once, so a slow one (DNS) delays no other."
    )
    max_numbers_per_email: int = Field(
        10,
        description="Most phone numbers one email may start conversations with "
        "(<number>@mail.domain in To/Cc).",
    )


class MailSettings(_Section):
    domain: str = Field(
        "smsbridge.localhost",
        description="The gateway's mail domain: From and per-conversation Reply-To addresses.",
    )
    from_local_part: str = Field("sms", description="Local part of the From address.")
    reply_prefix: str = Field("reply", description="Local-part prefix of reply addresses.")
    token_secret: str = Field(
        "",
        description=(
            "Key that signs reply addresses (comma-separated: first signs, all verify). "
            "Empty: one is generated and kept in the database."
        ),
    )
    out: MailOutSettings = MailOutSettings()
    inbound: MailInSettings = MailInSettings()


class WebhookSettings(_Section):
    retry_hours: float = Field(
        24.0, description="How long a webhook that fails is retried before it is given up."
    )
    timeout_seconds: float = Field(10.0, description="Per-request timeout of a webhook POST.")
    poll_interval_seconds: float = Field(0.5, description="Idle wait of the webhook sender.")
    allow_private_addresses: bool = Field(
        False,
        description=(
            "Allow webhook URLs on loopback and private networks (off: an account cannot make "
            "the gateway probe its own network)."
        ),
    )


class NumberSettings(_Section):
    quarantine_days: int = Field(
        30, description="Days a released Reply Number rests before another account gets it."
    )


KeywordKind = Literal["optout", "optin", "help"]


def _default_keywords() -> dict[str, dict[KeywordKind, list[str]]]:
    # The words the providers our users come from honour, exactly (Twilio's and others').
    return {
        "en": {
            "optout": [
                "STOP",
                "STOPALL",
                "UNSUBSCRIBE",
                "END",
                "QUIT",
                "REVOKE",
                "OPTOUT",
                "CANCEL",
            ],
            "optin": ["START", "YES", "UNSTOP"],
            "help": ["HELP", "INFO"],
        }
    }


class OptOutSettings(_Section):
    enabled: bool = Field(
        True,
        description="Recognise STOP, START and HELP in inbound SMS. Off: every inbound SMS is an "
        "ordinary reply; the list, and the sends it refuses, stay.",
    )
    scope: Literal["pair", "account"] = Field(
        "pair",
        description="What a customer's STOP covers by default: the Reply Number it was sent "
        "to (pair) or every sender of the account (account). Each account can choose.",
    )
    keywords: dict[str, dict[KeywordKind, list[str]]] = Field(
        default_factory=_default_keywords,
        description="Keywords per language (the first language is the default): an inbound "
        "SMS that is exactly one of them, ignoring case and surrounding spaces, is recognised. "
        "An account can set its own lists.",
    )
    charge_replies: bool = Field(
        True,
        description="Charge the account for the automatic confirmation and HELP SMS like any "
        "other message (off: they are sent and recorded at no cost).",
    )
    otp_exempt: bool = Field(
        False,
        description="Let one-time passcodes (POST /v1/otp/send) reach numbers that opted out; "
        "off: they are refused like any other send.",
    )
    send_confirmations: bool = Field(
        True,
        description="Answer an opt-out or opt-in keyword with a confirmation SMS and HELP with "
        "the help text.",
    )

    @field_validator("keywords")
    @classmethod
    def _usable_keywords(
        cls, value: dict[str, dict[KeywordKind, list[str]]]
    ) -> dict[str, dict[KeywordKind, list[str]]]:
        # Checked at load, by the same rules as an account's lists: a word in two classes or a
        # language without an opt-in word fails at start, not at a customer's first STOP.
        from smsbridge.optout.keywords import check_keyword_lists

        check_keyword_lists(value)
        return value


class Settings(BaseSettings):
    """Everything smsbridge can be told; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
    )

    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    carrier: CarrierSettings = CarrierSettings()
    pipeline: PipelineSettings = PipelineSettings()
    billing: BillingSettings = BillingSettings()
    api: ApiSettings = ApiSettings()
    otp: OtpSettings = OtpSettings()
    mail: MailSettings = MailSettings()
    numbers: NumberSettings = NumberSettings()
    webhooks: WebhookSettings = WebhookSettings()
    optout: OptOutSettings = OptOutSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file, which arrives as init kwargs: that is the documented order.
        return (env_settings, init_settings)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the TOML file (if any) and let SMSBRIDGE_* variables override it."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    return Settings(**data)


def describe_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every leaf setting with its value, default and environment variable (for `config show`)."""
    rows: list[dict[str, Any]] = []

    def walk(model: BaseModel, default: BaseModel, prefix: list[str]) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            default_value = getattr(default, name)
            if isinstance(value, BaseModel):
                walk(value, default_value, [*prefix, name])
                continue
            path = [*prefix, name]
            rows.append(
                {
                    "name": ".".join(path),
                    "value": value,
                    "default": default_value,
                    "env": ENV_PREFIX + ENV_NESTED_DELIMITER.join(p.upper() for p in path),
                    "description": field.description or "",
                }
            )

    walk(settings, Settings.model_construct(), [])
    return rows
