"""The `smsbridge` command: run the gateway and administer it (every command takes --json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from smsbridge import __version__
from smsbridge.errors import ServiceError

DEFAULT_CONFIG = "smsbridge.toml"


def _settings(args: argparse.Namespace) -> Any:
    from smsbridge.settings import load_settings

    path = args.config or os.environ.get("SMSBRIDGE_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    return load_settings(path)


def _gateway(args: argparse.Namespace) -> Any:
    from smsbridge.app import Gateway

    gateway = Gateway(_settings(args))
    # main() disposes of it: a command must not leave database connections to the collector.
    args.opened.append(gateway)
    if gateway.settings.database.auto_migrate:
        gateway.migrate()
    return gateway


def _emit(args: argparse.Namespace, document: Any, text: str) -> None:
    if args.json:
        print(json.dumps(document, indent=2, default=str))
    else:
        print(text)


# -- commands ------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    settings = gateway.settings
    print(
        f"smsbridge {__version__}: API on http://{settings.http.host}:{settings.http.port} "
        f"(docs at /docs), database {settings.database.url}, carrier {settings.carrier.kind}",
        flush=True,
    )
    asyncio.run(gateway.run(http=not args.no_http, workers=not args.no_worker))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from smsbridge.app import Gateway
    from smsbridge.db.migrate import current_revision

    gateway = Gateway(_settings(args))
    args.opened.append(gateway)
    gateway.migrate()
    revision = current_revision(gateway.settings.database.url)
    _emit(args, {"revision": revision}, f"database at revision {revision}")
    return 0


def cmd_account_create(args: argparse.Namespace) -> int:
    from smsbridge.credits import ledger
    from smsbridge.credits.pricing import MILLI

    gateway = _gateway(args)
    account = gateway.accounts.create_account(args.name, allow_international=args.international)
    if args.credits:
        with gateway.db.write() as session:
            ledger.credit(
                session,
                account.id,
                round(args.credits * MILLI),
                gateway.clock.now(),
                kind="topup",
                note="initial credit",
            )
    key = gateway.accounts.create_key(account.id, "default") if not args.no_key else None
    document = {
        "account_id": account.id,
        "name": account.name,
        "credits": args.credits,
        "international": account.allow_international,
        "api_key": key.key if key else None,
        "api_key_id": key.id if key else None,
    }
    text = f"account {account.id} ({account.name})"
    if key:
        text += f"\nAPI key (shown once, store it now): {key.key}"
    _emit(args, document, text)
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    accounts = gateway.accounts.list_accounts()
    document = [
        {
            "account_id": a.id,
            "name": a.name,
            "credits": a.balance_milli / 1000,
            "international": a.allow_international,
        }
        for a in accounts
    ]
    lines = [f"{a['account_id']}  {a['credits']:>10g}  {a['name']}" for a in document]
    _emit(args, document, "\n".join(lines) or "no accounts yet: smsbridge account create NAME")
    return 0


def cmd_account_key(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    key = gateway.accounts.create_key(args.account, args.name)
    _emit(
        args,
        {"account_id": key.account_id, "key_id": key.id, "name": key.name, "api_key": key.key},
        f"API key {key.id} (shown once, store it now): {key.key}",
    )
    return 0


def cmd_account_keys(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    keys = gateway.accounts.list_keys(args.account)
    document = [
        {
            "key_id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in keys
    ]
    lines = [
        f"{k['key_id']}  {k['prefix']}...  {k['name']}" + ("  (revoked)" if k["revoked_at"] else "")
        for k in document
    ]
    _emit(args, document, "\n".join(lines) or "no keys")
    return 0


def cmd_account_revoke(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    gateway.accounts.revoke_key(args.account, args.key_id)
    _emit(args, {"key_id": args.key_id, "revoked": True}, f"key {args.key_id} revoked")
    return 0


def cmd_account_credit(args: argparse.Namespace) -> int:
    from smsbridge.credits import ledger
    from smsbridge.credits.pricing import MILLI

    gateway = _gateway(args)
    with gateway.db.write() as session:
        ledger.credit(
            session,
            args.account,
            round(args.amount * MILLI),
            gateway.clock.now(),
            kind="topup" if args.amount >= 0 else "adjustment",
            note=args.note,
        )
    balance = gateway.messages.balance(args.account)
    _emit(args, {"account_id": args.account, "credits": balance}, f"balance: {balance:g} credits")
    return 0


def cmd_account_international(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    account = gateway.accounts.set_international(args.account, args.state == "on")
    _emit(
        args,
        {"account_id": account.id, "international": account.allow_international},
        f"international sending {'on' if account.allow_international else 'off'}",
    )
    return 0


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin (--password-stdin), else a generated one to print once."""
    import secrets

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(15), True


