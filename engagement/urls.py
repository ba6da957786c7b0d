"""Server-rendered staff pages, mounted at /dashboard/engagement/."""

from django.urls import path

from engagement import views

app_name = "engagement"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("at-risk/", views.at_risk_list, name="at_risk_list"),
    path("recalculate/", views.recalculate, name="recalculate"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
    path("learners/<int:user_id>/", views.learner, name="learner"),
]
