"""Admin for people, API keys, LTI platforms and sign-in links; keys (API and LTI tool keys)
are made and revoked through the services; launches and sign-in links are read-only logs."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.forms import ApiKeyCreateForm
from accounts.models import (
    ApiKey,
    LtiDeployment,
    LtiIdentity,
    LtiLaunch,
    LtiPlatform,
    LtiToolKey,
    SignInLink,
    User,
)
from accounts.services import (
    api_key_create,
    api_key_revoke,
    lti_tool_key_create,
    lti_tool_key_retire,
)
from core.admin import EstimatedCountPaginator, ReadOnlyAdmin


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "external_id", "role", "timezone", "provisional", "is_staff"]
    list_filter = ["role", "provisional", "is_staff", "is_active"]
    search_fields = ["email", "external_id", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "role", "timezone", "external_id")}),
        ("Status", {"fields": ("provisional", "is_active", "is_staff", "is_superuser")}),
        ("Permissions", {"classes": ("collapse",), "fields": ("groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "role", "timezone", "password1", "password2"),
            },
        ),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "scopes",
        "source",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "source"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: object):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["name", "source", "scopes"]
        return [
            "name",
            "prefix",
            "scopes",
            "source",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return [
            "prefix",
            "scopes",
            "source",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ApiKeyCreateForm, change: bool):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw_key = api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            source=form.cleaned_data.get("source") or "",
            created_by=request.user,
        )
        obj.__dict__.update(key.__dict__)
        messages.warning(
            request,
            f"New API key for '{key.name}': {raw_key} — copy it now; it will not be shown again.",
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


class LtiDeploymentInline(admin.TabularInline):
    model = LtiDeployment
    extra = 1
    fields = ["deployment_id"]


@admin.register(LtiPlatform)
class LtiPlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "client_id", "user_match", "deployment_count", "is_active"]
    list_filter = ["is_active", "user_match"]
    search_fields = ["name", "issuer", "client_id"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [LtiDeploymentInline]
    formfield_overrides = {
        models.URLField: {"widget": widgets.AdminURLFieldWidget, "assume_scheme": "https"}
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[LtiPlatform]:
        return super().get_queryset(request).annotate(deployment_total=Count("deployments"))

    @admin.display(description="deployments", ordering="deployment_total")
    def deployment_count(self, platform: LtiPlatform) -> int:
        return platform.deployment_total

    def get_fieldsets(self, request: HttpRequest, obj: LtiPlatform | None = None) -> Any:
        urls = {
            "Login initiation URL (OIDC)": reverse("accounts:lti-login"),
            "Redirect / launch URL (also the target link URI)": reverse("accounts:lti-launch"),
            "Public keyset URL (JWKS)": reverse("accounts:lti-jwks"),
        }
        tool = format_html(
            "Enter these on the platform's tool page, then copy its values below.<dl>{}</dl>",
            format_html_join(
                "",
                "<dt>{}</dt><dd><code>{}</code></dd>",
                ((label, request.build_absolute_uri(path)) for label, path in urls.items()),
            ),
        )
        return [
            ("Stride's tool", {"fields": [], "description": tool}),
            (None, {"fields": ["name", "is_active", "user_match"]}),
            (
                "What the platform shows for Stride's tool",
                {
                    "fields": [
                        "issuer",
                        "client_id",
                        "auth_login_url",
                        "access_token_url",
                        "keyset_url",
                        "audience",
                    ]
                },
            ),
            ("Dates", {"fields": ["created_at", "updated_at"]}),
        ]


@admin.register(LtiToolKey)
class LtiToolKeyAdmin(admin.ModelAdmin):
    """Stride's own key pairs: saving the (empty) add form generates one; never edited."""

    list_display = ["kid", "created_at", "retired_at"]
    list_filter = ["retired_at"]
    readonly_fields = ["kid", "public_key", "created_at", "retired_at"]
    actions = ["retire"]

    def get_fieldsets(self, request: HttpRequest, obj: LtiToolKey | None = None) -> Any:
        if obj is not None:
            return [(None, {"fields": ["kid", "public_key", "created_at", "retired_at"]})]
        about = (
            "Saving generates a new RSA key pair (as `manage.py lti_tool_key --rotate` does). "
            "It signs from now on; older keys stay published until you retire them."
        )
        return [(None, {"fields": [], "description": about})]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: LtiToolKey, form: Any, change: bool) -> None:
        key = lti_tool_key_create()
        obj.__dict__.update(key.__dict__)
        messages.info(request, f"Generated tool key {key.kid}; it is published at the JWKS URL.")

    @admin.action(description="Retire selected keys (stop publishing them)")
    def retire(self, request: HttpRequest, queryset: QuerySet[LtiToolKey]) -> None:
        for key in queryset:
            lti_tool_key_retire(key=key)
        self.message_user(request, f"Retired {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(LtiIdentity)
class LtiIdentityAdmin(ReadOnlyAdmin):
    """Who each platform user is in Stride; deleting one makes the next launch match anew."""

    list_display = ["sub", "platform", "user", "created_at", "last_launch_at"]
    list_filter = ["platform"]
    search_fields = ["sub", "user__email", "user__external_id"]
    list_select_related = ["platform", "user"]
    raw_id_fields = ["user"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)


@admin.register(LtiLaunch)
class LtiLaunchAdmin(ReadOnlyAdmin):
    list_display = ["launched_at", "user", "platform", "context_title", "context_id"]
    list_filter = ["platform"]
    search_fields = ["user__email", "user__external_id", "context_id", "context_title"]
    list_select_related = ["platform", "user"]
    date_hierarchy = "launched_at"
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(SignInLink)
class SignInLinkAdmin(ReadOnlyAdmin):
    """Links made and spent; the tokens themselves were never stored."""

    list_display = ["user", "state", "created_at", "expires_at", "used_at", "requested_by"]
    list_filter = ["used_at"]
    search_fields = ["user__email", "user__external_id"]
    list_select_related = ["user", "requested_by"]
    exclude = ["token_hash"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.display(description="state")
    def state(self, link: SignInLink) -> str:
        if link.used_at is not None:
            return "used"
        return "expired" if link.expires_at <= timezone.now() else "unused"
