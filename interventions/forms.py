"""Admin forms: a template's fields must render (syntax and known variables) before saving."""

from __future__ import annotations

from typing import Any

from django import forms

from interventions.models import MessageTemplate, Variant
from interventions.selectors.context import CONTEXT_KEYS
from interventions.services.rendering import template_errors

_HELP = "Variables: " + ", ".join(f"{{{{ {key} }}}}" for key in CONTEXT_KEYS) + "."


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = (
            "name",
            "slug",
            "intervention_type",
            "channel",
            "subject",
            "body",
            "cta_label",
            "cta_path",
            "goal_event",
            "attribution_hours",
            "ai_personalise",
            "is_active",
        )
        help_texts = {"body": _HELP}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fields = {name: data.get(name) or "" for name in ("subject", "body", "cta_path")}
        for name, message in template_errors(fields).items():
            self.add_error(name, message)
        return data


class VariantForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ("template", "name", "subject", "body", "cta_label", "weight")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fields = {name: data.get(name) or "" for name in ("subject", "body")}
        for name, message in template_errors(fields).items():
            self.add_error(name, message)
        return data


class PreviewForm(forms.Form):
    learner = forms.CharField(
        help_text="A learner's external id or email; the preview renders their own context."
    )
