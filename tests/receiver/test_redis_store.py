"""The Redis replay store (issue 13.1) against a real ``redis-server`` on 127.0.0.1: the
two-phase claims, expiry, and two ``knoxhook listen`` replicas sharing one Redis,
including Redis dying mid-run and coming back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from knoxhook.httptrace import redact_url as redacted
from knoxhook.receiver.nonces import Outcome, StoreUnavailableError
from knoxhook.receiver.recorder import read_records
from knoxhook.receiver.redis_store import RedisNonceStore
from tests.cli.test_listen import Listener, _plan, _send_to_replicas
from tests.external import require_program
from tests.receiver.signing import Signer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` in a temp dir, on one port (kept across a restart), no disk."""

    def __init__(self, workdir: Path) -> None:
        self.program = require_program("redis-server", install="apt-get install redis-server")
        self.workdir = workdir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        cmd = [self.program, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"redis-server did not answer PING on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisNonceStore]:
    s = RedisNonceStore(redis_server.url(1), window_seconds=30)
    s._redis.flushdb()
    try:
        yield s
    finally:
        s.close()


# --- the store ---------------------------------------------------------------------------


def test_claim_finish_release_cycle_with_prefixed_keys_and_ttls(store: RedisNonceStore) -> None:
    r = store._redis
    claim = store.claim("nonce-1", "digest-1", time.time(), 5)
    assert claim.outcome is Outcome.CLAIMED
    assert sorted(r.keys("*")) == ["knoxhook:nonce:nonce-1", "knoxhook:sig:digest-1"]
    assert r.get("knoxhook:nonce:nonce-1") == "in-progress " + claim.owner
    assert 4000 < r.pttl("knoxhook:sig:digest-1") <= 5000  # the short claim TTL
    store.finish(claim, time.time())
    assert r.get("knoxhook:nonce:nonce-1") == "done " + claim.owner
    assert 29_000 < r.pttl("knoxhook:nonce:nonce-1") <= 30_000  # the replay window
    store.release(claim)  # a done claim is never released
    assert r.exists("knoxhook:nonce:nonce-1", "knoxhook:sig:digest-1") == 2

    other = store.claim("nonce-2", "digest-2", time.time(), 5)
    store.release(other)
    assert r.exists("knoxhook:nonce:nonce-2", "knoxhook:sig:digest-2") == 0


def test_replays_by_nonce_and_by_signature_are_refused_all_or_nothing(
    store: RedisNonceStore,
) -> None:
    store.finish(store.claim("n1", "s1", 0, 5), 0)
    assert store.claim("n1", "s-new", 0, 5).outcome is Outcome.REPLAYED_NONCE
    assert store.claim("n-new", "s1", 0, 5).outcome is Outcome.REPLAYED_SIGNATURE
    # all or nothing: the free key of a refused claim was not taken
    assert store._redis.exists("knoxhook:nonce:n-new", "knoxhook:sig:s-new") == 0
    assert store.claim("n-new", "s-new", 0, 5).claimed
    assert store.check_and_remember("one-phase") is True
    assert store.check_and_remember("one-phase") is False
    store.forget("one-phase")
    assert store.check_and_remember("one-phase") is True


def test_an_in_progress_claim_seen_again_and_a_stale_release(store: RedisNonceStore) -> None:
    first = store.claim("n1", "s1", 0, 5)
    assert store.claim("n1", "s2", 0, 5).outcome is Outcome.IN_PROGRESS
    assert store.claim("n2", "s1", 0, 5).outcome is Outcome.IN_PROGRESS
    store.release(first)
    second = store.claim("n1", "s1", 0, 5)  # the resend after a failed hand-off
    assert second.claimed
    store.release(first)  # the first request, late: must not free the second's claim
    assert store.claim("n1", "s1", 0, 5).outcome is Outcome.IN_PROGRESS
    store.finish(first, 0)  # nor finish it under the old token
    assert store._redis.get("knoxhook:nonce:n1") == "in-progress " + second.owner


def test_an_orphaned_claim_expires(store: RedisNonceStore) -> None:
    store.claim("orphan", "orphan-sig", 0, 0.2)  # its process "died": never settled
    assert store.claim("orphan", None, 0, 5).outcome is Outcome.IN_PROGRESS
    time.sleep(0.35)
    assert store.claim("orphan", "orphan-sig", 0, 5).claimed


def test_a_batch_is_one_round_trip_with_each_call_as_alone(store: RedisNonceStore) -> None:
    """Group commit (receiver.storecalls): one pipeline, the same outcomes in order."""
    done = store.claim("old", "old-sig", 0, 5)
    store.finish(done, 0)
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("claim", ("b1", "b1-sig", 0, 5)),
        ("claim", ("b1", "other-sig", 0, 5)),  # same nonce, same batch: in progress
        ("claim", ("old", "new-sig", 0, 5)),  # a replay
        ("claim", ("b2", "b2-sig", 0, 5)),
    ]
    sent: list[int] = []
    pipeline = store._redis.pipeline

    def counting(*args: Any, **kw: Any) -> Any:
        pipe = pipeline(*args, **kw)
        execute = pipe.execute
        pipe.execute = lambda *a, **k: sent.append(len(pipe.command_stack)) or execute(*a, **k)
        return pipe

    store._redis.pipeline = counting
    first, again, replay, second = store.run_batch(calls)
    assert sent == [4]  # one round trip for the four claims
    assert (first.outcome, again.outcome) == (Outcome.CLAIMED, Outcome.IN_PROGRESS)
    assert (replay.outcome, second.outcome) == (Outcome.REPLAYED_NONCE, Outcome.CLAIMED)
    assert store.run_batch([("finish", (first, 0)), ("release", (second,))]) == [None, None]
    r = store._redis
    assert r.get("knoxhook:nonce:b1") == "done " + first.owner
    assert r.exists("knoxhook:nonce:b2", "knoxhook:sig:b2-sig") == 0


