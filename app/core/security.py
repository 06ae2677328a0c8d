"""Secrets: generation and hashing of API keys, login tokens, session tokens and CSRF tokens.

Keys and tokens are 256-bit random values, so a plain SHA-256 is the right hash: there is no
password to stretch, and lookup by hash stays a single indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "rft_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
