"""The action wrapper: one commit per action, refusals shown, 403s audited, no commit elsewhere."""

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden
from wtforms import StringField

from grants.core import audit
from grants.core.actions import action, attempt, lost_race_message
from grants.core.models import AuditEvent
from grants.core.refusals import OperationError
from grants.core.workflow import WorkflowError, transition
from grants.extensions import db
from tests.factories import ClusterFactory, InvitationFactory, make_user

ROOT = Path(__file__).resolve().parents[2]


def events(name: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == name)).all()


@pytest.fixture
def commits(app):
    """The number of commits of the request's session while the test runs."""
    counted = []

    def count(session):
        counted.append(session)

    sa.event.listen(Session, "after_commit", count)
    try:
        yield counted
    finally:
        sa.event.remove(Session, "after_commit", count)


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()
    code = StringField()


def test_action_commits_once(app, commits):
    with app.test_request_context("/things", method="POST"):
        with action() as done:
            audit.record("test.first")
            audit.record("test.second")
        assert done and done.message is None
    assert len(commits) == 1
    db.session.rollback()  # nothing is left to roll back: both rows were committed
    assert len(events("test.first")) == 1 and len(events("test.second")) == 1


def test_action_rolls_back_and_flashes_on_operation_error(app, commits):
    with app.test_request_context("/things", method="POST"):
        with action() as done:
            audit.record("test.refused")
            raise OperationError("Not like this.")
        assert not done and done.message == "Not like this."
        assert get_flashed_messages(with_categories=True) == [("danger", "Not like this.")]
    assert commits == []
    assert events("test.refused") == []


def test_action_treats_workflow_errors_as_operation_errors(app):
    member = make_user("applicant")
    invitation = InvitationFactory(organisation=member.organisation)
    transition(invitation, "revoke", member)
    with app.test_request_context("/things", method="POST"):
        with action(show=False) as done:
            transition(invitation, "revoke", member)
        assert isinstance(done.error, WorkflowError) and not done
        assert get_flashed_messages() == []


def test_action_keeps_form_data_and_puts_the_error_on_the_field(app):
    with app.test_request_context(
        "/things", method="POST", data={"name": "生物医药", "code": "bio"}
    ):
        form = NameForm()
        assert form.validate()
        with action(form=form, field="name") as done:
            raise OperationError("This code is taken.", field="code")
        assert not done
        assert form.code.errors == ["This code is taken."] and form.name.errors == []
        assert form.name.data == "生物医药" and form.code.data == "bio"
        assert get_flashed_messages() == []


def test_action_uses_the_default_field_when_the_form_lacks_the_named_one(app):
    with app.test_request_context("/things", method="POST", data={"name": "x"}):
        form = NameForm()
        form.validate()
        with action(form=form, field="name"):
            raise OperationError("Refused.", field="no_such_field")
        assert form.name.errors == ["Refused."]


def test_action_answers_403_and_audits_a_forbidden_transition(app):
    outsider = make_user("applicant")
    invitation = InvitationFactory()
    path = f"/invitations/{invitation.id}/revoke"
    with (
        app.test_request_context(path, method="POST"),
        pytest.raises(Forbidden),
        action(denied_obj=invitation),
    ):
        transition(invitation, "revoke", outsider)
    db.session.expire_all()
    assert invitation.state == "pending"
    (denial,) = events("permission.denied")
    assert denial.after == {
        "action": "invitation.revoke",
        "path": f"/invitations/{invitation.id}/revoke",
    }


def test_action_audits_a_403_raised_inside_once(app):
    with (
        app.test_request_context("/things", method="POST"),
        pytest.raises(Forbidden),
        action(denied="things.touch"),
    ):
        audit.record("test.lost")
        raise Forbidden()
    assert events("test.lost") == []
    assert [e.after["action"] for e in events("permission.denied")] == ["things.touch"]


def test_action_reports_a_lost_race_with_a_clear_message(app, commits):
    with app.test_request_context("/things", method="POST"):
        with action() as done:
            audit.record("test.raced")
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        assert not done and done.message == lost_race_message()
        assert get_flashed_messages(with_categories=True) == [("danger", lost_race_message())]
    assert commits == [] and events("test.raced") == []


def test_action_shows_success_when_a_step_after_the_commit_fails(app):
    def broken_dispatch(session):
        raise RuntimeError("the queue is gone")

    sa.event.listen(Session, "after_commit", broken_dispatch)
    try:
        with app.test_request_context("/things", method="POST"):
            with action(success="Saved.") as done:
                audit.record("test.saved")
            assert done
            assert get_flashed_messages(with_categories=True) == [("success", "Saved.")]
    finally:
        sa.event.remove(Session, "after_commit", broken_dispatch)
    db.session.rollback()
    assert len(events("test.saved")) == 1


