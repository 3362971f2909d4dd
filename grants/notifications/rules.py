"""Who may read inboxes and the outbox."""

from flask import current_app

from grants.core.permissions import has_role, is_authenticated, predicate, rule


@predicate
def outbox_shown(user, obj) -> bool:
    return bool(current_app.config.get("SHOW_OUTBOX"))


rule("inbox.view", is_authenticated)
rule("outbox.view", has_role("admin") & outbox_shown)
