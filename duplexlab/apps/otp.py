"""An OTP service: the "Resend OTP in 30 s" screen, server side.

:class:`OTPService` is plain logic with an injectable clock (no sockets): send a
code, refuse a resend until the cooldown has passed, expire codes, count wrong
attempts. The routes make it HTTP:

- ``POST /api/otp/send``   ``{"phone": "9876543210"}`` → ``200``, or ``429`` with ``Retry-After``
- ``POST /api/otp/verify`` ``{"phone": ..., "code": "123456"}`` → ``200``, ``400``, ``410`` or ``429``

The code itself goes to the phone's inbox (``lab.otp.inbox(phone)``), as an SMS would.

Phone numbers are normalized before anything else (:func:`normalize_phone`), so
``+44 1234 567890``, ``441234567890`` and ``0044-1234-567890`` are one phone
with one cooldown. The service remembers at most ``MAX_PHONES`` phones.
"""

from __future__ import annotations

import collections
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ..errors import DuplexLabError
from ..runtime.http import json_error, read_json

__all__ = ["OTPError", "OTPService", "add_routes", "normalize_phone"]

SEPARATORS = re.compile(r"[\s().-]")
MAX_PHONES = 10_000
INBOX_SIZE = 20


def normalize_phone(phone: object, *, country: str = "91") -> str:
    """One spelling per phone number, E.164 style: ``"+" + country code + number``.

    Spaces, dots, dashes and brackets are ignored; ``+`` or ``00`` starts an
    international number; a 10-digit number (or 11 with a leading 0, the
    trunk prefix) is a national one of ``country`` (India, 91, by default).

    Raises:
        ValueError: not 6 to 15 digits after that.

    Example::

        normalize_phone("98765 43210") == normalize_phone("+91 98765-43210") == "+919876543210"
        normalize_phone("441234567890") == normalize_phone("+44 1234 567890")
    """
    if not isinstance(phone, str):
        raise ValueError(f"{phone!r} is not a phone number")
    digits = SEPARATORS.sub("", phone)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("0"):
        digits = country + digits[1:]
    elif len(digits) == 10:
        digits = country + digits
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise ValueError(f"{phone!r} is not a phone number")
    return "+" + digits


class OTPError(DuplexLabError):
    """Why the service refused: an HTTP status, a message, a hint, and maybe a wait."""

    def __init__(self, status: int, error: str, hint: str, retry_after: float | None = None):
        super().__init__(error)
        self.status, self.error, self.hint, self.retry_after = status, error, hint, retry_after


@dataclass
class _Pending:
    code: str
    sent_at: float
    attempts: int = 0


class OTPService:
    """One-time codes per phone number.

    Args:
        cooldown: seconds before a code may be sent again to the same phone (30, as
            on most OTP screens; make it small so a class need not wait).
        ttl: seconds a code stays valid.
        max_attempts: wrong codes allowed before the code is burnt.
    """

    def __init__(
        self,
        *,
        cooldown: float = 30.0,
        ttl: float = 120.0,
        max_attempts: int = 3,
        clock: Callable[[], float] = time.perf_counter,
        rng: random.Random | None = None,
    ) -> None:
        self.cooldown, self.ttl, self.max_attempts = cooldown, ttl, max_attempts
        self._clock = clock
        self._rng = rng or random.Random()
        self._pending: dict[str, _Pending] = {}
        self._last_sent: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._inbox: dict[str, collections.deque[str]] = {}

    @staticmethod
    def _phone(phone: object) -> str:
        try:
            return normalize_phone(phone)
        except ValueError:
            raise OTPError(
                400, f"{phone!r} is not a phone number", 'send 6 to 15 digits, e.g. {"phone": "9876543210"}'
            ) from None

    def _forget_oldest(self) -> None:
        while len(self._last_sent) > MAX_PHONES:
            phone, _ = self._last_sent.popitem(last=False)
            self._pending.pop(phone, None)
            self._inbox.pop(phone, None)

    def retry_after(self, phone: str) -> float:
        """Seconds until a new code may be sent to ``phone`` (0 if now)."""
        phone = self._phone(phone)
        last = self._last_sent.get(phone)
        return 0.0 if last is None else max(0.0, last + self.cooldown - self._clock())

    def send(self, phone: str) -> float:
        """Send a fresh code to ``phone``; return the cooldown before the next one.

        Raises:
            OTPError: 429 with ``retry_after`` while the cooldown runs.
        """
        phone = self._phone(phone)
        wait = self.retry_after(phone)
        if wait > 0:
            raise OTPError(
                429,
                f"a code was sent less than {self.cooldown:g} s ago",
                f"wait {math.ceil(wait)} s (the Retry-After header) and ask again",
                wait,
            )
        code = f"{self._rng.randrange(10**6):06d}"
        now = self._clock()
        self._pending[phone] = _Pending(code, now)
        self._last_sent[phone] = now
        self._last_sent.move_to_end(phone)
        self._inbox.setdefault(phone, collections.deque(maxlen=INBOX_SIZE)).append(code)
        self._forget_oldest()
        return self.cooldown

    def verify(self, phone: str, code: object) -> None:
        """Accept the right code once; raise :class:`OTPError` for anything else."""
        phone = self._phone(phone)
        pending = self._pending.get(phone)
        if pending is None:
            raise OTPError(400, f"no code is waiting for {phone}", "send one first with /api/otp/send")
        if self._clock() - pending.sent_at > self.ttl:
            del self._pending[phone]
            raise OTPError(410, f"the code expired after {self.ttl:g} s", "send a new one")
        if not isinstance(code, str) or code != pending.code:
            pending.attempts += 1
            left = self.max_attempts - pending.attempts
            if left <= 0:
                del self._pending[phone]
                raise OTPError(429, "too many wrong codes; this code is burnt", "send a new code and try again")
            raise OTPError(400, "wrong code", f"{left} attempt(s) left; check the SMS inbox")
        del self._pending[phone]

    def inbox(self, phone: str) -> list[str]:
        """The last codes sent to ``phone``, oldest first (the phone's SMS inbox)."""
        return list(self._inbox.get(self._phone(phone), []))


OTP_KEY = web.AppKey("otp", OTPService)


def add_routes(app: web.Application, service: OTPService) -> None:
    app[OTP_KEY] = service
    app.router.add_post("/api/otp/send", send_code)
    app.router.add_post("/api/otp/verify", verify_code)


def _refuse(exc: OTPError) -> web.HTTPException:
    error = json_error(exc.status, exc.error, exc.hint)
    if exc.retry_after is not None:
        error.headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return error


async def send_code(request: web.Request) -> web.Response:
    body = await read_json(request, example='{"phone": "9876543210"}')
    service = request.app[OTP_KEY]
    try:
        cooldown = service.send(body.get("phone", ""))
    except OTPError as exc:
        raise _refuse(exc) from None
    return web.json_response({"sent": True, "resend_after": cooldown, "expires_in": service.ttl})


async def verify_code(request: web.Request) -> web.Response:
    body = await read_json(request, example='{"phone": "9876543210", "code": "123456"}')
    try:
        request.app[OTP_KEY].verify(body.get("phone", ""), body.get("code", ""))
    except OTPError as exc:
        raise _refuse(exc) from None
    return web.json_response({"verified": True})
