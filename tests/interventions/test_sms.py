"""SMS: texts only with a number and consent, by default only at critical risk; sent through
Amazon SNS (boto3 against moto's SNS) or printed by the console backend."""

from __future__ import annotations

import pytest
from django.utils import timezone
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from core.errors import DomainValidationError
from interventions.channels import ChannelUnavailable
from interventions.channels.sms import SnsBackend
from interventions.models import Delivery, SmsContact
from interventions.services.contacts import sms_contact_set
from interventions.services.deliveries import Skip, deliveries_queue, deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import MessageTemplateFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

REGION = "eu-west-1"


@pytest.fixture
def sns(settings, monkeypatch):
    """Stride's SNS backend against moto's SNS (the AWS transport faked, boto3 real)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    settings.STRIDE_SMS_BACKEND = "interventions.channels.sms.SnsBackend"
    settings.AWS_SNS_REGION = REGION
    with mock_aws():
        yield sns_backends[DEFAULT_ACCOUNT_ID][REGION]


@pytest.fixture
def template():
    return MessageTemplateFactory(
        slug="urgent",
        channel="sms",
        intervention_type="human_outreach",
        subject="{{ first_name }}, your course misses you",
        cta_label="Come back",
        cta_path="/me/",
    )


@pytest.fixture
def learners():
    """A learner at critical risk and one at medium risk, both with a number and consent."""
    course = CourseFactory()
    run = make_run(timezone.localdate())
    critical = UserFactory(first_name="Ada", role="student")
    medium = UserFactory(first_name="Bo", role="student")
    make_score(run, critical, 92, course=course)
    make_score(run, medium, 50, course=course)
    sms_contact_set(user_id=critical.pk, number="+44 7700 900123", consent=True)
    sms_contact_set(user_id=medium.pk, number="+447700900456", consent=True)
    return critical, medium


def test_a_critical_learner_is_texted_through_sns_and_a_medium_one_is_not(sns, template, learners):
    critical, medium = learners
    result = deliveries_queue(template=template, user_ids=[critical.pk, medium.pk], source="s:1")
    assert result.skipped == {medium.pk: Skip.NOT_URGENT}
    assert deliveries_send_due() == 1
    ((message_id, (number, text)),) = sns.sms_messages.items()
    assert number == "+447700900123"
    assert text.startswith("Ada, your course misses you http") and "/t/c/" in text
    delivery = Delivery.objects.get(pk=result.queued[critical.pk])
    assert delivery.status == "sent" and delivery.provider_message_id == message_id
    assert delivery.body == text


def test_texts_at_other_levels_when_the_setting_allows(sns, template, learners, settings):
    settings.STRIDE_SMS_RISK_LEVELS = ["medium", "high", "critical"]
    result = deliveries_queue(template=template, user_ids=[u.pk for u in learners], source="s:2")
    assert len(result.queued) == 2 and not result.skipped


def test_no_number_or_no_consent_means_no_text(sns, template, learners):
    critical, _ = learners
    sms_contact_set(user_id=critical.pk, number="", consent=False)  # the learner removes it
    assert not SmsContact.objects.filter(user=critical).exists()
    result = deliveries_queue(template=template, user_ids=[critical.pk], source="s:3")
    assert result.skipped == {critical.pk: Skip.NO_ADDRESS}


def test_a_number_needs_the_international_form_and_consent(learners):
    critical, _ = learners
    with pytest.raises(DomainValidationError) as bad:
        sms_contact_set(user_id=critical.pk, number="07700 900123", consent=True)
    assert "international form" in bad.value.messages_text()
    with pytest.raises(DomainValidationError) as unconsented:
        sms_contact_set(user_id=critical.pk, number="+447700900999", consent=False)
    assert list(unconsented.value.fields) == ["consent"]
    assert SmsContact.objects.get(user=critical).number == "+447700900123"  # unchanged


def test_sns_refusing_a_text_for_good_is_final_not_retried(sns):
    with pytest.raises(ChannelUnavailable, match="InvalidParameter"):
        SnsBackend().send(to="+447700900123", text="x" * 1700)  # over SNS's 1,600 bytes


def test_the_console_backend_prints_the_text(template, learners, capsys):
    critical, _ = learners
    deliveries_queue(template=template, user_ids=[critical.pk], source="s:4")
    assert deliveries_send_due() == 1
    assert "[sms] to +447700900123: Ada, your course misses you" in capsys.readouterr().out
