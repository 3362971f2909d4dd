"""Accounts: users, roles, server-side sessions, login and password management."""
