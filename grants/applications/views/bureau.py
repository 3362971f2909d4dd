"""Bureau pages: the formal check, the filtered list with xlsx export, the duplicate check."""
