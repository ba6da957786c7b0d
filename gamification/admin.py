"""Admin pages for gamification: browse everything, change state only through services."""
