"""Who may manage and see calls."""

from grants.core.permissions import has_role, in_state, is_authenticated, rule

staff = has_role("bureau", "admin")

rule("call.manage", staff)
rule("call.view", staff | (is_authenticated & in_state("published", "closed")))
rule("call.list_open", is_authenticated)
# Publishing, closing and reopening are workflow events: see grants/programmes/workflow.py.