def cmd_user_create(args: argparse.Namespace) -> int:
    from smsbridge.dashboard.service import DashboardService

    gateway = _gateway(args)
    password, generated = _new_password(args)
    user = DashboardService(gateway.db, gateway.clock).create_user(
        args.email,
        password,
        account_id=args.account,
        role="operator" if args.operator else "user",
    )
    document = {
        "user_id": user.id,
        "email": user.email,
        "account_id": user.account_id,
        "role": user.role,
        "password": password if generated else None,
    }
    text = f"user {user.email} ({user.role}) created"
    if generated:
        text += f"\npassword (shown once, hand it over safely): {password}"
    _emit(args, document, text)
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from smsbridge.dashboard.service import DashboardService

    gateway = _gateway(args)
    password, generated = _new_password(args)
    user = DashboardService(gateway.db, gateway.clock).set_password(args.email, password)
    text = f"password of {user.email} changed; their browsers were signed out"
    if generated:
        text += f"\nnew password (shown once): {password}"
    _emit(
        args,
        {"email": user.email, "password": password if generated else None},
        text,
    )
    return 0


def cmd_numbers_add(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    numbers = list(args.numbers)
    if args.file:
        text = Path(args.file).read_text(encoding="utf-8")
        numbers += [line.split("#")[0].strip() for line in text.splitlines()]
    numbers = [n for n in numbers if n]
    result = gateway.numbers.add_to_pool(numbers)
    _emit(
        args,
        {"added": result.added, "already_present": result.already_present},
        f"added {len(result.added)} numbers to the pool"
        + (
            f" ({len(result.already_present)} were there already)" if result.already_present else ""
        ),
    )
    return 0


def cmd_numbers_assign(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    row = gateway.numbers.assign(args.account, args.number)
    _emit(args, {"number": row.number, "account_id": row.account_id}, f"{row.number} assigned")
    return 0


def cmd_numbers_list(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    rows = gateway.numbers.list_numbers(args.account)
    document = [
        {
            "number": r.number,
            "state": r.state,
            "account_id": r.account_id,
            "response_emails": r.response_emails,
            "tags": r.tags,
        }
        for r in rows
    ]
    lines = [f"{r['number']}  {r['state']:<10} {r['account_id'] or ''}" for r in document]
    _emit(args, document, "\n".join(lines) or "the pool is empty: smsbridge numbers add NUMBER")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from smsbridge.messages.schemas import MessageIn

    gateway = _gateway(args)
    request = MessageIn(
        sender=args.sender,
        destination=args.to,
        content=args.text,
        tag=args.tag,
        responseemail=args.responseemail or None,
    )
    result = gateway.messages.send(args.account, request)
    _emit(args, result, f"{result['messageid']} {result['status']}")
    return 0


def cmd_handset_reply(args: argparse.Namespace) -> int:
    from smsbridge.carriers.base import InboundSms
    from smsbridge.numbers.phone import normalise_number

    gateway = _gateway(args)
    region = gateway.settings.billing.home_region
    sms = InboundSms(
        carrier_ref="sim-in-" + uuid.uuid4().hex,
        sender=normalise_number(args.sender, region).e164,
        recipient=normalise_number(args.to, region, require_mobile=False).e164,
        content=args.text,
        received_at=gateway.clock.now(),
    )
    inbound_id = gateway.inbound.receive(sms)
    _emit(args, {"inbound_id": inbound_id}, f"handset {sms.sender} sent {sms.recipient} an SMS")
    return 0


def cmd_handset_inbox(args: argparse.Namespace) -> int:
    from smsbridge.numbers.phone import normalise_number

    gateway = _gateway(args)
    number = normalise_number(args.number, gateway.settings.billing.home_region).e164
    rows = gateway.handsets.inbox(number)
    document = [
        {
            "from": r.source,
            "content": r.content,
            "received_at": r.submitted_at,
            "segments": r.segments,
            "outcome": r.outcome,
        }
        for r in rows
    ]
    lines = [
        f"[{d['received_at']:%Y-%m-%d %H:%M:%S}] {d['from']}: {d['content']}" for d in document
    ]
    _emit(args, document, "\n".join(lines) or f"{number} has received nothing yet")
    return 0


def cmd_handset_outcome(args: argparse.Namespace) -> int:
    from smsbridge.numbers.phone import normalise_number

    gateway = _gateway(args)
    number = normalise_number(args.number, gateway.settings.billing.home_region).e164
    gateway.handsets.set_outcome(number, args.outcome)
    _emit(args, {"number": number, "outcome": args.outcome}, f"{number}: {args.outcome}")
    return 0


def cmd_messages_in_doubt(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    report = gateway.pipeline.in_doubt_report()
    document = [
        {
            "messageid": entry["message"].id,
            "account_id": entry["message"].account_id,
            "destination": entry["message"].destination,
            "sender": entry["message"].sender,
            "content": entry["message"].content,
            "since": entry["message"].modified,
            "submitted_at": entry["message"].submitted_at,
            "likely_held": entry["likely_held"],
            "verdict": entry["verdict"],
            "candidate_receipts": entry["candidates"],
        }
        for entry in report
    ]
    lines = []
    for d in document:
        lines.append(f"{d['messageid']}  {d['destination']}  {d['content'][:40]!r}")
        lines.append(f"    {d['verdict']}")
        for c in d["candidate_receipts"]:
            lines.append(
                f"    receipt {c['carrier_ref']}  received {c['received_at']:%Y-%m-%d %H:%M:%S}"
                f"  text {c['text']!r}"
            )
    _emit(args, document, "\n".join(lines) or "no message is in doubt")
    return 0


def cmd_messages_parked(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from smsbridge.db.models import SmppParked

    gateway = _gateway(args)
    with gateway.db.read() as session:
        rows = list(
            session.scalars(select(SmppParked).order_by(SmppParked.id.desc()).limit(args.limit))
        )
    document = [
        {
            "id": r.id,
            "connector": r.connector,
            "received_at": r.received_at,
            "reason": r.reason,
            "hex": r.raw.hex(),
        }
        for r in rows
    ]
    lines = [
        f"{d['id']}  {d['received_at']:%Y-%m-%d %H:%M:%S}  {d['connector']}  {d['reason']}\n"
        f"    {d['hex']}"
        for d in document
    ]
    _emit(args, document, "\n".join(lines) or "nothing is parked")
    return 0


def cmd_messages_settle(args: argparse.Namespace) -> int:
    gateway = _gateway(args)
    ids = list(args.ids)
    if args.all:
        ids = [m.id for m in gateway.pipeline.in_doubt(limit=100_000)]
    count = gateway.pipeline.settle_in_doubt(ids, resend=args.action == "resend")
    verb = "queued again" if args.action == "resend" else "closed as UNDELIVERABLE and refunded"
    _emit(args, {"settled": count, "action": args.action}, f"{count} messages {verb}")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    from smsbridge.settings import describe_settings

    rows = describe_settings(_settings(args))
    lines = [f"{r['name']} = {r['value']!r}    ({r['env']})" for r in rows]
    _emit(args, rows, "\n".join(lines))
    return 0


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from smsbridge.carriers.simulator import OUTCOMES

    parser = argparse.ArgumentParser(
        prog="smsbridge",
        description="Self-hosted SMS gateway with an SMS Works-compatible API.",
    )
    parser.add_argument("--version", action="version", version=f"smsbridge {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help=f"TOML settings file (default: $SMSBRIDGE_CONFIG, else ./{DEFAULT_CONFIG} if present)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON document")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        group: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    serve = add(commands, "serve", cmd_serve, "run the API, the outbound workers and the carrier")
    serve.add_argument("--no-worker", action="store_true", help="serve the API only")
    serve.add_argument("--no-http", action="store_true", help="run workers only (scale-out)")
    add(commands, "migrate", cmd_migrate, "create or upgrade the database schema")

    account = commands.add_parser("account", help="accounts, API keys and credits")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = add(account_commands, "create", cmd_account_create, "create an account and a key")
    create.add_argument("name")
    create.add_argument("--credits", type=float, default=0.0, help="initial credits")
    create.add_argument("--international", action="store_true", help="allow international")
    create.add_argument("--no-key", action="store_true", help="do not create an API key")
    add(account_commands, "list", cmd_account_list, "list accounts and balances")
    key = add(account_commands, "key", cmd_account_key, "create an API key (shown once)")
    key.add_argument("account", help="account id")
    key.add_argument("--name", default="default", help="a label for the key")
    keys = add(account_commands, "keys", cmd_account_keys, "list an account's API keys")
    keys.add_argument("account")
    revoke = add(account_commands, "revoke", cmd_account_revoke, "revoke an API key")
    revoke.add_argument("account")
    revoke.add_argument("key_id")
    credit = add(account_commands, "credit", cmd_account_credit, "add (or remove) credits")
    credit.add_argument("account")
    credit.add_argument("amount", type=float)
    credit.add_argument("--note", default=None)
    international = add(
        account_commands,
        "international",
        cmd_account_international,
        "allow or forbid international destinations",
    )
    international.add_argument("account")
    international.add_argument("state", choices=["on", "off"])

    user = commands.add_parser("user", help="people who sign in to the account page")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create_user = add(
        user_commands, "create", cmd_user_create, "create a user of the account page (/account)"
    )
    create_user.add_argument("email")
    create_user.add_argument("--account", default=None, help="the account the user belongs to")
    create_user.add_argument(
        "--operator", action="store_true", help="an operator: sees every account, adds credit"
    )
    create_user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (default: generate one and print it once)",
    )
    user_password = add(
        user_commands, "password", cmd_user_password, "set a user's password (signs them out)"
    )
    user_password.add_argument("email")
    user_password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (default: generate one and print it once)",
    )

    numbers = commands.add_parser("numbers", help="the pool of Reply Numbers")
    number_commands = numbers.add_subparsers(dest="numbers_command", required=True)
    add_numbers = add(number_commands, "add", cmd_numbers_add, "add numbers to the pool")
    add_numbers.add_argument("numbers", nargs="*")
    add_numbers.add_argument("--file", help="a file with one number per line")
    assign = add(number_commands, "assign", cmd_numbers_assign, "give an account a number")
    assign.add_argument("account")
    assign.add_argument("number", nargs="?", help="a particular pool number (default: any)")
    list_numbers = add(number_commands, "list", cmd_numbers_list, "list numbers")
    list_numbers.add_argument("--account", default=None)

    send = add(commands, "send", cmd_send, "send an SMS from an account (as the API would)")
    send.add_argument("--account", required=True)
    send.add_argument("--from", dest="sender", required=True, help="Reply Number or sender ID")
    send.add_argument("--to", required=True)
    send.add_argument("--tag", default=None)
    send.add_argument("--responseemail", action="append", default=[])
    send.add_argument("text")

    handset = commands.add_parser("handset", help="play a customer's phone (simulated carrier)")
    handset_commands = handset.add_subparsers(dest="handset_command", required=True)
    reply = add(handset_commands, "reply", cmd_handset_reply, "send an SMS from a handset")
    reply.add_argument("--from", dest="sender", required=True, help="the handset's number")
    reply.add_argument("--to", required=True, help="the Reply Number")
    reply.add_argument("text")
    inbox = add(handset_commands, "inbox", cmd_handset_inbox, "show what a handset received")
    inbox.add_argument("number")
    outcome = add(
        handset_commands,
        "outcome",
        cmd_handset_outcome,
        "script what happens to SMS sent to a handset",
    )
    outcome.add_argument("number")
    outcome.add_argument("outcome", choices=OUTCOMES)

    messages = commands.add_parser("messages", help="messages needing an operator")
    message_commands = messages.add_subparsers(dest="messages_command", required=True)
    add(
        message_commands,
        "in-doubt",
        cmd_messages_in_doubt,
        "messages whose submit was in flight when the carrier connection died, with the "
        "receipts that may be theirs and whether the carrier most likely has them",
    )
    parked = add(
        message_commands,
        "parked",
        cmd_messages_parked,
        "PDUs an SMSC sent that could not be used (unreadable, or a receipt with no id), in hex",
    )
    parked.add_argument("--limit", type=int, default=100, help="most rows shown (newest first)")
    for action, text in (
        ("resend", "send in-doubt messages again (the customer may get two)"),
        ("close", "close in-doubt messages as UNDELIVERABLE and refund them"),
    ):
        settle = add(message_commands, action, cmd_messages_settle, text)
        settle.add_argument("ids", nargs="*", help="message ids")
        settle.add_argument("--all", action="store_true", help="every message in doubt")
        settle.set_defaults(action=action)

    config = commands.add_parser("config", help="settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    add(config_commands, "show", cmd_config_show, "every setting, its value, default and env var")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Migrations run before most commands; their INFO lines would bury the command's output.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiosmtpd logs every SMTP command at INFO; keep its warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.opened = []
    try:
        result: int = args.handler(args)
        return result
    except ServiceError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"code": exc.code, "message": exc.message}), file=sys.stderr)
        else:
            print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for gateway in args.opened:
            gateway.db.dispose()
