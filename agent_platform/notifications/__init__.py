"""Notifications: a durable outbox and its delivery to webhooks, Slack and email."""
