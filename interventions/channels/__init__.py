"""Channel backends: how a rendered delivery leaves Stride, one module per channel, each
chosen in settings with an embedded default.

- email: Django's email API (EMAIL_BACKEND: console by default, anymail in production);
- in-app: no transport, the student pages read the deliveries;
- push: Web Push with VAPID (`interventions.channels.push`; STRIDE_VAPID_PRIVATE_KEY);
- sms: STRIDE_SMS_BACKEND, the console by default, Amazon SNS in production.
"""

from __future__ import annotations


class ChannelUnavailable(Exception):
    """The channel cannot take this delivery (no address, no subscription, not configured):
    final, retrying cannot help."""


class RecipientGone(ChannelUnavailable):
    """The address is no longer valid (an expired push subscription): final."""
