"""Verify the ``X-WSM-SIGNATURE`` of a Knox callback. Pure functions, no I/O.

Knox signs callbacks with a compact JWS (RS256) in ``X-WSM-SIGNATURE`` (knox-api.md §5).
What exactly is signed is ambiguous [doc gap], so ``verify_callback`` accepts every form
Samsung's Java verifier or a JWS library could produce::

    signing input = part0 + "." + b64url(X)
    X             = the raw body bytes            ("raw-body")
                  | its compact JSON re-encoding  ("compact-json")
    b64url        = with "=" padding ("padded", Java's URL encoder) or without ("unpadded")
    part 1        = empty ("detached") or present ("attached": must decode to X)

The forms are tried most likely first (raw body, padded: what Samsung's Java verifier
builds), each against every currently valid trusted certificate (several at once, for
rotation). The body is parsed as JSON only after the signature holds, except for the
compact re-encoding attempt, which needs a parse and is only tried after the raw-body
forms failed. Every failure raises ONE error type, ``CallbackVerificationError``, whose
``reason`` is a ``Reason`` (the documented set) and whose message says which check
failed.

The modules: ``results`` (what a verification returns: ``Reason``, ``VerifiedCallback``,
``Attempt``, the ``NonceStore`` protocol), ``keys`` (trusted certificates, parsed once),
``forms`` (the JWS parts and the signing inputs tried), ``verify`` (``verify_callback``).
"""

from knoxhook.signature.keys import Certificates, TrustedKey, trusted_keys
from knoxhook.signature.results import Attempt, NonceStore, Reason, VerifiedCallback
from knoxhook.signature.verify import ALGORITHM, MAX_BODY_BYTES, header_value, verify_callback

__all__ = [
    "ALGORITHM",
    "MAX_BODY_BYTES",
    "Attempt",
    "Certificates",
    "NonceStore",
    "Reason",
    "TrustedKey",
    "VerifiedCallback",
    "header_value",
    "trusted_keys",
    "verify_callback",
]
