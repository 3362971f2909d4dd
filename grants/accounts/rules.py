"""Who may manage accounts."""

from grants.core.permissions import has_role, is_authenticated, predicate, rule


@predicate
def is_not_self(user, other) -> bool:
    return other is not None and other.id != user.id


rule("account.change_password", is_authenticated)
rule("users.manage", has_role("admin"))
rule("users.disable", has_role("admin") & is_not_self)