def test_action_refuses_to_commit_in_a_get(app, commits):
    with app.test_request_context("/things", method="GET"), pytest.raises(RuntimeError), action():
        audit.record("test.get")
    assert commits == []


def test_attempt_returns_the_result_once_committed(app, commits):
    with app.test_request_context("/things", method="POST"):
        assert attempt(lambda: 42) == (42, None)

        def refuse():
            raise OperationError("No.")

        assert attempt(refuse) == (None, "No.")
    assert len(commits) == 1


def test_view_refusal_keeps_what_was_typed(client, login):
    ClusterFactory(code="taken")
    login(make_user("admin"))
    response = client.post(
        "/admin/clusters/new",
        data={"code": "taken", "name_zh": "新的集群", "sort_order": "3", "active": "y"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="code-error"' in html and 'value="新的集群"' in html


# --- the source keeps to it ---------------------------------------------------------------------

#: Modules that end a request or a job and so may commit.
BOUNDARIES = {
    "grants/core/actions.py",  # the action wrapper: the one commit of a request
    "grants/core/jobs.py",  # the jobs runner and dispatcher
    "grants/core/scheduler.py",  # the periodic scheduler (a job boundary)
    "grants/core/backup.py",  # the restore command
    "grants/cli.py",  # flask commands
}
#: Functions that own a transaction of their own, outside the request's.
OWN_TRANSACTIONS = {
    ("grants/reports/operations.py", "generate"),  # the report job's body: commits its steps
    # the short write transaction beside the request's (session touch after the response,
    # a denial's audit row): never the request's own transaction
    ("grants/core/transactions.py", "own_transaction"),
    # a denial ends its request in 403/404: the request's read transaction is rolled back
    # before the audit row goes in through own_transaction
    ("grants/core/audit.py", "record_denial"),
    # the outbox job's short steps: claim a mail, send it with no transaction open, write
    # its outcome (SQLite's write lock is never held while the SMTP server is spoken to)
    ("grants/notifications/operations.py", "_claim_mail"),
    ("grants/notifications/operations.py", "_write_outbox"),
}


def _view_modules(root: Path) -> list[Path]:
    return sorted([*root.glob("grants/*/views.py"), *root.glob("grants/*/views/*.py")])


def views_that_end_transactions(root: Path) -> list[str]:
    """``path:line`` of every commit( or rollback( in a view module."""
    found = []
    for path in _view_modules(root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "commit(" in line or "rollback(" in line:
                found.append(f"{path.relative_to(root)}:{number}")
    return found


def _is_job(function: ast.AST) -> bool:
    for decorator in getattr(function, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "job":
            return True
    return False


def modules_that_commit_outside_boundaries(root: Path) -> list[str]:
    """``path:line`` of every ``.commit()`` outside the request and job boundaries."""
    found = []
    views = set(_view_modules(root))
    for path in sorted(root.glob("grants/**/*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in BOUNDARIES or path in views:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node, allowed, relative=relative):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                allowed = allowed or _is_job(node) or (relative, node.name) in OWN_TRANSACTIONS
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
                and not allowed
            ):
                found.append(f"{relative}:{node.lineno}")
            for child in ast.iter_child_nodes(node):
                visit(child, allowed)

        visit(tree, False)
    return found


def test_views_never_commit_or_roll_back():
    assert _view_modules(ROOT), "no view modules found"
    assert views_that_end_transactions(ROOT) == []


def test_operations_never_commit():
    assert modules_that_commit_outside_boundaries(ROOT) == []


def test_the_commit_scan_finds_a_commit_in_an_operation(tmp_path):
    package = tmp_path / "grants" / "things"
    package.mkdir(parents=True)
    (package / "operations.py").write_text(
        "from grants.extensions import db\n\n\n"
        "def save(thing):\n    db.session.add(thing)\n    db.session.commit()\n\n\n"
        "@job('things.sweep')\ndef sweep(ctx):\n    db.session.commit()\n"
    )
    (package / "views.py").write_text("def view():\n    db.session.rollback()\n")
    assert modules_that_commit_outside_boundaries(tmp_path) == ["grants/things/operations.py:6"]
    assert views_that_end_transactions(tmp_path) == ["grants/things/views.py:2"]