def test_a_batch_to_an_unreachable_redis_fails_every_call() -> None:
    s = RedisNonceStore(f"redis://127.0.0.1:{_free_port()}/0", timeout=1)
    with pytest.raises(StoreUnavailableError):
        s.run_batch([("claim", ("x", "y", 0, 5)), ("claim", ("z", None, 0, 5))])
    s.close()


def test_the_event_loop_batch_is_one_round_trip_on_its_own_client(store: RedisNonceStore) -> None:
    """``run_batch_async`` (what the receiver uses: redis.asyncio, no worker thread)
    gives the same outcomes as ``run_batch``, in one pipeline, and ``aclose`` closes
    its client."""
    import asyncio

    done = store.claim("a-old", "a-old-sig", 0, 5)
    store.finish(done, 0)

    async def run() -> tuple[list[Any], list[Any], list[int]]:
        client = store._loop_client.get()
        sent: list[int] = []
        pipeline = client.pipeline

        def counting(*args: Any, **kw: Any) -> Any:
            pipe = pipeline(*args, **kw)
            execute = pipe.execute

            async def counted(**kw: Any) -> Any:
                sent.append(len(pipe.command_stack))
                return await execute(**kw)

            pipe.execute = counted
            return pipe

        client.pipeline = counting
        claims = await store.run_batch_async(
            [
                ("claim", ("a1", "a1-sig", 0, 5)),
                ("claim", ("a1", "a-other", 0, 5)),
                ("claim", ("a-old", "a-new", 0, 5)),
            ]
        )
        settled = await store.run_batch_async([("finish", (claims[0], 0))])
        await store.aclose()
        return claims, settled, sent

    claims, settled, sent = asyncio.run(run())
    assert [c.outcome for c in claims] == [
        Outcome.CLAIMED,
        Outcome.IN_PROGRESS,
        Outcome.REPLAYED_NONCE,
    ]
    assert (settled, sent) == ([None], [3, 1])
    assert store._redis.get("knoxhook:nonce:a1") == "done " + claims[0].owner
    assert not store._loop_client.made  # closed


def test_a_batch_costs_one_round_trip_and_survives_a_script_flush(store: RedisNonceStore) -> None:
    """What Redis saw (its command stats): a batch is EVALSHAs only, no SCRIPT EXISTS
    before each (redis-py's Script objects on a pipeline send one); after SCRIPT FLUSH
    (a restarted Redis) the scripts are loaded again and the batch is sent again."""
    import asyncio

    r = store._redis
    store.claim("warm", None, 0, 5)  # the scripts are loaded
    r.config_resetstat()
    claims = store.run_batch([("claim", (f"f{i}", None, 0, 5)) for i in range(3)])
    stats = r.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 3
    assert not any(name.startswith("cmdstat_script") for name in stats)
    r.script_flush()
    again = store.run_batch([("finish", (c, 0)) for c in claims])
    assert again == [None, None, None]
    assert r.get("knoxhook:nonce:f0") == "done " + claims[0].owner
    r.script_flush()

    async def on_the_loop() -> Any:
        try:
            return await store.run_batch_async([("claim", ("f9", None, 0, 5))])
        finally:
            await store.aclose()

    (claim,) = asyncio.run(on_the_loop())
    assert claim.claimed


