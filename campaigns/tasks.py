"""Celery entry points for campaigns."""
