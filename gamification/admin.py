"""Admin pages for gamification: browse everything, change state only through services."""

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.admin import EstimatedCountPaginator, ReadOnlyAdmin
from core.errors import DomainValidationError
from gamification.models import (
    Achievement,
    AchievementUnlock,
    League,
    LeagueMembership,
    LeagueWeek,
    LearnerGameProfile,
    Level,
    LevelCurve,
    LevelScheme,
    Moment,
    Reward,
    RewardGrant,
    RewardUse,
    StreakDay,
    StreakMilestone,
    StreakMilestoneReached,
    XpAction,
    XpRefusal,
    XpTransaction,
)
from gamification.selectors.rewards import learners_find
from gamification.services.achievements import achievement_unlock, achievements_unlock
from gamification.services.leagues import league_week_close
from gamification.services.levels import (
    level_scheme_update,
    level_scheme_validate,
    level_thresholds_validate,
)
from gamification.services.rewards import reward_grant
from gamification.services.xp import MAX_AMOUNT, xp_grant, xp_revoke, xp_totals_rebuild

# --- Moments (9e): written by gamification's services only; staff browse them. ---------------


@admin.register(Moment)
class MomentAdmin(ReadOnlyAdmin):
    """Level-ups, unlocks, milestones, league results: what each learner was told."""

    list_display = ("occurred_at", "user", "kind", "title", "seen_at", "learner_pages")
    list_filter = ("kind", ("seen_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "user__external_id", "title", "dedupe_key")
    list_select_related = ("user",)
    ordering = ("-occurred_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fields = (
        "user",
        "kind",
        "title",
        "body",
        "data",
        "dedupe_key",
        "occurred_at",
        "seen_at",
        "learner_pages",
    )

    @admin.display(description="Learner's pages")
    def learner_pages(self, obj: Moment) -> str:
        if not obj.user.external_id:
            return "-"
        url = reverse("gamification:overview") + "?" + urlencode({"as": obj.user.external_id})
        return format_html('<a href="{}">View as learner</a>', url)


# --- Streaks, achievements and rewards (9c): grants and unlocks go through the services. ----


class _LearnersForm(forms.Form):
    """Learners named by email or external id, and why (an admin action's second page)."""

    learners = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text="Emails or external ids, one per line (or separated by commas).",
    )
    reason = forms.CharField(max_length=255, help_text="Why: kept with the record.")
    # Fixed when the page is shown, so that a form sent twice grants or unlocks once.
    request_key = forms.CharField(widget=forms.HiddenInput)

    def clean_learners(self) -> list[int]:
        found, missing = learners_find(
            identifiers=re.split(r"[\s,;]+", self.cleaned_data["learners"])
        )
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            raise ValidationError(f"No learner has this email or external id: {shown}")
        if not found:
            raise ValidationError("Name at least one learner.")
        return sorted(set(found.values()))


class _RewardGrantForm(_LearnersForm):
    quantity = forms.IntegerField(min_value=1, max_value=100, initial=1)


def _learners_action_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    items: list[Any],
    form: forms.Form,
    *,
    title: str,
    intro: str,
    submit_label: str,
) -> TemplateResponse:
    """An admin action's second page: what it applies to, and the form asking how and why."""
    return TemplateResponse(
        request,
        "admin/gamification/learners_action.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": title,
            "intro": intro,
            "items": items,
            "form": form,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "submit_label": submit_label,
        },
    )


