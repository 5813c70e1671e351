"""The account page's routes: thin handlers that check the viewer, call services and render."""

# No `from __future__ import annotations`: FastAPI must see the real dependency types,
# which are local to build_dashboard_router.
import contextlib
import csv
import hashlib
import io
import re
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from smsbridge.accounts.service import AccountService
from smsbridge.clock import Clock
from smsbridge.conversations.service import ConversationService
from smsbridge.credits import ledger
from smsbridge.credits.pricing import MILLI, RateTable, to_credits
from smsbridge.dashboard.service import (
    SESSION_LIFETIME,
    DashboardService,
    SignInRefused,
    TooManyAttempts,
    Viewer,
    same_token,
)
from smsbridge.dashboard.views import DashboardViews, LogFilter, plus
from smsbridge.db.engine import Database
from smsbridge.errors import Invalid, ServiceError
from smsbridge.messages.schemas import MessageIn, QueryIn
from smsbridge.messages.service import MessageService
from smsbridge.messages.status import Status
from smsbridge.numbers.phone import InvalidNumber, normalise_number
from smsbridge.numbers.service import NumberService
from smsbridge.optout.service import Actor, OptOutService
from smsbridge.segments import is_gsm7, plan
from smsbridge.settings import Settings
from smsbridge.webhooks import signing
from smsbridge.webhooks.service import (
    INBOUND_EVENT,
    KEYWORD_EVENT,
    STATUS_EVENT,
    WebhookService,
    check_webhook_url,
)


@dataclass(frozen=True)
class DashboardServices:
    """What the account page uses, handed over by the composition root: the services, not
    the Gateway that holds them (which would make the two import each other)."""

    db: Database
    clock: Clock
    settings: Settings
    rates: RateTable
    accounts: AccountService
    messages: MessageService
    numbers: NumberService
    webhooks: WebhookService
    conversations: ConversationService
    optout: OptOutService
    # Each carrier connection's health (Carrier.status), for the operator page.
    carriers: Callable[[], list[dict[str, Any]]] | None = None


PREFIX = "/account"
STATIC_PATH = PREFIX + "/static"
SESSION_COOKIE = "smsbridge_session"
# Before sign-in there is no session to hold a CSRF token, so the sign-in form uses a
# double-submit cookie: a cross-site page can post the form but cannot read the cookie.
SIGN_IN_COOKIE = "smsbridge_signin"
# Proves a browser signed in as its user before, so others' failed guesses do not hold it up.
DEVICE_COOKIE = "smsbridge_device"
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600
HERE = Path(__file__).parent
POLL_SECONDS = 3
RECENT_WEBHOOKS = 50
# What each webhook event is, in words.
EVENTS: Mapping[str, str] = {
    STATUS_EVENT: "Delivery report",
    INBOUND_EVENT: "Inbound SMS",
    KEYWORD_EVENT: "Opt-out keyword",
}

# Confirmations after a redirect come from this fixed list, so no text is ever reflected.
DONE: Mapping[str, str] = {
    "signed-out": "You are signed out.",
    "password-changed": (
        "Your password is changed. Other browsers signed in as you were signed out."
    ),
    "number-assigned": "Your new Reply Number is ready. Set where customers' replies go below.",
    "number-saved": "Settings saved.",
    "number-released": "The number was released. Its history stays under Messages.",
    "key-revoked": "The API key was revoked; requests using it now fail.",
    "credit-added": "Credit added.",
    "sent": "Sent. The status updates here as the carrier reports it.",
    "webhooks-saved": "Webhook URLs saved.",
    "optout-removed": "Removed from the opt-out list: you may text them again.",
    "optout-settings-saved": "Opt-out settings saved.",
}

_SPLIT = re.compile(r"[,;\n\r]+")

# Security headers for every page: no inline script or style is used, so the policy is tight.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class _SignInNeeded(Exception):
    pass


class _Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


# The states of a received email the Emails page filters by.
_EMAIL_STATUSES = ("sent", "refused", "ignored", "failed", "received")


def dashboard_static() -> StaticFiles:
    """The stylesheet and script; mount at STATIC_PATH."""
    return StaticFiles(directory=HERE / "static")


