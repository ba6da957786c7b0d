"""The template admin refuses templates that cannot render and previews one for a learner."""

from __future__ import annotations

import pytest
from django.urls import reverse

from interventions.models import Delivery, MessageTemplate
from tests.accounts.factories import UserFactory
from tests.interventions.factories import VariantFactory, default_template

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "name": "Nudge",
        "slug": "nudge",
        "intervention_type": "gentle_reminder",
        "channel": "email",
        "subject": "Hi {{ first_name }}",
        "body": "Back to {{ course }}?",
        "cta_label": "Go",
        "cta_path": "/me/",
        "goal_event": "lesson_completed",
        "attribution_hours": 72,
        "is_active": "on",
        "variants-TOTAL_FORMS": 0,
        "variants-INITIAL_FORMS": 0,
    }
    return {**data, **overrides}


def test_a_syntax_error_or_unknown_variable_is_shown_on_its_field(admin_client):
    url = reverse("admin:interventions_messagetemplate_add")
    response = admin_client.post(url, form_data(body="{% if lesson %}oops", subject="{{ nme }}"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Template syntax error" in errors["body"][0]
    assert "Unknown variable: nme" in errors["subject"][0]
    assert not MessageTemplate.objects.filter(slug="nudge").exists()

    assert admin_client.post(url, form_data()).status_code == 302
    assert MessageTemplate.objects.filter(slug="nudge").exists()


def test_the_preview_renders_the_template_for_a_chosen_learner(admin_client):
    template = default_template("gentle-reminder")
    VariantFactory(template=template, name="short", subject="{{ first_name }}, 10 minutes?")
    learner = UserFactory(first_name="Grace")
    url = reverse("admin:interventions_messagetemplate_preview", args=[template.pk])

    empty = admin_client.get(url)
    assert b"Name a learner" in empty.content
    page = admin_client.get(url, {"learner": learner.external_id})
    assert page.status_code == 200
    assert b"Grace, your next lesson is waiting" in page.content
    assert b"Grace, 10 minutes?" in page.content
    unknown = admin_client.get(url, {"learner": "nobody"})
    assert b"No learner has that external id or email" in unknown.content


def test_deliveries_are_read_only_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:interventions_delivery_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:interventions_delivery_add")).status_code == 403


def test_selected_learners_in_the_user_list_get_a_message_after_a_preview(admin_client):
    from tests.accounts.factories import UserFactory

    chosen = UserFactory.create_batch(3, role="student")
    UserFactory(role="student")  # not selected
    answer = admin_client.post(
        "/admin/accounts/user/",
        {"action": "send_message", "_selected_action": [u.pk for u in chosen]},
    )
    assert answer.status_code == 302 and "/dashboard/interventions/send/?selection=" in answer.url
    key = answer.url.rsplit("=", 1)[1]
    preview = admin_client.get(answer.url + "&template=gentle-reminder&channel=in_app")
    assert preview.status_code == 200
    assert "3 chosen learners" in preview.content.decode()
    assert preview.context["would_queue"] == 3
    admin_client.post(
        "/dashboard/interventions/send/",
        {"selection": key, "template": "gentle-reminder", "channel": "in_app", "batch": "b1"},
    )
    assert set(Delivery.objects.values_list("user_id", flat=True)) == {u.pk for u in chosen}


def test_a_selection_is_only_the_staff_members_own(admin_client, client):
    from tests.accounts.factories import UserFactory

    answer = admin_client.post(
        "/admin/accounts/user/",
        {"action": "send_message", "_selected_action": [UserFactory(role="student").pk]},
    )
    other_staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(other_staff)
    page = client.get(answer.url + "&template=gentle-reminder")
    assert page.context["recipients"].user_ids == []  # another session holds no such selection
    assert "the selection has expired" in page.content.decode()
