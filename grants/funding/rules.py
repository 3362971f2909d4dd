"""Who may contract projects and move, verify and see money."""

from grants.core.permissions import predicate, rule
from grants.projects.rules import finance, owner, project_in, staff


@predicate
def is_requester(user, disbursement) -> bool:
    return disbursement is not None and disbursement.requested_by_id == getattr(user, "id", None)


rule("project.contract", staff)
rule("taskbook.download", owner | staff | finance)
rule("taskbook.upload_signed", (owner | staff) & project_in("contracting"))
# The bureau checks the signed copy against the issued task book: it confirms it or returns it.
rule("taskbook.confirm", staff)
rule("tranche.plan", staff & project_in("contracting", "in_progress"))
rule("disbursement.request", staff & project_in("in_progress", "acceptance_review", "accepted"))
rule("spending.report", owner & project_in("in_progress", "acceptance_review"))
rule("finance.ledger", finance | staff)
rule("finance.export", finance | staff)
rule("finance.reconciliation", owner | finance | staff)
rule("recovery.record", finance & project_in("terminated", "acceptance_failed", "closed"))
rule("spending.queue", finance)
rule("finance.queue", finance)
