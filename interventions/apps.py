from django.apps import AppConfig


class InterventionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "interventions"
    verbose_name = "Interventions"

    def ready(self) -> None:
        from anymail.signals import tracking

        from interventions.receivers import on_tracking

        tracking.connect(on_tracking, dispatch_uid="interventions.on_tracking")
