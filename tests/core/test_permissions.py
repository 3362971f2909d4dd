import pytest
import sqlalchemy as sa
from flask_login import login_user
from werkzeug.exceptions import HTTPException

from grants.core.models import AuditEvent
from grants.core.permissions import (
    Predicate,
    can,
    has_role,
    in_state,
    is_authenticated,
    is_system,
    predicate,
    require,
    rule,
)
from grants.extensions import db
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


def _denials():
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "permission.denied")
    ).all()


def test_require_lets_the_allowed_through_and_records_nothing(app):
    admin = make_user("admin")
    with app.test_request_context("/admin/users"):
        login_user(admin)
        assert require("users.manage") is None
    assert _denials() == []


@pytest.mark.parametrize(("hide", "status"), [({}, 403), ({"not_found": True}, 404)])
def test_require_refuses_a_signed_in_user_and_audits_it(app, hide, status):
    finance = make_user("finance")
    db.session.commit()  # the denial is written in its own transaction
    with app.test_request_context("/admin/users"):
        login_user(finance)
        with pytest.raises(HTTPException) as refused:
            require("users.manage", **hide)
    assert refused.value.code == status
    [denial] = _denials()
    assert denial.actor_id == finance.id
    assert denial.after == {"action": "users.manage", "path": "/admin/users"}


def test_require_sends_the_anonymous_to_sign_in_without_an_audit_line(app):
    with app.test_request_context("/admin/users"), pytest.raises(HTTPException) as refused:
        require("users.manage")
    response = refused.value.get_response()
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert _denials() == []


def test_system_is_the_absent_user_only(app):
    assert is_system(None)
    assert not is_system(make_user("admin"))
    assert not is_authenticated(None)
    assert not is_authenticated(object())  # no flag is not signed in


def test_predicates_are_named_after_their_function_and_parts():
    assert repr(owns) == "<Predicate owns>"
    assert Predicate(lambda u, o: True, "given").name == "given"
    both = has_role("bureau", "admin") & ~owns
    assert both.name == "(has_role(admin,bureau) & ~owns)"
    assert (owns | in_state("b", "a")).name == "(owns | in_state(a,b))"


def test_in_state_reads_the_named_column():
    thing = Thing(1, state="draft")
    thing.stage = "open"
    assert in_state("open", attr="stage")(None, thing)
    assert not in_state("draft", attr="stage")(None, thing)
    assert not in_state("draft")(None, object())
