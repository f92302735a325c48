"""The KWN event catalogue: every event, its service, what it means, an example payload.

Names, services and payload shapes follow ``shared/knox-api.md`` §6 [doc]; the KDMS and
KC payload shapes are not public, so they are modelled on KE's bulk result and KG's
status change [assume]. Pure data: no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Service(StrEnum):
    """A Knox service that sends KWN events; its code prefixes its events' names.

    The one list of services: ``--service`` takes these, ``SERVICES`` maps them to names.
    """

    label: str  # the service's name, "Knox Guard"

    def __new__(cls, code: str, label: str) -> Service:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    KG = ("KG", "Knox Guard")
    KE = ("KE", "Knox E-FOTA")
    KAI = ("KAI", "Knox Asset Intelligence")
    KDMS = ("KDMS", "Knox Device Management Service")
    KC = ("KC", "Knox Configure")


SERVICES: Final[dict[str, str]] = {service.value: service.label for service in Service}


@dataclass(frozen=True)
class Event:
    """One KWN event type."""

    name: str
    service: str  # a Service code
    description: str
    since: str  # KWN release that added it

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "service": self.service,
            "service_name": SERVICES[self.service],
            "description": self.description,
            "since": self.since,
        }


def _e(name: str, description: str, since: str) -> Event:
    return Event(name, name.split("_", 1)[0], description, since)


CATALOGUE: Final[tuple[Event, ...]] = (
    _e("KG_DEVICE_ENROLLED", "A device finished enrolling in Knox Guard.", "23.03"),
    _e(
        "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED",
        "A relock timestamp was applied to a Knox Guard device.",
        "23.03",
    ),
    _e("KG_DEVICE_LOCKED", "A Knox Guard device was locked (Locking -> Locked).", "23.03"),
    _e("KG_DEVICE_UNLOCKED", "A Knox Guard device was unlocked (Unlocking -> Enrolled).", "23.03"),
    _e("KE_DEVICE_BULK_CREATE", "An E-FOTA bulk device upload completed.", "23.09"),
    _e("KE_DEVICE_BULK_REFRESH", "An E-FOTA bulk device refresh completed.", "23.09"),
    _e("KE_DEVICE_BULK_DELETE", "An E-FOTA bulk device delete completed.", "23.09"),
    _e("KE_CAMPAIGN_DELETE", "An E-FOTA campaign was deleted.", "23.09"),
    _e("KE_DEVICE_STATUS_CHANGE", "An E-FOTA device changed status.", "23.09"),
    _e(
        "KE_DEVICE_BULK_LICENSE_UNENROLL",
        "An E-FOTA bulk license unenrollment completed.",
        "23.09",
    ),
    _e("KAI_APP_ANR_FC", "Apps on a device stopped responding or force-closed.", "23.09"),
    _e("KAI_WIFI_DISCONNECTIONS", "A device reported Wi-Fi disconnections.", "23.09"),
    _e("KAI_BATTERY_STATUS", "A device reported its battery status.", "23.09"),
    _e("KAI_DEVICE_DIAGNOSTICSLOGS", "Diagnostic logs were collected from a device.", "23.09"),
    _e("KAI_APP_USAGE_TIME_BATTERY", "Per-app usage time and battery use on a device.", "23.12"),
    _e("KAI_APP_USAGE_NETWORK", "Per-app network usage on a device.", "23.12"),
    _e("KAI_APP_USAGE_SCREENTIME", "Per-app screen time on a device.", "23.12"),
    _e("KAI_BATTERY_CHARGING", "A device's charging sessions.", "23.12"),
    _e("KAI_BATTERY_LEVEL_SHIFT_START", "A device's battery level started shifting.", "23.12"),
    _e("KAI_BATTERY_LEVEL_SHIFT_END", "A device's battery level stopped shifting.", "23.12"),
    _e("KAI_BATTERY_LEVEL_TRIGGERED", "A device's battery crossed a set level.", "23.12"),
    _e("KAI_WIFI_CONNECTIONS", "A device reported Wi-Fi connections.", "24.04"),
    _e("KDMS_DEVICE_UPLOAD", "A Knox Device Management Service device upload completed.", "24.06"),
    _e("KDMS_DEVICE_DELETE", "A Knox Device Management Service device delete completed.", "24.06"),
    _e("KC_DEVICE_STATUS_CHANGE", "A Knox Configure device changed status.", "26.10"),
)

BY_NAME: Final[dict[str, Event]] = {e.name: e for e in CATALOGUE}
EVENT_NAMES: Final[frozenset[str]] = frozenset(BY_NAME)


def get(name: str) -> Event | None:
    """The event called ``name`` (exact, upper case), or None."""
    return BY_NAME.get(name)


def by_service(service: str | None = None) -> list[Event]:
    """The catalogue, or the events of one service (``KG``, ``KE``, ``KAI``, ``KDMS``, ``KC``)."""
    if service is None:
        return list(CATALOGUE)
    key = service.upper()
    return [e for e in CATALOGUE if e.service == key]


def closest(name: str, n: int = 3) -> list[str]:
    """Up to ``n`` catalogue names closest to ``name``, for "did you mean" messages."""
    import difflib  # only for "did you mean" messages

    return difflib.get_close_matches(name.upper(), sorted(EVENT_NAMES), n=n, cutoff=0.5)


def unknown_events_message(names: Sequence[str]) -> str:
    """What knoxhook says of names not in the catalogue, with the closest ones:

    ``unknown event 'KG_LOCKD'; did you mean KG_DEVICE_LOCKED?`` for one name,
    ``unknown events: 'KG_LOCKD' (did you mean KG_DEVICE_LOCKED?); 'ZZZ'`` for several.
    Each name is cut to 100 characters (it may be anything a client sent).
    """
    if len(names) == 1:
        near = closest(names[0])
        tail = f"; did you mean {', '.join(near)}?" if near else ""
        return f"unknown event {names[0][:100]!r}{tail}"
    parts = []
    for name in names:
        near = closest(name)
        shown = repr(name[:100])
        parts.append(f"{shown} (did you mean {', '.join(near)}?)" if near else shown)
    return f"unknown events: {'; '.join(parts)}"


# --- example payloads (knox-api.md §6) ------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _imei(rng: random.Random) -> str:
    return "35" + _digits(rng, 13)


def _epoch_ms(rng: random.Random) -> str:
    return str(1_700_000_000_000 + rng.randrange(100_000_000_000))


def _kg_status(previous: str, current: str) -> Callable[[random.Random], dict[str, Any]]:
    def make(rng: random.Random) -> dict[str, Any]:
        return {
            "previousDeviceStatus": previous,
            "deviceStatus": current,
            "lastUpdatedAt": _epoch_ms(rng),
            "deviceUid": _imei(rng),
            "imei": _imei(rng),
            "imei2": _imei(rng),
        }

    return make


def _kg_relock(rng: random.Random) -> dict[str, Any]:
    return {
        "relockTimestamp": _epoch_ms(rng),
        "lastUpdatedAt": _epoch_ms(rng),
        "deviceUid": _imei(rng),
        "imei": _imei(rng),
        "imei2": _imei(rng),
    }


def _bulk_result(rng: random.Random) -> dict[str, Any]:
    ok = [{"imei": _imei(rng), "serialNumber": None, "deviceId": None} for _ in range(2)]
    failed = [{"imei": _imei(rng), "serialNumber": None, "error": "DEVICE_ALREADY_EXISTS"}]
    return {
        "successCount": len(ok),
        "failureCount": len(failed),
        "successfulDevices": ok,
        "failedDevices": failed,
    }


def _kai_device(rng: random.Random) -> dict[str, Any]:
    return {
        "serialNumber": "R5" + _digits(rng, 9),
        "imei": _imei(rng),
        "imei1": _imei(rng),
        "imei2": _imei(rng),
        "groupName": "Field devices",
        "model": "SM-G991B",
        "firmwareVersion": "G991BXXSAFXB1",
        "osVersion": "14",
        "updatedTime": _epoch_ms(rng),
        "timeZone": "UTC",
    }


def _kai(
    detail_key: str, detail: Callable[[random.Random], dict[str, Any]]
) -> Callable[[random.Random], dict[str, Any]]:
    def make(rng: random.Random) -> dict[str, Any]:
        return {**_kai_device(rng), detail_key: [detail(rng)]}

    return make


def _app_usage(rng: random.Random) -> dict[str, Any]:
    return {
        "appName": "Camera",
        "appVersion": "14.1.02.9",
        "packageName": "com.sec.android.app.camera",
        "appUID": str(10_000 + rng.randrange(1000)),
        "foregroundTime": rng.randrange(3_600_000),
        "backgroundTime": rng.randrange(3_600_000),
        "batteryUsage": round(rng.random() * 10, 2),
        "collectionStartTime": _epoch_ms(rng),
        "collectionEndTime": _epoch_ms(rng),
        "timeZone": "UTC",
    }


def _battery(rng: random.Random) -> dict[str, Any]:
    return {
        "level": rng.randrange(101),
        "temperature": 30 + rng.randrange(10),
        "time": _epoch_ms(rng),
    }


def _wifi(rng: random.Random) -> dict[str, Any]:
    return {"ssid": "corp-wifi", "rssi": -40 - rng.randrange(50), "time": _epoch_ms(rng)}


def _anr(rng: random.Random) -> dict[str, Any]:
    return {
        "packageName": "com.example.app",
        "type": rng.choice(["ANR", "FC"]),
        "time": _epoch_ms(rng),
    }


def _logs(rng: random.Random) -> dict[str, Any]:
    return {
        "logType": "dumpstate",
        "fileName": f"diag-{_digits(rng, 8)}.zip",
        "time": _epoch_ms(rng),
    }


_PAYLOADS: Final[dict[str, Callable[[random.Random], dict[str, Any]]]] = {
    "KG_DEVICE_ENROLLED": _kg_status("Accepted", "Enrolled"),
    "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED": _kg_relock,
    "KG_DEVICE_LOCKED": _kg_status("Locking", "Locked"),
    "KG_DEVICE_UNLOCKED": _kg_status("Unlocking", "Enrolled"),
    "KE_DEVICE_BULK_CREATE": _bulk_result,
    "KE_DEVICE_BULK_REFRESH": _bulk_result,
    "KE_DEVICE_BULK_DELETE": _bulk_result,
    "KE_CAMPAIGN_DELETE": lambda rng: {"campaignId": _digits(rng, 12), "deletedAt": _epoch_ms(rng)},
    "KE_DEVICE_STATUS_CHANGE": _kg_status("Pending", "Updated"),
    "KE_DEVICE_BULK_LICENSE_UNENROLL": _bulk_result,
    "KAI_APP_ANR_FC": _kai("anrFcDetail", _anr),
    "KAI_WIFI_DISCONNECTIONS": _kai("disconnectionDetail", _wifi),
    "KAI_BATTERY_STATUS": _kai("batteryDetail", _battery),
    "KAI_DEVICE_DIAGNOSTICSLOGS": _kai("logDetail", _logs),
    "KAI_APP_USAGE_TIME_BATTERY": _kai("usageDetail", _app_usage),
    "KAI_APP_USAGE_NETWORK": _kai("usageDetail", _app_usage),
    "KAI_APP_USAGE_SCREENTIME": _kai("usageDetail", _app_usage),
    "KAI_BATTERY_CHARGING": _kai("chargingDetail", _battery),
    "KAI_BATTERY_LEVEL_SHIFT_START": _kai("batteryDetail", _battery),
    "KAI_BATTERY_LEVEL_SHIFT_END": _kai("batteryDetail", _battery),
    "KAI_BATTERY_LEVEL_TRIGGERED": _kai("batteryDetail", _battery),
    "KAI_WIFI_CONNECTIONS": _kai("connectionDetail", _wifi),
    "KDMS_DEVICE_UPLOAD": _bulk_result,
    "KDMS_DEVICE_DELETE": _bulk_result,
    "KC_DEVICE_STATUS_CHANGE": _kg_status("Pending", "Configured"),
}


def example_payload(name: str, rng: random.Random | None = None) -> dict[str, Any]:
    """A realistic payload for event ``name`` (``KeyError`` for an unknown event)."""
    return _PAYLOADS[name](rng or random.Random())  # noqa: S311 - sample data, not secrets
