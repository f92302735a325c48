"""serving.bind: clear usage errors that say which flag to change."""

from __future__ import annotations

import pytest

from knoxhook.errors import UsageError
from knoxhook.serving import bind


def test_a_busy_port_says_pick_another_port() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as exc:
            bind("127.0.0.1", port)
    finally:
        taken.close()
    assert exc.value.message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert exc.value.hint == "pick another --port (0 picks a free one)"


@pytest.mark.parametrize("host", ["192.0.2.1", "nohost.invalid"])
def test_an_address_not_on_this_machine_says_check_host(host: str) -> None:
    # binding only: nothing is sent (192.0.2.0/24 is TEST-NET-1, never assigned here)
    with pytest.raises(UsageError) as exc:
        bind(host, 0)
    assert exc.value.message.startswith(f"cannot listen on {host}:0: ")
    assert exc.value.hint == "check --host: an address of this machine, such as 127.0.0.1"
