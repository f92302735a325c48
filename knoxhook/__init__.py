"""knoxhook: manage Samsung Knox Webhook Notification subscriptions and verify their callbacks.

The small public library API is imported lazily, so ``import knoxhook`` stays cheap::

    from knoxhook import verify_callback, CallbackVerificationError
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "verify_callback": "knoxhook.signature",
    "VerifiedCallback": "knoxhook.signature",
    "Reason": "knoxhook.signature",
    "CallbackVerificationError": "knoxhook.errors",
    "KnoxhookError": "knoxhook.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'knoxhook' has no attribute {name!r}")
    return getattr(import_module(module), name)
