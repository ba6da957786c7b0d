"""What a learner has set about being reached (the message settings page)."""

from __future__ import annotations

from dataclasses import dataclass

from interventions.models import Channel, ChannelOptOut, PushSubscription, SmsContact


@dataclass(frozen=True)
class MessageSettings:
    off: frozenset[str]  # channels the learner turned off
    sms_number: str  # "" when none (a number is kept only with consent)
    push_devices: int  # browsers subscribed to Web Push

    def is_on(self, channel: str) -> bool:
        return channel not in self.off

    @property
    def email_on(self) -> bool:
        return self.is_on(Channel.EMAIL)

    @property
    def push_on(self) -> bool:
        return self.is_on(Channel.PUSH)

    @property
    def sms_on(self) -> bool:
        return self.is_on(Channel.SMS)


def message_settings_of(*, user_id: int) -> MessageSettings:
    contact = SmsContact.objects.filter(user_id=user_id, consented_at__isnull=False).first()
    return MessageSettings(
        off=frozenset(
            ChannelOptOut.objects.filter(user_id=user_id).values_list("channel", flat=True)
        ),
        sms_number=contact.number if contact else "",
        push_devices=PushSubscription.objects.filter(user_id=user_id).count(),
    )
