"""Applications (申报书): drafting, submission, formal check, lists and duplicate check."""
