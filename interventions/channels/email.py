"""Email through Django's email API (EMAIL_BACKEND: console by default, anymail in
production), with text and HTML parts and RFC 8058 one-click unsubscribe headers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from interventions.channels import ChannelUnavailable


def send_email(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe: str,
    delivery_id: int,
    connection: Any = None,
) -> str:
    """Send one email with text and HTML parts and the RFC 8058 one-click unsubscribe headers;
    return the provider's message id (anymail's, else our own Message-ID)."""
    if not to:
        raise ChannelUnavailable("The learner has no email address.")
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "stride.local"
    message_id = f"<delivery-{delivery_id}@{domain}>"
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    message.send()
    status = getattr(message, "anymail_status", None)
    return (getattr(status, "message_id", None) or message_id)[:200]
