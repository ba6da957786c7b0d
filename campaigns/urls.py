"""Campaign pages, mounted at /dashboard/campaigns/ by config/urls.py."""

from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list_page, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/audience-size/", views.audience_size, name="audience_size"),
    path("<int:pk>/<slug:action>/", views.campaign_action, name="action"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("builder/condition/", views.condition_row, name="condition_row"),
    path("builder/audience/", views.audience_preview_partial, name="audience_preview"),
    path("builder/schedule/", views.schedule_preview, name="schedule_preview"),
    path("builder/template/", views.template_preview, name="template_preview"),
    path("builder/send-test/", views.send_test, name="send_test"),
]
