"""Random tokens for links and cookies, stored only as their SHA-256."""

import hashlib
import secrets


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token) -> str:
    """What the database keeps: a changed character finds nothing, a leak forges nothing."""
    return hashlib.sha256((token or "").encode()).hexdigest()
