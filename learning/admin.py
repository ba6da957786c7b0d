from django.contrib import admin

from learning.models import (
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    LiveSession,
    LiveSessionRegistration,
)


class LessonInline(admin.TabularInline):
    model = Lesson
    extra = 0
    fields = ["position", "title", "external_id", "duration_seconds"]
    ordering = ["position"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "external_id", "instructor", "starts_on", "ends_on", "provisional"]
    list_filter = ["provisional", "starts_on"]
    search_fields = ["title", "external_id"]
    list_select_related = ["instructor"]
    raw_id_fields = ["instructor"]
    inlines = [LessonInline]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "position", "external_id", "duration_seconds"]
    list_filter = ["course"]
    search_fields = ["title", "external_id", "course__title"]
    list_select_related = ["course"]
    raw_id_fields = ["course"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "status", "enrolled_at", "completed_at", "withdrawn_at"]
    list_filter = ["status", "provisional", "course"]
    search_fields = ["user__email", "user__external_id", "course__title"]
    list_select_related = ["user", "course"]
    raw_id_fields = ["user", "course"]
    date_hierarchy = "enrolled_at"


@admin.register(LessonProgress)
class LessonProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "lesson", "percent", "started_at", "completed_at"]
    search_fields = ["user__email", "lesson__title"]
    list_select_related = ["user", "lesson"]
    raw_id_fields = ["user", "lesson"]


class RegistrationInline(admin.TabularInline):
    model = LiveSessionRegistration
    fk_name = "session"
    extra = 0
    fields = ["user", "status", "registered_at", "attended", "outcome_at"]
    readonly_fields = ["attended", "outcome_at"]
    raw_id_fields = ["user"]


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "starts_at", "duration_minutes", "status", "external_id"]
    list_filter = ["status", "course"]
    search_fields = ["title", "external_id", "course__title"]
    list_select_related = ["course"]
    raw_id_fields = ["course"]
    date_hierarchy = "starts_at"
    inlines = [RegistrationInline]


@admin.register(LiveSessionRegistration)
class LiveSessionRegistrationAdmin(admin.ModelAdmin):
    list_display = ["user", "session", "status", "registered_at", "attended", "outcome_at"]
    list_filter = ["status", "attended"]
    search_fields = ["user__email", "user__external_id", "session__title", "session__external_id"]
    list_select_related = ["user", "session"]
    raw_id_fields = ["user", "session", "rescheduled_from"]
    readonly_fields = ["attended", "outcome_at"]
