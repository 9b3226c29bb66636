"""The Dagster layer's jobs, schedules, sensors and resources; ``definitions.py`` builds them."""
