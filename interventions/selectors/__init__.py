"""Reads of `interventions`."""
