"""anymail's `tracking` signal (a library's signal: the documented way to hear ESP webhooks),
handed to the webhooks service. Connected in InterventionsConfig.ready."""

from __future__ import annotations

from typing import Any

from interventions.services.webhooks import esp_event_record


def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    # A soft bounce (a full mailbox, a greylisting) is not a reason to stop writing.
    permanent = getattr(event, "reject_reason", None) not in ("timed_out", "other")
    esp_event_record(
        event_type=event.event_type,
        message_id=event.message_id,
        recipient=event.recipient,
        timestamp=event.timestamp,
        permanent=permanent if event.event_type == "bounced" else True,
    )
