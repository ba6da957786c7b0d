"""The learner's message settings: channels on and off, a number for texts with consent."""

from __future__ import annotations

import pytest

from interventions.models import ChannelOptOut, SmsContact
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/me/messages/settings/"


@pytest.fixture
def learner(client):
    user = UserFactory(role="student")
    client.force_login(user)
    return user


def test_turning_channels_off_and_giving_a_number_with_consent(client, learner):
    answer = client.post(
        URL, {"on_push": "on", "sms_number": "+44 7700 900123", "sms_consent": "on"}
    )
    assert answer.status_code == 302
    assert set(ChannelOptOut.objects.filter(user=learner).values_list("channel", flat=True)) == {
        "email",
        "sms",
    }
    assert SmsContact.objects.get(user=learner).number == "+447700900123"
    page = client.get(URL).content.decode()
    assert 'value="+447700900123"' in page and "Your message settings are saved." in page
    # Everything back on, the number removed.
    client.post(URL, {"on_email": "on", "on_push": "on", "on_sms": "on", "sms_number": ""})
    assert not ChannelOptOut.objects.filter(user=learner).exists()
    assert not SmsContact.objects.filter(user=learner).exists()


def test_a_bad_number_is_shown_and_nothing_is_half_saved(client, learner):
    answer = client.post(URL, {"on_email": "on", "sms_number": "0770090", "sms_consent": "on"})
    assert answer.status_code == 400
    assert "international form" in answer.content.decode()
    assert 'value="0770090"' in answer.content.decode()  # what they typed, to correct
    assert not ChannelOptOut.objects.filter(user=learner).exists()  # the same request, undone


def test_push_says_when_the_server_has_no_vapid_key(client, learner, settings):
    settings.STRIDE_VAPID_PRIVATE_KEY = ""
    assert "not set up on this Stride server" in client.get(URL).content.decode()


def test_signing_in_is_needed(client):
    assert client.get(URL).status_code == 302
