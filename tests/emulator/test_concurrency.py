"""8 clients x 50 mixed requests: no 5xx, and no event ever held by two subscriptions."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import httpx2

from knoxhook.emulator.testing import EmulatorHandle

EVENTS = [
    "KG_DEVICE_LOCKED",
    "KG_DEVICE_UNLOCKED",
    "KDMS_DEVICE_UPLOAD",
    "KDMS_DEVICE_DELETE",
    "KE_CAMPAIGN_DELETE",
    "KC_DEVICE_STATUS_CHANGE",
]
THREADS, REQUESTS = 8, 50
SUBS = "/kwn/v1/subscriptions"


def _double_holders(subscriptions: list[dict[str, Any]]) -> list[str]:
    seen = Counter(e for s in subscriptions for e in s["events"])
    return [event for event, n in seen.items() if n > 1]


def _worker(
    emu: EmulatorHandle, seed: int, statuses: Counter[int], ops: Counter[str], errors: list[str]
) -> None:
    rng = random.Random(seed)
    token = emu.token()
    with httpx2.Client(
        base_url=emu.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        verify=False,
    ) as http:
        known: list[str] = []
        for _ in range(REQUESTS):
            op = rng.choice(["create", "create", "update", "delete", "list"])
            events = rng.sample(EVENTS, rng.randint(1, 2))
            if op == "create":
                r = http.post(SUBS, json={"url": f"http://127.0.0.1:9/{seed}", "events": events})
                if r.status_code == 201:
                    known.append(r.json()["subscriptionId"])
            elif op == "list" or not known:
                r = http.get(SUBS)
            elif op == "update":
                r = http.put(f"{SUBS}/{rng.choice(known)}", json={"events": events})
            else:
                r = http.delete(f"{SUBS}/{known.pop(rng.randrange(len(known)))}")
            statuses[r.status_code] += 1
            ops[r.request.method] += 1
            if r.status_code >= 500:
                errors.append(f"{op}: {r.status_code} {r.text}")
            if r.status_code == 400 and r.json()["message"] != "EVENT_ALREADY_SUBSCRIBED":
                errors.append(f"{op}: unexpected 400 {r.text}")


def test_eight_clients_fifty_mixed_requests(emulator: EmulatorHandle) -> None:
    statuses: Counter[int] = Counter()
    ops: Counter[str] = Counter()
    errors: list[str] = []
    violations: list[str] = []
    done = threading.Event()

    def monitor() -> None:
        token = emulator.token()
        with httpx2.Client(timeout=30.0, verify=False) as http:
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                listed = http.get(
                    emulator.base_url + SUBS, headers={"Authorization": f"Bearer {token}"}
                ).json()
                violations.extend(_double_holders(listed))
                violations.extend(emulator.emulator.store.invariant_violations())

    watcher = threading.Thread(target=monitor)
    watcher.start()
    workers = [
        threading.Thread(target=_worker, args=(emulator, seed, statuses, ops, errors))
        for seed in range(THREADS)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    done.set()
    watcher.join(timeout=60)
    assert not any(w.is_alive() for w in workers)
    assert errors == []
    assert violations == []
    assert sum(statuses.values()) == THREADS * REQUESTS
    assert set(statuses) <= {200, 201, 204, 400, 404}
    assert statuses[201] > 0  # work was done
    assert statuses[400] > 0  # and real contention happened
    final = httpx2.get(
        emulator.base_url + SUBS, headers={"Authorization": f"Bearer {emulator.token()}"}
    ).json()
    assert _double_holders(final) == []
    assert emulator.emulator.store.invariant_violations() == []
    requests = emulator.stats()["requests"]
    assert requests["POST /kwn/v1/subscriptions"] == ops["POST"]
    assert requests.get("PUT /kwn/v1/subscriptions/{subscriptionId}", 0) == ops["PUT"]
    assert requests.get("DELETE /kwn/v1/subscriptions/{subscriptionId}", 0) == ops["DELETE"]
