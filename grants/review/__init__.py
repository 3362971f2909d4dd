"""Expert review: pool, conflicts of interest, assignment, scoring, ranking, decision, public notice."""