def _one_selected(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
    items = list(queryset[:2])
    if len(items) != 1:
        model_admin.message_user(request, "Select exactly one.", messages.WARNING)
        return None
    return items[0]


@admin.register(StreakDay)
class StreakDayAdmin(ReadOnlyAdmin):
    """Learners' local days that kept a streak: active, or covered by a freeze."""

    list_display = (
        "date",
        "user",
        "status",
        "activity_count",
        "run_length",
        "run_started_on",
    )
    list_filter = ("status", ("date", admin.DateFieldListFilter))
    search_fields = ("user__email", "user__external_id")
    list_select_related = ("user",)
    ordering = ("-date", "user_id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(StreakMilestone)
class StreakMilestoneAdmin(admin.ModelAdmin):
    """The streak lengths that pay a reward: XP (streak_milestone action) and freezes."""

    list_display = ("days", "name", "xp_reward", "freezes_reward")
    list_editable = ("name", "xp_reward", "freezes_reward")
    ordering = ("days",)


@admin.register(StreakMilestoneReached)
class StreakMilestoneReachedAdmin(ReadOnlyAdmin):
    list_display = ("reached_on", "user", "milestone", "streak_started_on")
    list_filter = ("milestone",)
    search_fields = ("user__email", "user__external_id")
    list_select_related = ("user", "milestone")
    ordering = ("-reached_on", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(Achievement)
class AchievementAdmin(admin.ModelAdmin):
    """Achievement definitions; rarity and share are recomputed nightly, not edited."""

    list_display = (
        "name",
        "code",
        "criterion",
        "threshold",
        "course",
        "tier",
        "icon",
        "xp_reward",
        "rarity",
        "holders_percent",
        "is_active",
    )
    list_filter = ("criterion", "tier", "rarity", "is_active")
    search_fields = ("code", "name")
    list_select_related = ("course",)
    raw_id_fields = ("course",)
    readonly_fields = ("rarity", "holders_share")
    actions = ["unlock_for_learners"]
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "icon", "tier", "is_active")}),
        (
            "Criterion",
            {
                "fields": ("criterion", "threshold", "event_type", "course"),
                "description": "Counts of an event type and of perfect quizzes start when the "
                "achievement is created: events from before are not counted.",
            },
        ),
        ("Reward and rarity", {"fields": ("xp_reward", "rarity", "holders_share")}),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # learners keep what they won: switch it off instead

    @admin.display(description="Held by")
    def holders_percent(self, obj: Achievement) -> str:
        return f"{100 * obj.holders_share:.1f} %"

    @admin.action(description="Unlock the selected achievement for learners…")
    def unlock_for_learners(self, request: HttpRequest, queryset: QuerySet[Achievement]):
        achievement = _one_selected(self, request, queryset)
        if achievement is None:
            return None
        form = _LearnersForm(
            request.POST if "apply" in request.POST else None,
            initial={"request_key": uuid.uuid4().hex},
        )
        if form.is_valid():
            try:
                made = len(
                    achievements_unlock(
                        user_ids=form.cleaned_data["learners"],
                        achievement_code=achievement.code,
                        granted_by_id=request.user.pk,
                        reason=form.cleaned_data["reason"],
                    )
                )
            except DomainValidationError as error:
                self.message_user(request, error.messages_text(), messages.ERROR)
                return None
            held = len(form.cleaned_data["learners"]) - made
            self.message_user(
                request,
                f"Unlocked {achievement.name} for {made} learner(s)"
                + (f"; {held} held it already." if held else "."),
                messages.SUCCESS,
            )
            return None
        return _learners_action_page(
            self,
            request,
            [achievement],
            form,
            title=f"Unlock {achievement.name} by hand",
            intro="Each learner gets the achievement, its XP and a moment, once.",
            submit_label="Unlock",
        )


class _ManualUnlockForm(forms.ModelForm):
    class Meta:
        model = AchievementUnlock
        fields = ("user", "achievement", "reason")

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Say why: a written reason is required.")
        return reason


