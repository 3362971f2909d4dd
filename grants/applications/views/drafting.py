"""Applicant pages: open calls, the sectioned form with autosave, attachments, submission."""
