"""Signatures of inbound decision webhooks; pure functions, constant-time comparisons.

- Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}")>`` with
  ``X-Slack-Request-Timestamp`` no older than ``max_age_s`` (replay protection).
- Teams outgoing webhook: ``Authorization: HMAC <base64 HMAC-SHA256(base64-decoded secret, raw body)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SLACK_VERSION = "v0"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"{SLACK_VERSION}:{timestamp}:".encode() + body
    return f"{SLACK_VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
                 max_age_s: int) -> str | None:
    """None if the request is Slack's; else why not."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "timestamp is not an integer"
    if abs(now - sent) > max_age_s:
        return "timestamp outside the allowed window"
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), signature):
        return "signature mismatch"
    return None


def teams_signature(secret_b64: str, body: bytes) -> str:
    key = base64.b64decode(secret_b64)
    return "HMAC " + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def verify_teams(secret_b64: str, authorization: str | None, body: bytes) -> str | None:
    if not authorization or not authorization.startswith("HMAC "):
        return "missing HMAC Authorization header"
    try:
        expected = teams_signature(secret_b64, body)
    except (binascii.Error, ValueError):
        return "server secret is not base64"
    if not hmac.compare_digest(expected, authorization.strip()):
        return "signature mismatch"
    return None
