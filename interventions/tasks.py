"""Celery entry points for interventions."""

from celery import shared_task

from interventions.services.deliveries import deliveries_send_due


@shared_task(name="interventions.send_due")
def send_due() -> int:
    """Send every delivery that is due; return how many left."""
    return deliveries_send_due()
