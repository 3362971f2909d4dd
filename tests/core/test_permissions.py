import pytest

from grants.core.permissions import Predicate, can, has_role, in_state, predicate, rule
from tests.factories import make_user


class Thing:
    def __init__(self, owner_id, state="draft"):
        self.owner_id = owner_id
        self.state = state


@predicate
def owns(user, obj):
    return obj.owner_id == user.id


def test_predicates_compose_with_and_or_not(app):
    owner = make_user("applicant")
    bureau = make_user("bureau")
    pred = (has_role("applicant") & owns & in_state("draft")) | has_role("bureau")
    assert pred(owner, Thing(owner.id))
    assert not pred(owner, Thing(owner.id, state="submitted"))
    assert not pred(owner, Thing(owner.id + 1000))
    assert pred(bureau, Thing(owner.id, state="submitted"))
    assert (~has_role("bureau"))(owner, None)
    assert isinstance(pred, Predicate) and "has_role(bureau)" in pred.name


def test_has_role_is_false_for_anonymous(app):
    from flask_login import AnonymousUserMixin

    assert not has_role("admin")(AnonymousUserMixin(), None)


def test_rule_registered_twice_is_an_error(app):
    with pytest.raises(ValueError):
        rule("users.manage", has_role("admin"))


def test_unknown_action_is_an_error_not_a_silent_no(app):
    with pytest.raises(LookupError):
        can(make_user("admin"), "no.such.action")


def test_can_matches_user_admin_rule(app):
    assert can(make_user("admin"), "users.manage")
    assert not can(make_user("bureau", "finance"), "users.manage")
    assert can(make_user("bureau", "admin"), "users.manage")
