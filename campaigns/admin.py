"""The campaigns admin."""
