"""The status line: certificate subject / days left / expiry, and the token's lifetime."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

from knoxhook import certs
from knoxhook.config import Settings
from knoxhook.subscriptions import SubscriptionService
from knoxhook.tui.status import certificate_status, status_provider, token_status

MID_2026 = datetime(2026, 6, 1, tzinfo=UTC)


def test_valid_certificate_shows_common_name_and_days_left(samsung_cert_2024: bytes) -> None:
    status = certificate_status(samsung_cert_2024, now=MID_2026)
    assert status.text == "certificate: CN=*.samsungknox.com · 481 days left"
    assert not status.warning


def test_expired_certificate_is_a_warning(samsung_cert_2022: bytes) -> None:
    status = certificate_status(samsung_cert_2022, now=MID_2026)
    assert status.text == "certificate: CN=*.samsungknox.com EXPIRED 214 days ago"
    assert status.warning


def test_an_expiry_a_day_ago_is_yesterday_in_calendar_words(samsung_cert_2022: bytes) -> None:
    info = certs.inspect_pem(samsung_cert_2022)
    after = info.not_after + timedelta(seconds=1)  # the day it expired: today
    assert certificate_status(samsung_cert_2022, now=after).text.endswith("EXPIRED today")
    next_day = datetime.combine(after.date() + timedelta(days=1), time_of_day(12), UTC)
    status = certificate_status(samsung_cert_2022, now=next_day)
    assert status.text == "certificate: CN=*.samsungknox.com EXPIRED yesterday"


def test_missing_and_garbage_certificates_are_warnings_not_crashes() -> None:
    assert certificate_status(None).warning
    assert "knoxhook cert fetch" in certificate_status(None).text
    bad = certificate_status(b"not a pem")
    assert bad.warning
    assert bad.text.startswith("certificate: unreadable (")


def test_token_status_follows_the_token_cache(
    knox_settings: Settings, service: SubscriptionService
) -> None:
    assert token_status(knox_settings) == "token: none cached"
    service.list()  # fetches and caches a token (600 s by default on the emulator)
    assert re.fullmatch(r"token: valid (9m [0-5]\ds|10m 00s)", token_status(knox_settings))
    assert token_status(knox_settings, now=time.time() + 3600).startswith("token: expired")


def test_status_provider_reads_the_stored_certificate_or_the_given_file(
    knox_settings: Settings, samsung_cert_2024: bytes, tmp_path: Path
) -> None:
    line = status_provider(knox_settings)()
    assert line.text.startswith("certificate: none stored")
    assert line.text.endswith(f"token: none cached   {knox_settings.base_url}")
    certs.store(knox_settings, samsung_cert_2024)
    assert status_provider(knox_settings)().text.startswith("certificate: CN=*.samsungknox.com · ")
    missing = tmp_path / "nope.pem"
    line = status_provider(knox_settings, missing)()
    assert line.warning
    assert line.text.startswith(f"certificate: cannot read {missing}: No such file")
