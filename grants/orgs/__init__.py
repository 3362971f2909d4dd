"""Organisations, their qualifications and yearly figures; industry clusters; invitations."""
