"""The OTP service: cooldown with Retry-After, expiry, attempts."""

import random
from typing import Any

import pytest

from duplexlab.apps.otp import OTPError, OTPService


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_cooldown_expiry_and_attempts_with_a_fake_clock():
    """Resend is refused until the cooldown passes; codes expire; 3 wrong codes burn it."""
    clock = Clock()
    otp = OTPService(cooldown=30, ttl=60, max_attempts=3, clock=clock, rng=random.Random(1))
    otp.send("9876543210")
    clock.now += 12.2
    with pytest.raises(OTPError) as info:
        otp.send("9876543210")
    assert info.value.status == 429 and info.value.retry_after == pytest.approx(17.8)
    clock.now += 17.8
    otp.send("9876543210")
    code = otp.inbox("9876543210")[-1]
    for left in (2, 1):
        with pytest.raises(OTPError, match="wrong code") as info:
            otp.verify("9876543210", "000000" if code != "000000" else "111111")
        assert f"{left} attempt" in info.value.hint
    with pytest.raises(OTPError, match="burnt"):
        otp.verify("9876543210", "999999" if code != "999999" else "111111")
    clock.now += 30
    otp.send("9876543210")
    clock.now += 61
    with pytest.raises(OTPError, match="expired") as info:
        otp.verify("9876543210", otp.inbox("9876543210")[-1])
    assert info.value.status == 410


def test_http_resend_gets_429_with_retry_after(lab):
    """Over HTTP: resend before the cooldown answers 429 with the right Retry-After."""
    lab.otp.cooldown = 5
    client = lab.client(check=False)
    assert client.post("/api/otp/send", json={"phone": "9876543210"}).json()["resend_after"] == 5
    again = client.post("/api/otp/send", json={"phone": "9876543210"})
    assert again.status == 429 and again.headers["Retry-After"] == "5"
    assert "Retry-After" in again.json()["hint"]
    code = lab.otp.inbox("9876543210")[-1]
    assert client.post("/api/otp/verify", json={"phone": "9876543210", "code": code}).status == 200
    bad = client.post("/api/otp/send", json={"phone": "call me"})
    assert bad.status == 400 and "digits" in bad.json()["hint"]


def test_one_phone_has_one_spelling():
    """+44…, 44… and 0044… are one phone, so the resend cooldown cannot be dodged by spelling."""
    from duplexlab.apps.otp import OTPError, OTPService, normalize_phone

    assert normalize_phone("+441234567890") == normalize_phone("441234567890") == "+441234567890"
    assert normalize_phone("0044 1234-567890") == "+441234567890"
    assert normalize_phone("98765 43210") == normalize_phone("+91 (98765) 43210") == "+919876543210"
    assert normalize_phone("098765 43210") == "+919876543210"
    service = OTPService(cooldown=30)
    service.send("+441234567890")
    with pytest.raises(OTPError) as info:
        service.send("441234567890")
    assert info.value.status == 429
    assert service.inbox("0044 1234 567890") == service.inbox("+441234567890")
    hostile: tuple[Any, ...] = ("12", "phone", "+1234567890123456", 9876543210)  # an int too, as JSON may carry
    for bad in hostile:
        with pytest.raises(OTPError):
            service.send(bad)
