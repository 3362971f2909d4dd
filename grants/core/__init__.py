"""Cores shared by every domain: permissions, workflow, audit, money, jobs, time."""