def split_list(text: str) -> list[str]:
    return [item.strip() for item in _SPLIT.split(text or "") if item.strip()]


def digits(number: str) -> str:
    return number.lstrip("+")


def _when(value: datetime | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        # API views carry ISO 8601 text ("2026-11-25T12:00:00Z").
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return _when(parsed)
    return value.strftime("%d %b %Y, %H:%M UTC")


def _credits(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        # Every value is escaped unless a template says otherwise (none does).
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["credits"] = _credits
    env.filters["digits"] = digits
    return env


def _safe_next(target: str | None) -> str:
    # Only our own pages: "//evil.example" or "https://..." would make sign-in an open redirect.
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def build_dashboard_router(
    services: DashboardServices, service: DashboardService | None = None
) -> APIRouter:
    """Every page of the account page, under /account. Mount dashboard_static() too."""
    users = service or DashboardService(services.db, services.clock)
    views = DashboardViews(services.db)
    env = _environment()
    settings = services.settings

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        viewer: Viewer | None = getattr(request.state, "viewer", None)
        done = request.query_params.get("done", "")
        page = env.get_template(template).render(
            base=PREFIX,
            static=STATIC_PATH,
            viewer=viewer,
            csrf=viewer.csrf if viewer else context.pop("csrf", ""),
            path=request.url.path,
            done=DONE.get(done, ""),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    class DashboardRoute(APIRoute):
        """Turns sign-in, permission and service errors into pages, and adds headers."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def wrapped(request: Request) -> Response:
                wants_json = request.url.path.endswith((".json", "/segments"))
                try:
                    response = await handler(request)
                except _SignInNeeded:
                    if wants_json:
                        response = JSONResponse(
                            {"code": "SIGNED_OUT", "message": "Sign in again."}, status_code=401
                        )
                    else:
                        target = request.url.path
                        if request.method == "GET" and request.url.query:
                            target += "?" + request.url.query
                        response = RedirectResponse(
                            f"{PREFIX}/sign-in?next={quote(target)}", status_code=303
                        )
                except _Redirect as exc:
                    response = RedirectResponse(exc.url, status_code=303)
                except _Forbidden as exc:
                    response = render(
                        request, "error.html", 403, title="Not allowed", message=exc.message
                    )
                except ServiceError as exc:
                    if wants_json:
                        response = JSONResponse(
                            {"code": exc.code, "message": exc.message}, status_code=exc.status
                        )
                    else:
                        title = "Not found" if exc.status == 404 else "Something went wrong"
                        response = render(
                            request, "error.html", exc.status, title=title, message=exc.message
                        )
                for name, value in _HEADERS.items():
                    response.headers.setdefault(name, value)
                viewer: Viewer | None = getattr(request.state, "viewer", None)
                if viewer is not None and viewer.slid and SESSION_COOKIE in request.cookies:
                    _set_session_cookie(
                        response, request.cookies[SESSION_COOKIE], secure_cookies(request)
                    )
                return response

            return wrapped

    router = APIRouter(prefix=PREFIX, route_class=DashboardRoute, include_in_schema=False)

    async def current_viewer(request: Request) -> Viewer:
        viewer = users.viewer(request.cookies.get(SESSION_COOKIE))
        if viewer is None:
            raise _SignInNeeded()
        request.state.viewer = viewer
        # Every form post of a signed-in user carries the session's CSRF token: a page on
        # another site can make the browser post here, but cannot read the token.
        if request.method == "POST":
            form = await request.form()
            if not same_token(_form_text(form, "csrf"), viewer.csrf):
                raise _Forbidden(
                    "This form has expired or did not come from this site. Go back, reload "
                    "the page and try again."
                )
        return viewer

    async def operator_viewer(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
        if not viewer.is_operator:
            raise _Forbidden("This page is for the gateway's operator only.")
        return viewer

    def account_of(viewer: Viewer) -> str:
        if viewer.account_id is None:
            # An operator without an account of their own starts on the operator page.
            raise _Redirect(PREFIX + "/operator")
        return viewer.account_id

    Page = Annotated[Viewer, Depends(current_viewer)]
    Operator = Annotated[Viewer, Depends(operator_viewer)]

    def secure_cookies(request: Request) -> bool:
        """Whether cookies are Secure: a setting, never a header a client could forge."""
        mode = settings.http.secure_cookies
        if mode != "auto":
            return mode == "always"
        public = settings.http.public_base_url
        if public:
            return public.lower().startswith("https://")
        return request.url.scheme == "https"

    def go(path: str, done: str | None = None, fragment: str = "") -> RedirectResponse:
        url = PREFIX + path + (f"?done={done}" if done else "") + fragment
        return RedirectResponse(url, status_code=303)

    # -- signing in and out ----------------------------------------------------------------

    @router.get("/sign-in")
    def sign_in_page(request: Request, next: str = "") -> Response:
        if users.viewer(request.cookies.get(SESSION_COOKIE)) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
        response = render(request, "sign_in.html", csrf=token, next=_safe_next(next), email="")
        response.set_cookie(
            SIGN_IN_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path=PREFIX,
        )
        return response

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        email = _form_text(form, "email")
        target = _safe_next(_form_text(form, "next"))
        cookie = request.cookies.get(SIGN_IN_COOKIE, "")
        if not cookie or not same_token(_form_text(form, "csrf"), cookie):
            raise _Forbidden(
                "The sign-in form expired or did not come from this site. Reload it and try "
                "again (cookies must be enabled)."
            )
        try:
            new = users.sign_in(
                email,
                _form_text(form, "password"),
                client_address=request.client.host if request.client else None,
                device_cookie=request.cookies.get(DEVICE_COOKIE),
            )
        except (SignInRefused, TooManyAttempts) as exc:
            return render(
                request,
                "sign_in.html",
                exc.status,
                csrf=cookie,
                next=target,
                email=email,
                error=exc.message,
            )
        response = RedirectResponse(target, status_code=303)
        secure = secure_cookies(request)
        _set_session_cookie(response, new.token, secure)
        if new.device:
            response.set_cookie(
                DEVICE_COOKIE,
                new.device,
                max_age=DEVICE_COOKIE_SECONDS,
                httponly=True,
                samesite="strict",
                secure=secure,
                path=PREFIX,
            )
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return response

    @router.post("/sign-out")
    def sign_out(viewer: Page) -> Response:
        users.sign_out(viewer)
        response = go("/sign-in", "signed-out")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @router.get("/password")
    def password_page(request: Request, viewer: Page) -> Response:
        return render(request, "password.html", title="Change password")

    @router.post("/password")
    async def change_password(request: Request, viewer: Page) -> Response:
        form = await request.form()
        try:
            users.change_password(
                viewer,
                _form_text(form, "current"),
                _form_text(form, "new"),
                _form_text(form, "confirm"),
            )
        except Invalid as exc:
            return render(request, "password.html", 400, title="Change password", error=exc.message)
        return go("/password", "password-changed")

    # -- overview --------------------------------------------------------------------------

    @router.get("/")
    def overview(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        account = services.accounts.get(account_id)
        return render(
            request,
            "overview.html",
            title="Overview",
            account=account,
            balance=services.messages.balance(account_id),
            numbers=services.numbers.list_numbers(account_id),
            recent=views.log(account_id, LogFilter(), 1).rows[:8],
            inbox=services.messages.inbox(account_id, QueryIn(limit=5)),
        )

    # -- Reply Numbers ---------------------------------------------------------------------

    def numbers_page(
        request: Request, account_id: str, status: int = 200, **extra: Any
    ) -> Response:
        return render(
            request,
            "numbers.html",
            status,
            title="Reply Numbers",
            numbers=services.numbers.list_numbers(account_id),
            **extra,
        )

    @router.get("/numbers")
    def numbers(request: Request, viewer: Page) -> Response:
        return numbers_page(request, account_of(viewer))

    @router.post("/numbers")
    def request_number(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        try:
            row = services.numbers.assign(account_id)
        except ServiceError as exc:
            if exc.code != "POOL_EMPTY":
                raise
            return numbers_page(
                request,
                account_id,
                409,
                error="No Reply Number is free right now. Your operator has been asked to "
                "load more; try again later.",
            )
        return go(f"/numbers/{digits(row.number)}", "number-assigned")

    def number_page(
        request: Request, account_id: str, number: str, status: int = 200, **extra: Any
    ) -> Response:
        row = services.numbers.get(account_id, number)
        form = extra.pop("form", None) or {
            "response_emails": "\n".join(row.response_emails or []),
            "tags": ", ".join(row.tags or []),
            "authorised_senders": "\n".join(row.authorised_senders or []),
            "copy_replies": row.copy_replies,
        }
        return render(
            request,
            "number.html",
            status,
            title=row.number,
            number=row,
            threads=views.threads(account_id, row.number),
            form=form,
            send=extra.pop("send", {"destination": "", "content": "", "tag": ""}),
            smart_default=settings.billing.smart_encoding,
            **extra,
        )

    @router.get("/numbers/{number}")
    def number_detail(request: Request, number: str, viewer: Page) -> Response:
        return number_page(request, account_of(viewer), number)

    @router.post("/numbers/{number}")
    async def number_settings(request: Request, number: str, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        values = {
            "response_emails": _form_text(form, "response_emails"),
            "tags": _form_text(form, "tags"),
            "authorised_senders": _form_text(form, "authorised_senders"),
            "copy_replies": form.get("copy_replies") == "on",
        }
        services.numbers.get(account_id, number)  # 404 before any validation message
        try:
            services.numbers.update(
                account_id,
                number,
                {
                    "response_emails": split_list(str(values["response_emails"])),
                    "tags": split_list(str(values["tags"])),
                    "authorised_senders": split_list(str(values["authorised_senders"])),
                    "copy_replies": values["copy_replies"],
                },
            )
        except Invalid as exc:
            return number_page(
                request, account_id, number, 400, form=values, settings_error=exc.message
            )
        return go(f"/numbers/{digits(plus(number))}", "number-saved")

    def _send(account_id: str, sender: str, form: Mapping[str, Any], destination: str) -> str:
        """Send from the page; returns the customer's E.164 number."""
        result = services.messages.send(
            account_id,
            MessageIn(
                sender=sender,
                destination=destination,
                content=_form_text(form, "content"),
                tag=_form_text(form, "tag").strip() or None,
                ai=True if form.get("smart") == "on" else None,
            ),
        )
        message = services.messages.get(account_id, str(result["messageid"]))
        return plus(str(message["destination"]))

    @router.post("/numbers/{number}/send")
    async def send_from_number(request: Request, number: str, viewer: Page) -> Response:
        account_id = account_of(viewer)
        row = services.numbers.get(account_id, number)
        form = await request.form()
        try:
            customer = _send(account_id, row.number, form, _form_text(form, "destination"))
        except ServiceError as exc:
            if exc.status == 404:
                raise
            send = {k: _form_text(form, k) for k in ("destination", "content", "tag")}
            return number_page(
                request, account_id, number, exc.status, send=send, send_error=exc.message
            )
        return go(f"/numbers/{digits(row.number)}/conversations/{digits(customer)}", "sent")

    @router.get("/numbers/{number}/release")
    def release_page(request: Request, number: str, viewer: Page) -> Response:
        row = services.numbers.get(account_of(viewer), number)
        return render(
            request,
            "release.html",
            title=f"Release {row.number}",
            number=row,
            quarantine_days=settings.numbers.quarantine_days,
        )

    @router.post("/numbers/{number}/release")
    def release(number: str, viewer: Page) -> Response:
        services.numbers.release(account_of(viewer), number)
        return go("/numbers", "number-released")

    # -- conversations ---------------------------------------------------------------------

    def customer_of(customer: str) -> str:
        try:
            return normalise_number(customer, settings.billing.home_region).e164
        except InvalidNumber as exc:
            raise Invalid(exc.code, str(exc)) from exc

    def thread_context(account_id: str, number: str, customer: str) -> dict[str, Any]:
        row = services.numbers.get(account_id, number)
        items = views.thread(account_id, row.number, customer_of(customer))
        version = hashlib.sha256(
            "|".join(f"{i.id}:{i.status}" for i in items).encode()
        ).hexdigest()[:16]
        blocked = services.optout.blocked(account_id, row.number, customer_of(customer))
        return {
            "number": row,
            "customer": customer_of(customer),
            "items": items,
            "version": version,
            "opted_out": blocked,
        }

    def conversation_page(
        request: Request,
        account_id: str,
        number: str,
        customer: str,
        status: int = 200,
        **extra: Any,
    ) -> Response:
        context = thread_context(account_id, number, customer)
        return render(
            request,
            "conversation.html",
            status,
            title=f"{context['customer']} · {context['number'].number}",
            poll_seconds=POLL_SECONDS,
            smart_default=settings.billing.smart_encoding,
            **context,
            **extra,
        )

    @router.get("/numbers/{number}/conversations/{customer}")
    def conversation(request: Request, number: str, customer: str, viewer: Page) -> Response:
        return conversation_page(request, account_of(viewer), number, customer)

    @router.get("/numbers/{number}/conversations/{customer}/feed.json")
    def conversation_feed(request: Request, number: str, customer: str, viewer: Page) -> Response:
        context = thread_context(account_of(viewer), number, customer)
        html = env.get_template("_thread.html").render(**context)
        count = sum(1 for item in context["items"] if item.direction != "note")
        return JSONResponse({"version": context["version"], "html": html, "count": count})

    @router.post("/numbers/{number}/conversations/{customer}/reply")
    async def reply(request: Request, number: str, customer: str, viewer: Page) -> Response:
        account_id = account_of(viewer)
        row = services.numbers.get(account_id, number)
        form = await request.form()
        try:
            _send(account_id, row.number, form, customer_of(customer))
        except ServiceError as exc:
            if exc.status == 404:
                raise
            return conversation_page(
                request,
                account_id,
                number,
                customer,
                exc.status,
                error=exc.message,
                content=_form_text(form, "content"),
            )
        return go(
            f"/numbers/{digits(row.number)}/conversations/{digits(customer_of(customer))}",
            "sent",
            "#reply",
        )

    @router.get("/segments")
    def segments(viewer: Page, text: str = "", to: str = "", smart: str = "") -> dict[str, Any]:
        """Live count for the reply box: segments, encoding and what it will cost."""
        account_of(viewer)
        use_smart = smart == "on" or settings.billing.smart_encoding
        try:
            counted = plan(text, smart_encoding=use_smart)
        except ValueError as exc:
            raise Invalid("INVALID_CONTENT", f"This text cannot be sent as SMS: {exc}") from exc
        region = settings.billing.home_region
        if to.strip():
            # Still typing the number: price at the home rate meanwhile.
            with contextlib.suppress(InvalidNumber):
                region = normalise_number(to, settings.billing.home_region).region
        rate = services.rates.rate_milli(region)
        ucs2 = counted.encoding.value == "UCS-2"
        forcing = list(dict.fromkeys(ch for ch in text if not is_gsm7(ch)))[:8] if ucs2 else []
        smart_helps = (
            ucs2 and not use_smart and plan(text, smart_encoding=True).encoding.value == "GSM-7"
        )
        cost = counted.segments * rate
        summary = (
            f"{counted.characters} characters · {counted.segments} SMS "
            f"({counted.encoding.value}) · {_credits(to_credits(cost))} credits · "
            f"{counted.remaining} left in this SMS"
        )
        note = ""
        if ucs2:
            shown = " ".join(forcing)
            note = (
                f"{shown} cannot be sent in GSM-7, so this message uses UCS-2 (70 characters "
                "per SMS instead of 160)."
            )
            if smart_helps:
                note += " Tick “Smart encoding” to swap look-alike characters and pay less."
        elif counted.smart_encoded:
            note = "Smart encoding swapped look-alike characters so this stays GSM-7."
        return {
            "encoding": counted.encoding.value,
            "segments": counted.segments,
            "characters": counted.characters,
            "remaining": counted.remaining,
            "credits": to_credits(cost),
            "rate": to_credits(rate),
            "region": region,
            "ucs2_characters": forcing,
            "smart_helps": smart_helps,
            "smart_encoded": counted.smart_encoded,
            "summary": summary,
            "note": note,
        }

    # -- messages --------------------------------------------------------------------------

    def log_filter(request: Request) -> LogFilter:
        q = request.query_params
        return LogFilter(
            number=q.get("number", ""),
            tag=q.get("tag", ""),
            status=q.get("status", ""),
            date_from=q.get("from", ""),
            date_to=q.get("to", ""),
        )

    @router.get("/messages")
    def messages(request: Request, viewer: Page, page: int = 1) -> Response:
        account_id = account_of(viewer)
        where = log_filter(request)
        query = {
            k: v
            for k, v in (
                ("number", where.number),
                ("tag", where.tag),
                ("status", where.status),
                ("from", where.date_from),
                ("to", where.date_to),
            )
            if v
        }
        try:
            result = views.log(account_id, where, page)
        except Invalid as exc:
            return render(
                request,
                "messages.html",
                400,
                title="Messages",
                where=where,
                statuses=[s.value for s in Status],
                result=None,
                error=exc.message,
                query=urlencode(query),
            )
        return render(
            request,
            "messages.html",
            title="Messages",
            where=where,
            statuses=[s.value for s in Status],
            result=result,
            query=urlencode(query),
        )

    @router.get("/messages.csv")
    def messages_csv(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                "created",
                "messageid",
                "sender",
                "destination",
                "tag",
                "status",
                "encoding",
                "segments",
                "credits",
                "content",
            ]
        )
        for m in views.log_rows(account_id, log_filter(request)):
            writer.writerow(
                [
                    m.created.isoformat(),
                    m.id,
                    m.sender,
                    m.destination,
                    _csv_safe(m.tag or ""),
                    m.status,
                    m.encoding,
                    m.segments,
                    _credits(to_credits(m.credits_milli)),
                    _csv_safe(m.content),
                ]
            )
        stamp = services.clock.now().strftime("%Y%m%d-%H%M")
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="messages-{stamp}.csv"'},
        )

    @router.get("/messages/{message_id}")
    def message_detail(request: Request, message_id: str, viewer: Page) -> Response:
        account_id = account_of(viewer)
        message = services.messages.get(account_id, message_id)
        return render(
            request,
            "message.html",
            title="Message",
            message=message,
            deliveries=services.webhooks.deliveries_for_message(account_id, message_id),
            events=EVENTS,
        )

    # -- credits and keys ------------------------------------------------------------------

    @router.get("/credits")
    def credits(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        account = services.accounts.get(account_id)
        home = settings.billing.home_region
        rates = sorted(services.rates.countries.items(), key=lambda kv: (kv[0] != home, kv[0]))
        return render(
            request,
            "credits.html",
            title="Credits",
            account=account,
            balance=services.messages.balance(account_id),
            entries=services.accounts.ledger(account_id, limit=200),
            rates=[(code, to_credits(milli)) for code, milli in rates],
            default_rate=to_credits(services.rates.default_international_milli),
            home=home,
        )

    def keys_page(request: Request, account_id: str, status: int = 200, **extra: Any) -> Response:
        return render(
            request,
            "keys.html",
            status,
            title="API keys",
            keys=services.accounts.list_keys(account_id),
            **extra,
        )

    @router.get("/keys")
    def keys(request: Request, viewer: Page) -> Response:
        return keys_page(request, account_of(viewer))

    @router.post("/keys")
    async def create_key(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        name = _form_text(form, "name").strip()
        if not name or len(name) > 100:
            return keys_page(
                request,
                account_id,
                400,
                error="Give the key a name of 1 to 100 characters, e.g. the app that will use it.",
                name=name,
            )
        new = services.accounts.create_key(account_id, name)
        # Shown in this response only: it is not stored, so a reload cannot show it again.
        return keys_page(request, account_id, 201, new_key=new)

    @router.post("/keys/{key_id}/revoke")
    def revoke_key(key_id: str, viewer: Page) -> Response:
        services.accounts.revoke_key(account_of(viewer), key_id)
        return go("/keys", "key-revoked")

    # -- webhooks --------------------------------------------------------------------------

    def webhooks_page(
        request: Request, account_id: str, status: int = 200, **extra: Any
    ) -> Response:
        current = services.webhooks.get_settings(account_id)
        form = extra.pop("form", None) or {
            "deliveryreporturl": current["deliveryreporturl"] or "",
            "inboundurl": current["inboundurl"] or "",
        }
        return render(
            request,
            "webhooks.html",
            status,
            title="Webhooks",
            current=current,
            form=form,
            errors=extra.pop("errors", {}),
            deliveries=services.webhooks.recent_deliveries(account_id, RECENT_WEBHOOKS),
            events=EVENTS,
            status_event=STATUS_EVENT,
            signature_header=signing.SIGNATURE_HEADER,
            timestamp_header=signing.TIMESTAMP_HEADER,
            event_id_header=signing.EVENT_ID_HEADER,
            tolerance_minutes=signing.DEFAULT_TOLERANCE_SECONDS // 60,
            **extra,
        )

    @router.get("/webhooks")
    def webhooks(request: Request, viewer: Page) -> Response:
        return webhooks_page(request, account_of(viewer))

    @router.post("/webhooks")
    async def webhook_settings(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        values = {
            name: _form_text(form, name).strip() for name in ("deliveryreporturl", "inboundurl")
        }
        # Checked field by field first, so each error shows next to its own box.
        allow_private = settings.webhooks.allow_private_addresses
        errors = {
            name: refusal
            for name, value in values.items()
            if value and (refusal := check_webhook_url(value, allow_private)) is not None
        }
        if not errors:
            try:
                services.webhooks.update_settings(
                    account_id, values["deliveryreporturl"] or None, values["inboundurl"] or None
                )
            except Invalid as exc:
                errors = {"form": exc.message}
        if errors:
            return webhooks_page(request, account_id, 400, form=values, errors=errors)
        return go("/webhooks", "webhooks-saved")

    @router.post("/webhooks/secret")
    def rotate_webhook_secret(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        secret = services.webhooks.rotate_secret(account_id)
        # Shown in this response only: a reload, or any other page, never shows it again.
        return webhooks_page(request, account_id, new_secret=secret)

    # -- opt-outs -------------------------------------------------------------------------

    def optouts_page(
        request: Request, account_id: str, status: int = 200, **extra: Any
    ) -> Response:
        search = str(extra.pop("search", "") or "")
        try:
            found = services.optout.listing(account_id, search=search or None, limit=500)
        except Invalid as exc:
            found = services.optout.listing(account_id, limit=500)
            extra.setdefault("search_error", exc.message)
        return render(
            request,
            "optouts.html",
            status,
            title="Opt-outs",
            entries=found["optouts"],
            total=found["total"],
            search=search,
            events=services.optout.events(account_id, limit=50),
            numbers=services.numbers.list_numbers(account_id),
            preferences=services.optout.get_settings(account_id),
            **extra,
        )

    def page_actor(viewer: Viewer, source: str = "page") -> Actor:
        return Actor(source=source, who=f"user {viewer.email}")

    @router.get("/optouts")
    def optouts(request: Request, viewer: Page, search: str = "") -> Response:
        return optouts_page(request, account_of(viewer), search=search.strip()[:40])

    @router.post("/optouts")
    async def add_optouts(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        text = _form_text(form, "numbers")
        number = _form_text(form, "replynumber").strip()
        note = _form_text(form, "note").strip()[:1000] or None
        try:
            result = services.optout.add(
                account_id,
                text[:1_000_000].splitlines(),
                page_actor(viewer),
                reply_number=number or None,
                note=note,
            )
        except ServiceError as exc:
            if exc.status == 404:
                raise
            return optouts_page(
                request,
                account_id,
                exc.status,
                add_error=exc.message,
                add_problems=exc.details or [],
                numbers_text=text,
                chosen_number=number,
                note=note or "",
            )
        message = f"Added {result['added']} number{'s' if result['added'] != 1 else ''}."
        if result["alreadylisted"]:
            message += f" {result['alreadylisted']} were on the list already."
        return optouts_page(request, account_id, 201, add_message=message)

    @router.post("/optouts/remove")
    async def remove_optout(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        customer = _form_text(form, "customer")[:30]
        number = _form_text(form, "replynumber")[:30] or "*"
        services.optout.remove(account_id, customer, page_actor(viewer), reply_number=number)
        return go("/optouts", "optout-removed")

    @router.post("/optouts/settings")
    async def optout_settings(request: Request, viewer: Page) -> Response:
        account_id = account_of(viewer)
        form = await request.form()
        current = services.optout.get_settings(account_id)
        language = next(iter(current["keywords"]), "en")
        texts: dict[str, dict[str, str]] = {
            kind: dict(by_language) for kind, by_language in current["texts"].items()
        }
        for kind in ("optout", "optin", "help"):
            value = _form_text(form, f"text_{kind}").strip()
            texts.setdefault(kind, {})
            if value:
                texts[kind][language] = value
            else:
                texts[kind].pop(language, None)  # empty: the built-in text
        scope = _form_text(form, "scope")
        try:
            services.optout.update_settings(
                account_id,
                {
                    "scope": scope if scope in ("pair", "account") else None,
                    "texts": {k: v for k, v in texts.items() if v},
                },
            )
        except Invalid as exc:
            return optouts_page(request, account_id, 400, settings_error=exc.message)
        return go("/optouts", "optout-settings-saved")

    @router.get("/optouts.csv")
    def optouts_csv(viewer: Page) -> Response:
        account_id = account_of(viewer)
        stamp = services.clock.now().strftime("%Y%m%d-%H%M")
        return Response(
            services.optout.export_csv(account_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="optouts-{stamp}.csv"'},
        )

    @router.get("/emails")
    def emails(request: Request, viewer: Page, status: str = "") -> Response:
        account_id = account_of(viewer)
        chosen = status.strip().lower() if status.strip().lower() in _EMAIL_STATUSES else ""
        rows = services.conversations.email_log(
            account_id, status=chosen or None, limit=200, skip=0
        )
        return render(
            request,
            "emails.html",
            title="Emails",
            rows=rows,
            chosen=chosen,
            statuses=_EMAIL_STATUSES,
        )

    # -- the operator ----------------------------------------------------------------------

    def operator_page(request: Request, status: int = 200, **extra: Any) -> Response:
        return render(
            request,
            "operator.html",
            status,
            title="Operator",
            accounts=views.accounts(),
            pool=views.pool(),
            carriers=services.carriers() if services.carriers else [],
            **extra,
        )

    @router.get("/operator")
    def operator(request: Request, viewer: Operator) -> Response:
        return operator_page(request)

    @router.post("/operator/credit")
    async def add_credit(request: Request, viewer: Operator) -> Response:
        form = await request.form()
        account_id = _form_text(form, "account_id")
        try:
            amount = Decimal(_form_text(form, "amount").strip())
        except InvalidOperation:
            amount = Decimal(0)
        if not amount.is_finite() or amount <= 0 or amount > 1_000_000:
            return operator_page(
                request, 400, credit_error="Give an amount of credits between 0.001 and 1,000,000."
            )
        services.accounts.get(account_id)
        with services.db.write() as session:
            ledger.credit(
                session,
                account_id,
                int(amount * MILLI),
                services.clock.now(),
                kind="topup",
                note=_form_text(form, "note").strip()[:200] or f"added by {viewer.email}",
            )
        return go("/operator", "credit-added")

    @router.post("/operator/numbers")
    async def load_numbers(request: Request, viewer: Operator) -> Response:
        form = await request.form()
        wanted = split_list(_form_text(form, "numbers").replace(" ", ""))
        if not wanted:
            return operator_page(request, 400, pool_error="List at least one number.")
        try:
            result = services.numbers.add_to_pool(wanted)
        except Invalid as exc:
            return operator_page(
                request, 400, pool_error=exc.message, numbers_text=_form_text(form, "numbers")
            )
        message = f"Added {len(result.added)} number{'s' if len(result.added) != 1 else ''}."
        if result.already_present:
            message += f" {len(result.already_present)} were in the pool already."
        return operator_page(request, pool_message=message)

    return router


def _set_session_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path=PREFIX,
    )


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets: a customer's SMS must not
    # become one when the export is opened.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
