"""Notifications: an in-app inbox per user and e-mail through an outbox table."""
