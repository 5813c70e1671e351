"""Mail transports: delivery into a local Maildir, and sending through an SMTP relay."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import secrets
import ssl
from pathlib import Path
from typing import Literal

import aiosmtplib

from smsbridge.mail.ports import OutgoingEmail, TransportError

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]

_SECURITY_MODES = ("none", "starttls", "tls")

# Email ids become file names. Refuse anything that could leave the directory ("/", ".."), hide
# the file (a leading dot) or contain the ":" (or the "!" and ";" some systems use instead) and
# "," that Maildir readers append flags and sizes after, which would confuse the "already
# delivered?" check below.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_FLAG_SEPARATORS = frozenset(":!;,")

# Filesystems without hard links answer link() with one of these; we then fall back to rename.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


class MaildirTransport:
    """Delivers each email as one file in a Maildir: durably, atomically, at most once per id.

    The file is written and fsync'ed in tmp/, then hard-linked into new/ and new/ is fsync'ed,
    so once send() returns the email survives a crash, and a reader never sees half a file.
    Its name is derived from the email id alone, and an id already in new/ or cur/ (where a mail
    reader moves what it has seen, adding flags to the name) is not delivered again: the
    outbound queue may resend an email after a crash without producing a duplicate. The bytes
    are stored exactly as given (CRLF line endings included, which Maildir readers accept).
    """

    name = "maildir"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    async def send(self, email: OutgoingEmail) -> None:
        if not _SAFE_ID.fullmatch(email.id):
            raise TransportError(
                f"email id {email.id!r} cannot name a Maildir file", permanent=True
            )
        try:
            await asyncio.to_thread(self._deliver, email)
        except OSError as exc:
            # Disk full, permissions, a missing mount: all things an operator can fix, after
            # which a retry succeeds. Nothing about the email itself makes a Maildir refuse it.
            raise TransportError(
                f"cannot deliver email {email.id} into the Maildir {self.root}: {exc}",
                permanent=False,
            ) from exc

    async def close(self) -> None:
        return None

    def _deliver(self, email: OutgoingEmail) -> None:
        file_name = f"{email.id}.smsbridge"
        tmp, new, cur = self._ensure_dirs()
        if _already_delivered(file_name, new, cur):
            return
        # A unique tmp name, so two concurrent sends of one id cannot write into the same file.
        tmp_path = tmp / f"{file_name}.{os.getpid()}.{secrets.token_hex(8)}"
        _write_durably(tmp_path, email.raw)
        try:
            _link_without_clobbering(tmp_path, new / file_name)
        finally:
            tmp_path.unlink(missing_ok=True)
        _fsync_dir(new)

    def _ensure_dirs(self) -> tuple[Path, Path, Path]:
        subdirs = (self.root / "tmp", self.root / "new", self.root / "cur")
        root_existed = self.root.is_dir()
        created = False
        for subdir in subdirs:
            try:
                subdir.mkdir(mode=0o700, parents=True)
                created = True
            except FileExistsError:
                pass
        if created:
            # The new directory entries must reach the disk too, or a crash could lose the
            # directories (and so the emails in them) even though each file was fsync'ed.
            _fsync_dir(self.root)
            if not root_existed:
                _fsync_dir(self.root.parent)
        return subdirs


def _already_delivered(file_name: str, new: Path, cur: Path) -> bool:
    if (new / file_name).exists():
        return True
    # A reader renames new/NAME to cur/NAME:2,FLAGS (some with "!" or ";", Dovecot may add
    # ",S=size"), so match the name followed by a separator. This scans cur/, which is fine for
    # the sizes a gateway's Maildir reaches; ids cannot contain a separator, so no other
    # email's name can match.
    with os.scandir(cur) as entries:
        for entry in entries:
            if entry.name == file_name or (
                entry.name.startswith(file_name) and entry.name[len(file_name)] in _FLAG_SEPARATORS
            ):
                return True
    return False


def _write_durably(path: Path, data: bytes) -> None:
    try:
        # 0600: emails are private; "x" refuses to reuse a name, which the random suffix avoids.
        with open(path, "xb", opener=lambda p, flags: os.open(p, flags, 0o600)) as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        # Do not leave a partial file behind (a disk-full write, say).
        path.unlink(missing_ok=True)
        raise


def _link_without_clobbering(source: Path, target: Path) -> None:
    # link() fails if the target exists, where rename() would silently replace it: an email
    # delivered by a concurrent send of the same id (or one the check above raced with) stays
    # as it is. This is the delivery method the Maildir specification itself recommends.
    try:
        os.link(source, target)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        os.rename(source, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; there is nothing more we could do there.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


class SmtpRelayTransport:
    """Sends through an SMTP relay (a smarthost), keeping one session open between emails.

    Sends are serialised over that one session. Before reusing it a NOOP checks the relay has
    not dropped it (relays close idle sessions); if it has, a new session is opened. After any
    failure the session is thrown away, so the next email never inherits a half-finished
    transaction. The relay is never retried inside send(): the outbound queue does retries.

    Errors map to TransportError like this:
    - opening the session (connect, greeting, EHLO, STARTTLS, AUTH): always temporary, even on a
      5xx, because it says nothing about the email - a wrong password or a relay refusing our
      address is fixed by the operator, after which queued emails should still go out;
    - MAIL FROM or DATA answered 5xx: permanent, 4xx: temporary (both with the code);
    - every recipient refused: permanent if all refusals are 5xx, else temporary (a retry may
      reach the 4xx ones);
    - some recipients refused but at least one accepted: success (the refusals are logged). The
      relay has the email; failing the send would make the queue resend it to the recipients
      who already accepted it;
    - connection loss and timeouts: temporary. (If the relay drops the connection after taking
      the message but before answering, the retry duplicates it; SMTP offers no way around that.)

    Credentials are only sent over TLS ("starttls" or "tls"); with "starttls" the session fails
    unless the relay offers STARTTLS, so a relay stripping it cannot downgrade us to plain text.
    With "none" no STARTTLS is attempted even if offered.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        validate_certs: bool = True,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`tls_context`, when given, decides certificate checks (e.g. to trust a private CA);
        otherwise certificates are verified against the system store unless
        `validate_certs` is False."""
        if security not in _SECURITY_MODES:
            raise ValueError(f"security must be one of {_SECURITY_MODES}, not {security!r}")
        if not 0 < port < 65536:
            raise ValueError(f"invalid SMTP port {port}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if (username is None) != (password is None):
            raise ValueError("give both an SMTP username and a password, or neither")
        if username is not None and security == "none":
            raise ValueError("refusing to send SMTP credentials without TLS; use starttls or tls")
        self.host = host
        self.port = port
        self.security: Security = security
        self._username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.validate_certs = validate_certs
        self.tls_context = tls_context
        self._smtp: aiosmtplib.SMTP | None = None
        # One SMTP session carries one transaction at a time.
        self._lock = asyncio.Lock()

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    async def send(self, email: OutgoingEmail) -> None:
        if not email.recipients:
            raise TransportError(f"email {email.id} has no recipients", permanent=True)
        async with self._lock:
            try:
                smtp = await self._session()
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise TransportError(
                    f"SMTP relay {self._where}: cannot open a session: {_describe(exc)}",
                    permanent=False,
                    code=exc.code if isinstance(exc, aiosmtplib.SMTPResponseException) else None,
                ) from exc
            except BaseException:
                # Cancelled during the NOOP probe, say: the session's state is unknown.
                self._drop()
                raise
            try:
                refused, _ = await smtp.sendmail(
                    email.envelope_sender,
                    email.recipients,
                    email.raw,
                    mail_options=_mail_options(email),
                )
            except BaseException as exc:
                # Whatever happened (cancellation included), the session's state is unknown.
                self._drop()
                if isinstance(exc, aiosmtplib.SMTPException | OSError | ValueError):
                    raise self._transaction_error(email, exc) from exc
                raise
        if refused:
            log.warning(
                "SMTP relay %s took email %s but refused some recipients: %s",
                self._where,
                email.id,
                "; ".join(f"{rcpt}: {r.code} {r.message}" for rcpt, r in refused.items()),
            )

    async def close(self) -> None:
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is None:
                return
            try:
                if smtp.is_connected:
                    await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass  # we are leaving anyway
            finally:
                smtp.close()

    async def _session(self) -> aiosmtplib.SMTP:
        if self._smtp is not None:
            if await _still_open(self._smtp):
                return self._smtp
            self._drop()
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._username,
            password=self._password,
            local_hostname=self.local_hostname,
            timeout=self.timeout,
            use_tls=self.security == "tls",
            # False, not None: None would mean "STARTTLS if offered", which for "none" could fail
            # on a relay's bad certificate, and for "starttls" would silently accept plain text.
            start_tls=self.security == "starttls",
            validate_certs=self.validate_certs,
            tls_context=self.tls_context,
        )
        await smtp.connect()  # closes itself if anything after the TCP connect fails
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _transaction_error(self, email: OutgoingEmail, exc: BaseException) -> TransportError:
        prefix = f"SMTP relay {self._where} did not take email {email.id}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [refusal.code for refusal in exc.recipients]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            # Report a code that explains the verdict: a 4xx when any refusal was temporary.
            code = next((c for c in codes if (500 <= c < 600) == permanent), None)
            details = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            return TransportError(
                f"{prefix}: all recipients refused: {details}", permanent=permanent, code=code
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return TransportError(
                f"{prefix}: {exc.code} {exc.message}",
                permanent=500 <= exc.code < 600,
                code=exc.code,
            )
        if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
            # The relay lacks SMTPUTF8 for a non-ASCII address, or an address cannot be put in
            # an SMTP command at all: resending the same email cannot succeed.
            return TransportError(f"{prefix}: {exc}", permanent=True)
        return TransportError(f"{prefix}: {_describe(exc)}", permanent=False)


async def _still_open(smtp: aiosmtplib.SMTP) -> bool:
    if not smtp.is_connected:
        return False
    try:
        await smtp.noop()
    except (aiosmtplib.SMTPException, OSError):
        return False
    return True


def _mail_options(email: OutgoingEmail) -> list[str]:
    addresses = [email.envelope_sender, *email.recipients]
    # Non-ASCII addresses need SMTPUTF8; aiosmtplib fails the send if the relay lacks it.
    return [] if all(address.isascii() for address in addresses) else ["SMTPUTF8"]


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        return "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