def test_the_event_loop_batch_to_an_unreachable_redis_is_unavailable_without_the_password() -> None:
    import asyncio

    s = RedisNonceStore(f"redis://:hunter2@127.0.0.1:{_free_port()}/0", timeout=1)

    async def run() -> None:
        try:
            await s.run_batch_async([("claim", ("x", "y", 0, 5))])
        finally:
            await s.aclose()

    with pytest.raises(StoreUnavailableError) as info:
        asyncio.run(run())
    assert "hunter2" not in info.value.message
    assert "redis://:***@127.0.0.1" in info.value.message
    s.close()


def test_an_unreachable_redis_is_store_unavailable_quickly_and_without_the_password() -> None:
    s = RedisNonceStore(f"redis://:hunter2@127.0.0.1:{_free_port()}/0", timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        s.claim("n", "s", 0, 5)
    assert time.monotonic() - started < 3
    assert "hunter2" not in info.value.message
    assert "redis://:***@127.0.0.1" in info.value.message
    with pytest.raises(StoreUnavailableError):
        s.ping()
    assert redacted("rediss://u:p@h:1/2") == "rediss://u:***@h:1/2"


# --- listen --nonce-store ----------------------------------------------------------------


def _listen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knoxhook", "listen", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_nonce_store_usage_errors(cert_file: Path, tmp_path: Path) -> None:
    cert = ["--cert", str(cert_file)]
    bad = _listen(*cert, "--nonce-store", "http://127.0.0.1:6379/0")
    assert bad.returncode == 2
    assert "--nonce-store must be a redis://HOST:PORT/DB or rediss:// URL" in bad.stderr
    secret = _listen(*cert, "--nonce-store", "redis://:hunter2@127.0.0.1:6379/0")
    assert secret.returncode == 2
    assert "a password does not belong on the command line" in secret.stderr
    assert "hunter2" not in secret.stderr + secret.stdout
    both = _listen(*cert, "--nonce-db", str(tmp_path / "n.db"), "--nonce-store", "redis://h/0")
    assert both.returncode == 2
    assert "give one" in both.stderr
    assert "Traceback" not in bad.stderr + secret.stderr + both.stderr


def test_listen_help_does_not_import_redis() -> None:
    code = (
        "import sys\nfrom knoxhook.cli.main import main\ntry:\n    main(['listen', '--help'])\n"
        "except SystemExit:\n    pass\nprint('redis' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "--nonce-store" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "False"


def test_a_failed_hand_off_releases_the_claim_so_the_resend_is_accepted(
    redis_server: RedisServer, cert_file: Path, knox: Signer
) -> None:
    url = redis_server.url(2)
    dead_app = f"http://127.0.0.1:{_free_port()}/knox"
    failing = Listener(
        "--cert", str(cert_file), "--forward-to", dead_app, "--forward-mode", "sync",
        "--nonce-store", url,
    )  # fmt: skip
    plain = Listener("--cert", str(cert_file), env={"KNOXHOOK_NONCE_STORE": url})
    body, headers = knox.callback()
    with httpx2.Client(timeout=30) as http:
        assert http.post(failing.url, content=body, headers=headers).status_code == 502
        assert http.post(plain.url, content=body, headers=headers).status_code == 200
        again = http.post(failing.url, content=body, headers=headers)
    assert failing.stop() == 0
    assert plain.stop() == 0
    assert (again.status_code, again.json()["reason"]) == (409, "replayed_nonce")


def test_two_listeners_on_one_redis_never_accept_a_replay_nor_refuse_a_valid_one(
    redis_server: RedisServer, cert_file: Path, knox: Signer, tmp_path: Path
) -> None:
    common = ["--cert", str(cert_file), "--nonce-store", redis_server.url(3)]
    one = Listener(*common, "--record", str(tmp_path / "1.ndjson"))
    two = Listener(*common, "--record", str(tmp_path / "2.ndjson"))
    plan = _plan(knox, 400, seed=13)
    results = _send_to_replicas((one, two), plan, join_timeout=120)
    assert one.stop() == 0
    assert two.stop() == 0
    assert len(results) == 400
    assert sum(1 for r in results if r[0] == "replay") >= 25
    assert [r for r in results if r[0] == "replay" and r[3] != 409] == []  # 0 accepted
    assert [r for r in results if r[0] == "valid" and r[3] != 200] == []  # 0 refused
    assert [r for r in results if r[2] != r[3]] == []
    accepted = [
        r["nonce"]
        for name in ("1.ndjson", "2.ndjson")
        for r in read_records(tmp_path / name)
        if r["verdict"] == "accepted"
    ]
    assert sorted(accepted) == sorted(r[1] for r in results if r[0] == "valid")
    assert "Traceback" not in "".join(one.err + two.err)


def test_redis_killed_mid_run_answers_503_never_200_and_recovers(
    tmp_path: Path, cert_file: Path, knox: Signer
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    rx = Listener("--cert", str(cert_file), "--nonce-store", server.url(0))
    try:
        with httpx2.Client(timeout=30) as http:
            before = [knox.callback(payload={"before": i}) for i in range(5)]
            assert [http.post(rx.url, content=b, headers=h).status_code for b, h in before] == [
                200
            ] * 5
            assert http.get(rx.url.rsplit("/", 1)[0] + "/readyz").status_code == 200
            server.stop(signal.SIGKILL)
            during = [knox.callback(payload={"during": i}) for i in range(10)]
            answers = [http.post(rx.url, content=b, headers=h) for b, h in during]
            assert [a.status_code for a in answers] == [503] * 10
            assert {a.json()["reason"] for a in answers} == {"store_unavailable"}
            assert all(a.headers.get("retry-after") for a in answers)
            replay = http.post(rx.url, content=before[0][0], headers=before[0][1])
            assert replay.status_code == 503  # not 200: it cannot be checked now
            ready = http.get(rx.url.rsplit("/", 1)[0] + "/readyz")
            assert ready.status_code == 503
            assert "replay store" in " ".join(ready.json()["problems"])

            server.start()  # same port, empty (no persistence in this test)
            resent = [http.post(rx.url, content=b, headers=h).status_code for b, h in during]
            assert resent == [200] * 10  # Knox's resends are accepted once Redis is back
            again = [http.post(rx.url, content=b, headers=h).status_code for b, h in during]
            assert again == [409] * 10
            assert http.get(rx.url.rsplit("/", 1)[0] + "/readyz").status_code == 200
    finally:
        code = rx.stop()
        server.stop()
    assert code == 0
    assert "Traceback" not in "".join(rx.err)


def test_listen_starts_with_redis_down_warns_and_is_not_ready(
    cert_file: Path, knox: Signer
) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    rx = Listener("--cert", str(cert_file), env={"KNOXHOOK_NONCE_STORE": url})
    try:
        with httpx2.Client(timeout=30) as http:
            ready = http.get(rx.url.rsplit("/", 1)[0] + "/readyz")
            body, headers = knox.callback()
            answer = http.post(rx.url, content=body, headers=headers)
    finally:
        code = rx.stop()
    assert code == 0
    assert ready.status_code == 503
    assert (answer.status_code, answer.json()["reason"]) == (503, "store_unavailable")
    warning = [line for line in rx.err if f"the replay store {url} is unavailable" in line]
    assert warning, rx.err
    assert "callbacks get 503 until it answers" in warning[0]


@pytest.mark.parametrize(
    "command",
    [
        ("EVALSHA", "0" * 40, 2, "knoxhook:nonce:n1", "knoxhook:sig:ab", "in-progress x.1", 60000),
        ("SCRIPT LOAD", "return {1, 'é'}"),
        ("XADD", "knox-callbacks", "MAXLEN", "~", "1000", "*", "body", b'{"a":"\xc3\xa9"}'),
        ("SET", "k", 1.5, "PX", 10),
    ],
)
def test_the_event_loop_client_packs_commands_byte_for_byte_as_redis_py(command: Any) -> None:
    """The loop's client packs with hiredis' C packer (redis-py's asyncio client packs in
    Python); the bytes on the wire are the ones redis-py's own packer writes."""
    from redis.asyncio.connection import Connection

    from knoxhook.receiver.redisconn import _hiredis_packing

    packed = _hiredis_packing("redis://127.0.0.1:1/0")["connection_class"]()
    assert b"".join(packed.pack_command(*command)) == b"".join(Connection().pack_command(*command))