@admin.register(AchievementUnlock)
class AchievementUnlockAdmin(ReadOnlyAdmin):
    """Who holds what; "Add" unlocks one by hand, through the service (XP and moment too)."""

    list_display = ("unlocked_at", "user", "achievement", "granted_by", "reason")
    list_filter = ("achievement", ("granted_by", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "user__external_id", "achievement__name")
    list_select_related = ("user", "achievement", "granted_by")
    raw_id_fields = ("user",)
    ordering = ("-unlocked_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    form = _ManualUnlockForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gamification.add_achievementunlock")

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ("user", "achievement", "reason")
        return ("user", "achievement", "unlocked_at", "granted_by", "reason")

    def save_model(self, request: HttpRequest, obj: AchievementUnlock, form, change: bool):
        achievement_unlock(
            user_id=obj.user_id,
            achievement_code=obj.achievement.code,
            granted_by_id=request.user.pk,
            reason=obj.reason,
        )
        stored = AchievementUnlock.objects.get(user_id=obj.user_id, achievement=obj.achievement)
        obj.pk = stored.pk
        obj._state.adding = False


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    """The rewards catalogue; grant one to learners with the action (through the service)."""

    list_display = ("name", "code", "kind", "value", "max_held", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name", "value")
    actions = ["grant_to_learners"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # grants and uses point at it: switch it off instead

    @admin.action(description="Grant the selected reward to learners…")
    def grant_to_learners(self, request: HttpRequest, queryset: QuerySet[Reward]):
        reward = _one_selected(self, request, queryset)
        if reward is None:
            return None
        form = _RewardGrantForm(
            request.POST if "apply" in request.POST else None,
            initial={"request_key": uuid.uuid4().hex, "quantity": 1},
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                results = [
                    reward_grant(
                        user_id=user_id,
                        reward_code=reward.code,
                        quantity=data["quantity"],
                        source="staff",
                        reason=data["reason"],
                        idempotency_key=f"admin:{data['request_key']}:{reward.code}:{user_id}",
                        granted_by_id=request.user.pk,
                    )
                    for user_id in data["learners"]
                ]
            except DomainValidationError as error:
                self.message_user(request, error.messages_text(), messages.ERROR)
                return None
            given = sum(r.granted for r in results)
            capped = sum(r.capped for r in results)
            self.message_user(
                request,
                f"Granted {given} x {reward.name} to {len(results)} learner(s)"
                + (f"; {capped} already held the most allowed." if capped else "."),
                messages.SUCCESS,
            )
            return None
        return _learners_action_page(
            self,
            request,
            [reward],
            form,
            title=f"Grant {reward.name}",
            intro="Each grant is recorded with the reason; what a learner may hold is capped.",
            submit_label="Grant",
        )


@admin.register(RewardGrant)
class RewardGrantAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "reward",
        "quantity",
        "requested_quantity",
        "source",
        "reason",
        "granted_by",
    )
    list_filter = ("reward", "source")
    search_fields = ("user__email", "user__external_id", "idempotency_key", "reason")
    list_select_related = ("user", "reward", "granted_by")
    ordering = ("-created_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(RewardUse)
class RewardUseAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "reward", "reference", "reason", "refunded_at")
    list_filter = ("reward", ("refunded_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "user__external_id", "idempotency_key", "reference")
    list_select_related = ("user", "reward")
    ordering = ("-created_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


# --- Weekly leagues (9d): formed and closed by the services only; staff browse them. --------


@admin.register(LeagueWeek)
class LeagueWeekAdmin(ReadOnlyAdmin):
    """League weeks and how their closing went; "Close" runs the service for due weeks."""

    list_display = ("starts_on", "status", "league_count", "member_count", "closed_at")
    list_filter = ("status",)
    search_fields = ("starts_on",)  # e.g. "2026-11" for November's weeks
    date_hierarchy = "starts_on"
    ordering = ("-starts_on",)
    actions = ["close_due_weeks"]
    fields = ("starts_on", "status", "closing_started_at", "closed_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeagueWeek]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _leagues=Count("leagues", distinct=True),
                _members=Count("memberships", distinct=True),
            )
        )

    @admin.display(description="Leagues", ordering="_leagues")
    def league_count(self, obj: Any) -> int:
        return obj._leagues

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Any) -> int:
        return obj._members

    @admin.action(description="Close the selected weeks now, if they are due")
    def close_due_weeks(self, request: HttpRequest, queryset: QuerySet[LeagueWeek]) -> None:
        # Weeks close oldest first (their promotions set the next week's tiers).
        closed = 0
        for week_id in queryset.order_by("starts_on").values_list("pk", flat=True):
            if league_week_close(week_id=week_id) is not None:
                closed += 1
        if closed:
            self.message_user(request, f"Closed {closed} league week(s).", messages.SUCCESS)
        else:
            self.message_user(
                request,
                "Nothing closed: a week closes once it is due (Monday 13:00 UTC after it) "
                "and is not closed or being closed already.",
                messages.WARNING,
            )


class LeagueMembershipInline(admin.TabularInline):
    model = LeagueMembership
    fields = ("user", "xp", "final_rank", "outcome", "joined_at")
    readonly_fields = fields
    ordering = ("final_rank", "-xp", "user")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeagueMembership]:
        return super().get_queryset(request).select_related("user")


@admin.register(League)
class LeagueAdmin(ReadOnlyAdmin):
    """One week's league of a tier, with its members and their results."""

    list_display = ("__str__", "week", "tier", "number", "pace_xp", "member_count")
    list_filter = ("tier", "week__status")
    search_fields = ("memberships__user__email", "memberships__user__external_id")
    list_select_related = ("week",)
    ordering = ("-week__starts_on", "tier", "number")
    inlines = [LeagueMembershipInline]
    fields = ("week", "tier", "number", "pace_xp")

    def get_queryset(self, request: HttpRequest) -> QuerySet[League]:
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Any) -> int:
        return obj._members


@admin.register(LeagueMembership)
class LeagueMembershipAdmin(ReadOnlyAdmin):
    """Who was in which league each week, with points (final once closed) and outcome."""

    list_display = ("week", "league", "user", "xp", "final_rank", "outcome", "joined_at")
    list_filter = ("outcome", "league__tier", "week__status")
    search_fields = ("user__email", "user__external_id")
    list_select_related = ("week", "league", "league__week", "user")
    ordering = ("-week__starts_on", "league__tier", "league__number", "final_rank", "-xp")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fields = ("week", "league", "user", "xp", "final_rank", "outcome", "joined_at")


# --- XP, levels and learners' totals (9b): the ledger changes only through the services. -----

_EVENT_TYPE_RE = re.compile(r"(x-)?[a-z0-9][a-z0-9_-]{0,63}")


class XpActionForm(forms.ModelForm):
    """An action of the catalogue; event types are checked for shape (the catalogue of event
    types belongs to engagement, above gamification, which may not import it)."""

    class Meta:
        model = XpAction
        fields = (
            "code",
            "name",
            "description",
            "amount",
            "is_active",
            "event_types",
            "condition",
            "repeat",
            "daily_cap",
            "min_interval_seconds",
            "burst_limit",
            "burst_window_seconds",
        )

    def clean_event_types(self) -> list[str]:
        value = self.cleaned_data.get("event_types") or []
        if not isinstance(value, list) or not all(
            isinstance(item, str) and _EVENT_TYPE_RE.fullmatch(item) for item in value
        ):
            raise ValidationError(
                'A JSON list of event type names, e.g. ["lesson_completed", "x-badge-shared"].'
            )
        return list(dict.fromkeys(value))


@admin.register(XpAction)
class XpActionAdmin(admin.ModelAdmin):
    """The actions catalogue: amounts, the events that earn each, and anti-cheat limits."""

    form = XpActionForm
    list_display = (
        "code",
        "name",
        "amount",
        "earned_by",
        "repeat",
        "daily_cap",
        "min_interval_seconds",
        "burst_limit",
        "is_active",
    )
    list_editable = ("amount", "daily_cap", "is_active")
    list_filter = ("is_active", "repeat", "condition")
    search_fields = ("code", "name", "description")
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "amount", "is_active")}),
        ("Earned by", {"fields": ("event_types", "condition", "repeat")}),
        (
            "Anti-cheat",
            {
                "fields": (
                    "daily_cap",
                    "min_interval_seconds",
                    "burst_limit",
                    "burst_window_seconds",
                ),
                "description": "Refused awards are kept (XP refusals) with the reason.",
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger points at it: switch it off instead

    @admin.display(description="Earned by")
    def earned_by(self, obj: XpAction) -> str:
        return ", ".join(obj.event_types or []) or "services / API"


class LevelSchemeForm(forms.ModelForm):
    class Meta:
        model = LevelScheme
        fields = ("curve", "base", "factor")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            try:
                level_scheme_validate(curve=data["curve"], base=data["base"], factor=data["factor"])
            except DomainValidationError as error:
                for field, problems in error.fields.items():
                    self.add_error(field if field in self.fields else None, problems)
        return data


class LevelInlineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if self.instance.curve != LevelCurve.MANUAL:
            return
        thresholds = {
            form.instance.number: form.cleaned_data["threshold_xp"]
            for form in self.forms
            if "threshold_xp" in getattr(form, "cleaned_data", {})
        }
        if thresholds:
            try:
                level_thresholds_validate(thresholds)
            except DomainValidationError as error:
                raise ValidationError(error.fields["thresholds"]) from error


class LevelInline(admin.TabularInline):
    """The ten levels: names always; thresholds by hand when the curve is manual."""

    model = Level
    formset = LevelInlineFormSet
    fields = ("number", "name", "threshold_xp")
    ordering = ("number",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.curve == LevelCurve.MANUAL:
            return ("number",)
        return ("number", "threshold_xp")


@admin.register(LevelScheme)
class LevelSchemeAdmin(admin.ModelAdmin):
    """The level curve in force. Saving recomputes the thresholds and every learner's level
    (through the service); choose "manual" to type the thresholds in."""

    form = LevelSchemeForm
    list_display = ("__str__", "curve", "base", "factor", "updated_at")
    inlines = [LevelInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not LevelScheme.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LevelScheme, form: Any, change: bool) -> None:
        if not change:  # the first scheme (no levels to name yet): the service creates it
            obj.pk = self._update(obj, {}, {}).pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if not change:
            return
        names: dict[int, str] = {}
        thresholds: dict[int, int] = {}
        for formset in formsets:
            for level_form in formset.forms:
                data = getattr(level_form, "cleaned_data", {})
                if "name" in data:
                    names[level_form.instance.number] = data["name"]
                if "threshold_xp" in data:
                    thresholds[level_form.instance.number] = data["threshold_xp"]
            # What formset.save() would have noted, for the admin's change message.
            formset.new_objects, formset.deleted_objects = [], []
            formset.changed_objects = [
                (level_form.instance, level_form.changed_data)
                for level_form in formset.forms
                if level_form.has_changed()
            ]
        self._update(form.instance, names, thresholds)

    def _update(
        self, obj: LevelScheme, names: dict[int, str], thresholds: dict[int, int]
    ) -> LevelScheme:
        return level_scheme_update(
            curve=obj.curve, base=obj.base, factor=obj.factor, names=names, thresholds=thresholds
        )


@admin.register(XpTransaction)
class XpTransactionAdmin(ReadOnlyAdmin):
    """The XP ledger: every change of every learner's XP, never edited."""

    list_display = (
        "occurred_at",
        "user",
        "kind",
        "action",
        "amount",
        "balance_after",
        "level_after",
        "reference",
        "reason",
        "created_by",
    )
    list_filter = ("kind", "action", "levelled_up")
    search_fields = ("=user__email", "=user__external_id", "=idempotency_key")
    search_help_text = "A learner's exact email or external id, or an idempotency key."
    list_select_related = ("user", "action", "created_by")
    ordering = ("-occurred_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100


@admin.register(XpRefusal)
class XpRefusalAdmin(ReadOnlyAdmin):
    """Awards anti-cheat refused, with the reason: where to look for someone gaming the XP."""

    list_display = ("occurred_at", "user", "action", "reason", "reference", "balance")
    list_filter = ("reason", "action")
    search_fields = ("=user__email", "=user__external_id", "=idempotency_key")
    search_help_text = "A learner's exact email or external id, or an idempotency key."
    list_select_related = ("user", "action")
    ordering = ("-occurred_at", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 100


class XpAdjustForm(forms.Form):
    """How much XP to grant or revoke, and why (the admin actions' second page)."""

    amount = forms.IntegerField(min_value=1, max_value=MAX_AMOUNT, help_text="XP per learner.")
    reason = forms.CharField(
        max_length=255, help_text="Why: kept in the ledger with your name. Required."
    )
    # Fixed when the page is shown, so that a form sent twice changes the XP once.
    request_key = forms.CharField(widget=forms.HiddenInput)


@admin.register(LearnerGameProfile)
class LearnerGameProfileAdmin(ReadOnlyAdmin):
    """Learners' totals, derived from the ledger: grant or revoke XP with a reason, or rebuild
    the totals from the ledger, with the actions."""

    list_display = (
        "user",
        "total_xp",
        "level",
        "current_streak",
        "longest_streak",
        "last_active_date",
        "league_tier",
        "show_on_leaderboards",
    )
    list_filter = ("level", "league_tier", "show_on_leaderboards")
    search_fields = ("=user__email", "=user__external_id")
    search_help_text = "A learner's exact email or external id."
    list_select_related = ("user",)
    ordering = ("-total_xp", "user_id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ["grant_xp", "revoke_xp", "rebuild_totals"]

    def has_xp_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gamification.add_xptransaction")

    @admin.action(description="Grant XP to the selected learners…", permissions=["xp"])
    def grant_xp(self, request: HttpRequest, queryset: QuerySet[LearnerGameProfile]):
        return self._adjust(request, queryset, grant=True)

    @admin.action(description="Revoke XP from the selected learners…", permissions=["xp"])
    def revoke_xp(self, request: HttpRequest, queryset: QuerySet[LearnerGameProfile]):
        return self._adjust(request, queryset, grant=False)

    @admin.action(description="Rebuild the selected totals from the ledger", permissions=["xp"])
    def rebuild_totals(self, request: HttpRequest, queryset: QuerySet[LearnerGameProfile]):
        user_ids = list(queryset.values_list("user_id", flat=True))
        changed = xp_totals_rebuild(user_ids=user_ids)
        self.message_user(
            request,
            f"Rebuilt {len(user_ids)} total(s) from the ledger; {changed} had drifted.",
            messages.SUCCESS,
        )

    def _adjust(self, request: HttpRequest, queryset: QuerySet[LearnerGameProfile], *, grant: bool):
        profiles = list(queryset.select_related("user").order_by("user_id"))
        form = XpAdjustForm(
            request.POST if "apply" in request.POST else None,
            initial={"request_key": uuid.uuid4().hex},
        )
        if form.is_valid():
            data = form.cleaned_data
            change = xp_grant if grant else xp_revoke
            done = 0
            for profile in profiles:
                by = {"granted_by_id" if grant else "revoked_by_id": request.user.pk}
                try:
                    change(
                        user_id=profile.user_id,
                        amount=data["amount"],
                        reason=data["reason"],
                        idempotency_key=(
                            f"admin:{'grant' if grant else 'revoke'}:{data['request_key']}:"
                            f"{profile.user_id}"
                        ),
                        **by,
                    )
                except DomainValidationError as error:
                    self.message_user(
                        request, f"{profile.user}: {error.messages_text()}", messages.ERROR
                    )
                    continue
                done += 1
            verb = "Granted" if grant else "Revoked"
            self.message_user(
                request,
                f"{verb} {data['amount']:,} XP {'to' if grant else 'from'} {done} learner(s).",
                messages.SUCCESS if done else messages.WARNING,
            )
            return None
        what = "Grant XP to" if grant else "Revoke XP from"
        return _learners_action_page(
            self,
            request,
            [profile.user for profile in profiles],  # a profile's pk is its user's
            form,
            title=f"{what} {len(profiles)} learner(s)",
            intro="Each learner's ledger gets one row with the amount and your reason; "
            "the totals and levels follow." + ("" if grant else " A total never goes below zero."),
            submit_label="Grant" if grant else "Revoke",
        )
