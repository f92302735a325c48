"""`listen --to-stream` (issue 13.2) against a real redis-server: entries with the
original bytes and headers, read by a consumer group (XREADGROUP, XACK, XAUTOCLAIM);
Redis stopped mid-load answers 503 (never 200 without a record) and recovers."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx2
import pytest
import redis

from knoxhook.receiver.handoff.stream import parse_stream_url
from knoxhook.receiver.recorder import read_records
from tests.cli.test_listen import Listener
from tests.receiver.signing import Signer
from tests.receiver.test_redis_store import RedisServer, redis_server  # noqa: F401


def test_stream_urls() -> None:
    target = parse_stream_url("redis://127.0.0.1:6379/2/my-stream?maxlen=1000")
    assert (target.redis_url, target.stream, target.maxlen) == (
        "redis://127.0.0.1:6379/2", "my-stream", 1000,
    )  # fmt: skip
    assert parse_stream_url("rediss://h:1/").stream == "knox-callbacks"
    assert parse_stream_url("redis://:pw@h:1/0/s").shown == "redis://:***@h:1/0/s"
    for bad, why in [
        ("http://h/0/s", "must be a redis://"),
        ("redis://h:1/x/s", "the database must be a number"),
        ("redis://h:1/0/a/b", "may not contain '/'"),
        ("redis://h:1/0/s?maxlen=0", "maxlen must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_stream_url(bad)


def test_a_consumer_group_reads_acks_and_reclaims_the_callbacks(
    redis_server: RedisServer,  # noqa: F811
    cert_file: Path,
    knox: Signer,
) -> None:
    url = redis_server.url(6) + "/knox-test"
    client = redis.Redis.from_url(redis_server.url(6))
    client.delete("knox-test")
    rx = Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--to-stream", url)
    sent = [knox.callback(nonce=f"st-{i}", payload={"i": i, "é": "ü"}) for i in range(6)]
    with httpx2.Client(timeout=10) as http:
        answers = [http.post(rx.url, content=b, headers=h) for b, h in sent]
        replay = http.post(rx.url, content=sent[0][0], headers=sent[0][1])
    assert rx.stop() == 0
    assert [a.status_code for a in answers] == [200] * 6
    assert replay.status_code == 409
    assert client.xlen("knox-test") == 6  # the replay was not added

    client.xgroup_create("knox-test", "app", id="0")
    ((_, first),) = client.xreadgroup("app", "worker-1", {"knox-test": ">"}, count=4)
    ((_, rest),) = client.xreadgroup("app", "worker-2", {"knox-test": ">"}, count=10)
    assert len(first) + len(rest) == 6
    entry_id, fields = first[0]
    body, headers = sent[0]
    assert fields[b"body"] == body  # the original bytes
    assert fields[b"nonce"] == b"st-0"
    assert fields[b"event"] == b"KDMS_DEVICE_UPLOAD"
    sent_headers = json.loads(fields[b"headers"])
    assert sent_headers["X-WSM-SIGNATURE"] == headers["X-WSM-SIGNATURE"]
    assert sent_headers["Idempotency-Key"] == "st-0"
    assert fields[b"received_at"].endswith(b"Z")
    # worker-2 acks its entries; worker-1 "dies": worker-3 reclaims its pending ones
    assert client.xack("knox-test", "app", *[i for i, _ in rest]) == len(rest)
    _, claimed, _ = client.xautoclaim("knox-test", "app", "worker-3", min_idle_time=0)
    assert [i for i, _ in claimed] == [i for i, _ in first]
    assert client.xack("knox-test", "app", *[i for i, _ in claimed]) == len(first)
    assert client.xpending("knox-test", "app")["pending"] == 0
    assert entry_id in [i for i, _ in claimed]
    client.close()


def test_a_callback_kept_by_two_replicas_is_added_to_the_stream_once(
    redis_server: RedisServer,  # noqa: F811
    cert_file: Path,
    knox: Signer,
) -> None:
    """Two replicas whose replay stores did not see each other (a replica died after its
    XADD and lost its claim; Knox resent to the other): the stream holds the callback
    once, and the second answer names the entry already there."""
    url = redis_server.url(7) + "/knox-once"
    client = redis.Redis.from_url(redis_server.url(7))
    client.delete("knox-once")
    client.delete(*client.keys("knoxhook:streamed:*") or ["none"])
    replicas = [
        Listener("--cert", str(cert_file), "--nonce-db", ":memory:", "--to-stream", url)
        for _ in range(2)
    ]
    body, headers = knox.callback(nonce="once-1")
    other_body, other_headers = knox.callback(nonce="once-2", payload={"other": 1})
    try:
        with httpx2.Client(timeout=10) as http:
            first = http.post(replicas[0].url, content=body, headers=headers)
            second = http.post(replicas[1].url, content=body, headers=headers)
            other = http.post(replicas[1].url, content=other_body, headers=other_headers)
    finally:
        codes = [rx.stop() for rx in replicas]
    assert codes == [0, 0]
    assert [first.status_code, second.status_code, other.status_code] == [200, 200, 200]
    assert client.xlen("knox-once") == 2  # once-1 once, once-2 once
    ((entry_id, fields),) = client.xrange("knox-once", count=1)
    assert fields[b"nonce"] == b"once-1"
    lines = [json.loads(x) for rx in replicas for x in rx.stdout_lines()]
    kept = [x["forward"] for x in lines if x.get("kind") == "callback"]
    assert {
        "mode": "stream",
        "stream": "knox-once",
        "id": entry_id.decode(),
        "duplicate": True,
    } in kept
    assert sum(1 for f in kept if not f["duplicate"]) == 2
    ttl = client.pttl("knoxhook:streamed:knox-once:once-1")
    assert 6 * 24 * 3600 * 1000 < ttl <= 7 * 24 * 3600 * 1000  # the replay window
    client.close()


def test_redis_stopped_mid_load_answers_503_never_200_unrecorded_and_recovers(
    tmp_path: Path, cert_file: Path, knox: Signer
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    record = tmp_path / "r.ndjson"
    rx = Listener(
        "--cert", str(cert_file), "--nonce-db", str(tmp_path / "n.db"), "--record",
        str(record), "--to-stream", server.url(0) + "/s",
    )  # fmt: skip
    before = [knox.callback(payload={"before": i}) for i in range(5)]
    during = [knox.callback(payload={"during": i}) for i in range(8)]
    try:
        with httpx2.Client(timeout=30) as http:
            assert [http.post(rx.url, content=b, headers=h).status_code for b, h in before] == [
                200
            ] * 5
            server.stop(signal.SIGKILL)
            answers = [http.post(rx.url, content=b, headers=h) for b, h in during]
            assert [a.status_code for a in answers] == [503] * 8
            assert {a.json()["reason"] for a in answers} == {"stream_unavailable"}
            assert all(a.headers["retry-after"] == "5" for a in answers)
            server.start()  # empty: no persistence in this test
            resent = [http.post(rx.url, content=b, headers=h).status_code for b, h in during]
            assert resent == [200] * 8  # the 503s released their claims
    finally:
        code = rx.stop()
        server.stop()
    assert code == 0
    records = read_records(record)
    accepted = [r["nonce"] for r in records if r["verdict"] == "accepted"]
    assert sorted(accepted) == sorted(h["x-knox-nonce"] for _, h in before + during)
    refused = [r for r in records if r["verdict"] == "unavailable"]
    assert len(refused) == 8
    assert "Traceback" not in "".join(rx.err)


def test_to_stream_usage_errors(cert_file: Path) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "knoxhook", "listen", "--cert", str(cert_file), "--port", "0"]
    cases = [
        (["--to-stream", "redis://:secret@127.0.0.1:1/0/s"], "a password does not belong"),
        (["--to-stream", "redis://127.0.0.1:1/x/s"], "the database must be a number"),
        (
            ["--to-stream", "redis://127.0.0.1:1/0/s", "--forward-to", "http://127.0.0.1:1/"],
            "--forward-to and --to-stream are two hand-offs: give one",
        ),
        (["--forward-mode", "later"], "--forward-mode must be outbox or sync"),
        (["--forward-to", "http://127.0.0.1:1/", "--retry-attempts", "0"], "at least 1"),
    ]
    for args, message in cases:
        done = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "secret" not in done.stderr
        assert "Traceback" not in done.stderr
