"""Admin: templates (validated, with a preview for a chosen learner), their variants, and the
deliveries, holdouts, opt-outs and suppressions (deliveries and holdouts are written by the
services only); push subscriptions and SMS contacts; and "Send a message" among the user
list's actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from core.admin import ReadOnlyAdmin
from engagement.selectors.learners import learner_user_get
from engagement.selectors.signals import SIGNAL_LABELS
from gamification.models import Moment
from gamification.selectors.rewards import learners_find
from interventions.forms import MessageTemplateForm, PreviewForm, VariantForm
from interventions.models import (
    Channel,
    ChannelOptOut,
    Delivery,
    DeliveryLink,
    Holdout,
    MessageTemplate,
    OutreachTask,
    PushSubscription,
    Rule,
    SmsContact,
    Suppression,
    Variant,
)
from interventions.services.previews import message_preview
from interventions.services.rendering import variant_choose
from interventions.services.selections import selection_keep


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantForm
    extra = 0


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    inlines = [VariantInline]
    list_display = (
        "name",
        "slug",
        "intervention_type",
        "channel",
        "is_active",
        "preview_link",
        "experiments_link",
    )
    list_filter = ("intervention_type", "channel", "is_active")
    search_fields = ("name", "slug", "subject")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("experiments_link",)

    @admin.display(description="Experiments")
    def experiments_link(self, obj: MessageTemplate) -> str:
        """Its A/B tests (of its variants, or as a campaign's arm), on the experiments page."""
        if obj.pk is None:
            return "-"
        url = f"{reverse('experiments:list')}?{urlencode({'template': obj.slug})}"
        return format_html('<a href="{}">Experiments on this template</a>', url)

    @admin.display(description="Preview")
    def preview_link(self, obj: MessageTemplate) -> str:
        url = reverse("admin:interventions_messagetemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview</a>', url)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="interventions_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Render the template for a chosen learner, as each variant would read."""
        template = get_object_or_404(MessageTemplate, pk=pk)
        form = PreviewForm(request.GET or None)
        previews = []
        learner = None
        if form.is_valid():
            wanted = form.cleaned_data["learner"].strip()
            found, _ = learners_find(identifiers=[wanted])
            learner = learner_user_get(user_id=next(iter(found.values()))) if found else None
            if learner is None:
                form.add_error("learner", "No learner has that external id or email.")
            else:
                variants = list(template.variants.all())
                chosen = variant_choose(variants, user_id=learner.pk, template_id=template.pk)
                shown = [None, *variants]
                messages = message_preview(template, learner, variants=shown)
                previews = [
                    {
                        "name": variant.name if variant else "Template",
                        "chosen": variant == chosen,
                        "message": message,
                    }
                    for variant, message in zip(shown, messages, strict=True)
                ]
        return TemplateResponse(
            request,
            "admin/interventions/preview.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": template,
                "title": f"Preview: {template.name}",
                "form": form,
                "learner": learner,
                "previews": previews,
            },
        )


class DeliveryLinkInline(admin.TabularInline):
    model = DeliveryLink
    extra = 0
    can_delete = False
    readonly_fields = ("position", "url")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "template",
        "variant",
        "channel",
        "status",
        "opens",
        "clicks",
    )
    list_filter = ("status", "channel", "template")
    search_fields = ("user__email", "user__external_id", "provider_message_id", "source")
    list_select_related = ("user", "template", "variant")
    date_hierarchy = "created_at"
    inlines = [DeliveryLinkInline]


@admin.register(Holdout)
class HoldoutAdmin(ReadOnlyAdmin):
    """Learners deliberately not contacted (a rule's or campaign's holdout): recorded by the
    services, read here."""

    list_display = ("created_at", "user", "scope", "source", "channel", "template")
    list_filter = ("scope", "channel")
    search_fields = ("user__email", "user__external_id", "source")
    list_select_related = ("user", "template")
    date_hierarchy = "created_at"


@admin.register(ChannelOptOut)
class ChannelOptOutAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "channel", "reason")
    list_filter = ("channel",)
    search_fields = ("user__email", "user__external_id")
    raw_id_fields = ("user",)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "address", "reason")
    list_filter = ("reason",)
    search_fields = ("address",)

    def save_model(self, request: HttpRequest, obj: Suppression, form: Any, change: bool) -> None:
        obj.address = obj.address.strip().lower()
        super().save_model(request, obj, form, change)


class RuleForm(forms.ModelForm):
    levels = forms.MultipleChoiceField(
        choices=[(level, level.capitalize()) for level in ("low", "medium", "high", "critical")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Scoring rules: at least one. Moment rules: none means any learner.",
    )
    moment_kinds = forms.MultipleChoiceField(
        choices=Moment.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Moment rules: the moments that trigger the message.",
    )
    drivers = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {label}") for name, label in sorted(SIGNAL_LABELS.items())],
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Only learners for whom one of these raises the risk; none selected: any.",
    )

    class Meta:
        model = Rule
        fields = (
            "name",
            "is_active",
            "trigger",
            "levels",
            "moment_kinds",
            "drivers",
            "intervention_type",
            "template",
            "channel",
            "cooldown_days",
            "creates_outreach_task",
            "urgent_channels",
            "holdout_percent",
        )

    urgent_channels = forms.MultipleChoiceField(
        choices=[(Channel.PUSH, "Web Push"), (Channel.SMS, "SMS"), (Channel.EMAIL, "Email")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="At critical risk, the message also goes out on these channels, where the "
        "learner can be reached there (one message for the frequency caps).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("creates_outreach_task") and not data.get("template"):
            self.add_error("template", "Choose the template to send, or create outreach tasks.")
        if data.get("trigger") == Rule.Trigger.SCORING and not data.get("levels"):
            self.add_error("levels", "Choose the risk levels this rule acts on.")
        if data.get("trigger") == Rule.Trigger.MOMENT and not data.get("moment_kinds"):
            self.add_error("moment_kinds", "Choose the moments that trigger this rule.")
        return data


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = (
        "name",
        "is_active",
        "trigger",
        "intervention_type",
        "template",
        "cooldown_days",
        "holdout_percent",
    )
    list_filter = ("is_active", "trigger", "intervention_type")
    search_fields = ("name",)


@admin.register(OutreachTask)
class OutreachTaskAdmin(admin.ModelAdmin):
    """Staff work the tasks here: assignee, due date, notes and outcome are theirs to edit."""

    list_display = ("due_on", "user", "course", "risk", "assignee", "outcome")
    list_filter = ("outcome", "due_on")
    search_fields = ("user__email", "user__external_id", "notes")
    list_select_related = ("user", "course", "assignee")
    readonly_fields = ("user", "course", "rule", "source", "risk", "reason", "created_at")
    fields = (*readonly_fields, "assignee", "due_on", "notes", "outcome")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers subscribe themselves (the student's message settings); staff may remove one."""

    list_display = ("created_at", "user", "endpoint_host", "user_agent", "last_sent_at")
    search_fields = ("user__email", "user__external_id", "endpoint")
    list_select_related = ("user",)
    readonly_fields = ("user", "endpoint", "p256dh", "auth", "user_agent", "created_at")

    @admin.display(description="Push service")
    def endpoint_host(self, obj: PushSubscription) -> str:
        return obj.endpoint.split("/")[2] if obj.endpoint.count("/") >= 2 else obj.endpoint

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SmsContact)
class SmsContactAdmin(admin.ModelAdmin):
    list_display = ("user", "number", "consented_at")
    search_fields = ("user__email", "user__external_id", "number")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    list_filter = (("consented_at", admin.EmptyFieldListFilter),)


@admin.action(description="Send a message to the selected learners")
def send_message(modeladmin: Any, request: HttpRequest, queryset: Any) -> HttpResponse:
    """To the send page, which shows the count, who would be skipped and a preview first."""
    key = selection_keep(request.session, queryset.values_list("pk", flat=True))
    return HttpResponseRedirect(f"{reverse('interventions:send')}?selection={key}")


# The user list is accounts'; interventions, above it, adds its action to that list.
UserAdmin.actions = [*(UserAdmin.actions or ()), send_message]
