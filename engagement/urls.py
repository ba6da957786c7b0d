# PLACEHOLDER (being written by the dashboard helper): server-rendered staff pages.
app_name = "engagement"
urlpatterns: list = []
