"""Programmes and calls (申报指南): what the bureau publishes and enterprises apply to."""
