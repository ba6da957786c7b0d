from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from celery.signals import task_failure, task_postrun, task_prerun, task_success

        from analytics import receivers

        task_prerun.connect(receivers.on_task_prerun, dispatch_uid="analytics.task_prerun")
        task_success.connect(receivers.on_task_success, dispatch_uid="analytics.task_success")
        task_failure.connect(receivers.on_task_failure, dispatch_uid="analytics.task_failure")
        task_postrun.connect(receivers.on_task_postrun, dispatch_uid="analytics.task_postrun")
