"""One delivery attempt per channel: webhooks by HTTP POST (2xx = delivered), email by SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from streams.notifications.exceptions import DeliveryFailed
from streams.notifications.messages import PAGERDUTY_URL


def _post(client: httpx.Client, channel: str, url: str, payload: dict[str, Any]) -> None:
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(channel, f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(channel, f"HTTP {response.status_code}: {response.text[:200]}")


def _email(target: dict[str, Any], payload: dict[str, Any], timeout_s: float) -> None:
    message = EmailMessage()
    message["Subject"] = payload["subject"]
    message["From"] = target.get("from", "acgs@localhost")
    recipients = target.get("to") or []
    message["To"] = ", ".join(recipients)
    message.set_content(payload["body"])
    try:
        with smtplib.SMTP(target.get("host", "127.0.0.1"), int(target.get("port", 25)), timeout=timeout_s) as smtp:
            if target.get("starttls"):
                smtp.starttls()
            if target.get("username"):
                smtp.login(target["username"], target.get("password", ""))
            smtp.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed("email", f"{type(exc).__name__}: {exc}") from None


def send(client: httpx.Client, channel: str, target: dict[str, Any], payload: dict[str, Any],
         timeout_s: float) -> None:
    """Deliver once; raise DeliveryFailed on any refusal."""
    if channel == "email":
        _email(target, payload, timeout_s)
    elif channel == "pagerduty":
        _post(client, channel, target.get("url", PAGERDUTY_URL), payload)
    elif channel in ("slack", "teams"):
        _post(client, channel, target["webhook_url"], payload)
    else:
        raise DeliveryFailed(channel, "unknown channel")
