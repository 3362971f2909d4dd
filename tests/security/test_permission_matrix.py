"""The permission matrix: for every route and method, the expected answer for each kind of user.

``EXPECTED`` declares, for every (endpoint, method) of ``app.url_map`` (GET and POST), one
answer per kind of user, in the order of the column header:

    anonymous | applicant of organisation A, applicant of organisation B |
    assigned expert, unassigned expert, conflicted expert | finance, bureau, admin

The answers are coarse classes: ``O`` ok (2xx, or 3xx other than a redirect to the login
page), ``L`` login (a redirect to the login page), ``D`` denied (403 or 404). Anything else
(400, 500, an exception) is always a mismatch.

How the requests are made, and what "ok" means:

- Every object of the world (tests/security/world.py) belongs to organisation A, so the
  column of organisation B's applicant is the cross-organisation check: every route that
  takes an object id is tried by B's applicant with A's objects and must be denied, except
  the objects that are public by design (``PUBLIC_OBJECTS``); a test enforces this.
- POST routes get an empty form (or the minimal one in ``FORMS`` where a view answers 400
  to a missing field before anything else); CSRF is off in the test config. A 422 is "ok":
  the permission check let the user through and the form was refused. A 409 is "ok" too:
  the user may act on the object, its state refused the change. Some views refuse a change
  for the object's state with a flash and a redirect, which is also "ok"; whose *role* may
  fire a transition is then the business of the workflow tables (tests/core/test_workflow.py
  and each domain's transition tests), not of this matrix.
- Each request runs inside a savepoint that is rolled back afterwards, so every request sees
  the same world whatever the requests before it did. Logout is sent last.
- One request per (route, method, user kind); one test per user kind collects the mismatches
  and fails with a readable list.
"""

from __future__ import annotations

import pytest

from tests.security.matrix import (
    DENIED,
    LOGIN,
    OK,
    classify,
    rolled_back,
    routes,
    send,
    url_for_rule,
)
from tests.security.world import USER_KINDS, build_world

CLASSES = {"O": OK, "L": LOGIN, "D": DENIED}

# Minimal forms for views that answer 400 (not 422) when a control field is missing.
FORMS = {
    "core.set_language": {"locale": "en"},
    "review.resolve_objection": {"event": "dismiss"},
}

# Routes whose object is public by design: organisation B's applicant may open organisation A's.
PUBLIC_OBJECTS = {
    ("programmes.call_detail", "GET"),  # a published call
    ("review.public_notice", "GET"),  # a published public notice (公示)
    ("applications.new", "GET"),  # applying to an open call
    ("applications.new", "POST"),
}

# Arguments that are not object ids (names, tokens, enumerations).
NOT_OBJECT_IDS = {"filename", "token", "section", "event", "kind", "fmt"}

EXPECTED = {
    #  endpoint, method                                 anon  appA appB  exp unas conf  fin bur adm
    ("accounts.change_password", "GET"): "L  O O  O O O  O O O",
    ("accounts.change_password", "POST"): "L  O O  O O O  O O O",
    ("accounts.edit_user", "GET"): "L  D D  D D D  D D O",
    ("accounts.edit_user", "POST"): "L  D D  D D D  D D O",
    ("accounts.forgot_password", "GET"): "O  O O  O O O  O O O",
    ("accounts.forgot_password", "POST"): "O  O O  O O O  O O O",
    ("accounts.login", "GET"): "O  O O  O O O  O O O",
    ("accounts.login", "POST"): "O  O O  O O O  O O O",
    ("accounts.logout", "POST"): "L  L L  L L L  L L L",
    ("accounts.new_user", "GET"): "L  D D  D D D  D D O",
    ("accounts.new_user", "POST"): "L  D D  D D D  D D O",
    ("accounts.reset_password", "GET"): "O  O O  O O O  O O O",
    ("accounts.reset_password", "POST"): "O  O O  O O O  O O O",
    ("accounts.set_user_active", "POST"): "L  D D  D D D  D D O",
    ("accounts.users", "GET"): "L  D D  D D D  D D O",
    ("applications.attachment", "GET"): "L  O D  D D D  O O O",
    ("applications.budget_preview", "POST"): "L  O D  D D D  D D D",
    ("applications.bureau_export", "GET"): "L  D D  D D D  D O O",
    ("applications.bureau_list", "GET"): "L  D D  D D D  D O O",
    ("applications.check_pass", "POST"): "L  D D  D D D  D O O",
    ("applications.check_queue", "GET"): "L  D D  D D D  D O O",
    ("applications.check_reject", "POST"): "L  D D  D D D  D O O",
    ("applications.check_return", "POST"): "L  D D  D D D  D O O",
    ("applications.delete_attachment", "POST"): "L  O D  D D D  D D D",
    ("applications.delete_draft", "POST"): "L  O D  D D D  D D D",
    ("applications.detail", "GET"): "L  O D  D D D  O O O",
    ("applications.duplicates", "GET"): "L  D D  D D D  D O O",
    ("applications.edit", "GET"): "L  O D  D D D  D D D",
    ("applications.formal_check", "GET"): "L  D D  D D D  D O O",
    ("applications.mine", "GET"): "L  O O  D D D  D D D",
    ("applications.new", "GET"): "L  O O  D D D  D D D",
    ("applications.new", "POST"): "L  O O  D D D  D D D",
    ("applications.pdf", "GET"): "L  O D  D D D  O O O",
    ("applications.save_section", "POST"): "L  O D  D D D  D D D",
    ("applications.submit", "POST"): "L  O D  D D D  D D D",
    ("applications.upload_attachment", "POST"): "L  O D  D D D  D D D",
    ("applications.withdraw", "POST"): "L  O D  D D D  O O O",
    ("bootstrap.static", "GET"): "O  O O  O O O  O O O",
    ("core.audit_log", "GET"): "L  D D  D D D  D D O",
    ("core.healthz", "GET"): "O  O O  O O O  O O O",
    ("core.index", "GET"): "L  O O  O O O  O O O",
    ("core.job_status", "GET"): "L  D D  D D D  D O O",
    ("core.jobs", "GET"): "L  D D  D D D  D O O",
    ("core.retry_job", "POST"): "L  D D  D D D  D O O",
    ("core.set_language", "POST"): "O  O O  O O O  O O O",
    ("funding.approve", "POST"): "L  D D  D D D  O D D",
    ("funding.contract", "GET"): "L  O D  D D D  O O O",
    ("funding.contracting", "GET"): "L  D D  D D D  D O O",
    ("funding.edit_plan", "GET"): "L  D D  D D D  D O O",
    ("funding.edit_plan", "POST"): "L  D D  D D D  D O O",
    ("funding.evidence", "GET"): "L  O D  D D D  O O O",
    ("funding.ledger", "GET"): "L  D D  D D D  O O O",
    ("funding.ledger_export", "GET"): "L  D D  D D D  O O O",
    ("funding.money", "GET"): "L  O D  D D D  O O O",
    ("funding.new_contract", "GET"): "L  D D  D D D  D O O",
    ("funding.new_contract", "POST"): "L  D D  D D D  D O O",
    ("funding.pay", "POST"): "L  D D  D D D  O D D",
    ("funding.queue", "GET"): "L  D D  D D D  O D D",
    ("funding.record_recovery", "POST"): "L  D D  D D D  D D D",
    ("funding.reject", "POST"): "L  D D  D D D  O D D",
    ("funding.report", "POST"): "L  O D  D D D  D D D",
    ("funding.request_release", "POST"): "L  D D  D D D  D O O",
    ("funding.resubmit", "GET"): "L  O D  D D D  O O O",
    ("funding.resubmit", "POST"): "L  O D  D D D  O O O",
    ("funding.return_report", "POST"): "L  D D  D D D  O D D",
    ("funding.return_signed", "POST"): "L  D D  D D D  D O O",
    ("funding.sign", "POST"): "L  D D  D D D  D O O",
    ("funding.signed_task_book", "GET"): "L  O D  D D D  O O O",
    ("funding.spending", "GET"): "L  O D  D D D  O O O",
    ("funding.spending_queue", "GET"): "L  D D  D D D  O D D",
    ("funding.task_book", "GET"): "L  D D  D D D  D D D",
    ("funding.upload_signed", "POST"): "L  D D  D D D  D D D",
    ("funding.verify", "POST"): "L  D D  D D D  O D D",
    ("notifications.inbox", "GET"): "L  O O  O O O  O O O",
    ("notifications.open_notification", "POST"): "L  O D  D D D  D D D",
    ("notifications.outbox", "GET"): "L  D D  D D D  D D O",
    ("notifications.read", "POST"): "L  O O  O O O  O O O",
    ("orgs.accept_invitation", "GET"): "D  D D  D D D  D D D",
    ("orgs.accept_invitation", "POST"): "D  D D  D D D  D D D",
    ("orgs.add_qualification", "POST"): "L  O D  D D D  D O O",
    ("orgs.clusters", "GET"): "L  D D  D D D  D D O",
    ("orgs.confirm_registration", "GET"): "O  O O  O O O  O O O",
    ("orgs.confirm_registration", "POST"): "O  O O  O O O  O O O",
    ("orgs.delete_cluster", "POST"): "L  D D  D D D  D D O",
    ("orgs.edit_cluster", "GET"): "L  D D  D D D  D D O",
    ("orgs.edit_cluster", "POST"): "L  D D  D D D  D D O",
    ("orgs.edit_organisation", "GET"): "L  O D  D D D  D O O",
    ("orgs.edit_organisation", "POST"): "L  O D  D D D  D O O",
    ("orgs.invite", "POST"): "L  O D  D D D  D D D",
    ("orgs.my_organisation", "GET"): "L  O O  D D D  D D D",
    ("orgs.new_cluster", "GET"): "L  D D  D D D  D D O",
    ("orgs.new_cluster", "POST"): "L  D D  D D D  D D O",
    ("orgs.organisation", "GET"): "L  O D  D D D  O O O",
    ("orgs.organisations", "GET"): "L  D D  D D D  O O O",
    ("orgs.register", "GET"): "O  O O  O O O  O O O",
    ("orgs.register", "POST"): "O  O O  O O O  O O O",
    ("orgs.registration_sent", "GET"): "O  O O  O O O  O O O",
    ("orgs.remove_qualification", "POST"): "L  O D  D D D  D O O",
    ("orgs.remove_year_figure", "POST"): "L  O D  D D D  D O O",
    ("orgs.revoke_invitation", "POST"): "L  O D  D D D  D D D",  # staff: 403, audited
    ("orgs.set_cluster_active", "POST"): "L  D D  D D D  D D O",
    ("orgs.set_year_figure", "POST"): "L  O D  D D D  D O O",
    ("programmes.call_detail", "GET"): "L  O O  O O O  O O O",
    ("programmes.call_event", "POST"): "L  D D  D D D  D O O",
    ("programmes.calls", "GET"): "L  D D  D D D  D O O",
    ("programmes.clone_call", "POST"): "L  D D  D D D  D O O",
    ("programmes.edit_call", "GET"): "L  D D  D D D  D O O",
    ("programmes.edit_call", "POST"): "L  D D  D D D  D O O",
    ("programmes.new_call", "GET"): "L  D D  D D D  D O O",
    ("programmes.new_call", "POST"): "L  D D  D D D  D O O",
    ("programmes.open_calls", "GET"): "L  O O  O O O  O O O",
    ("programmes.rubric_total", "POST"): "L  D D  D D D  D O O",
    ("projects.acceptance", "GET"): "L  O D  D D D  O O O",
    (
        "projects.acceptance_file",
        "GET",
    ): "L  O D  D D D  D D D",  # the world's final report is a draft
    ("projects.acceptance_list", "GET"): "L  D D  D D D  D O O",
    ("projects.acceptance_conclusion", "GET"): "L  O D  D D D  O O O",
    ("projects.acceptance_panel", "GET"): "L  D D  D D D  D O O",
    ("projects.acceptance_report", "GET"): "L  O D  D D D  O O O",
    ("projects.acceptance_statement", "GET"): "L  O D  D D D  O O O",
    ("projects.add_document", "POST"): "L  O D  D D D  D D D",
    ("projects.add_outcome", "POST"): "L  O D  D D D  D D D",
    ("projects.approve_change", "POST"): "L  D D  D D D  D O O",
    ("projects.approve_report", "POST"): "L  D D  D D D  D O O",
    ("projects.at_risk", "GET"): "L  D D  D D D  D O O",
    ("projects.cancel_change", "POST"): "L  O D  D D D  D D D",
    ("projects.change_detail", "GET"): "L  O D  D D D  O O O",
    ("projects.changes", "GET"): "L  O D  D D D  O O O",
    ("projects.close", "POST"): "L  O D  D D D  O O O",
    ("projects.conclude", "POST"): "L  D D  D D D  D D D",
    ("projects.detail", "GET"): "L  O D  D D D  O O O",
    ("projects.edit_change", "GET"): "L  D D  D D D  D D D",
    ("projects.edit_change", "POST"): "L  D D  D D D  D D D",
    ("projects.evidence", "GET"): "L  O D  D D D  O O O",
    ("projects.index", "GET"): "L  D D  D D D  O O O",
    ("projects.invite_expert", "POST"): "L  D D  D D D  D D D",
    ("projects.invite_suggested", "POST"): "L  D D  D D D  D D D",
    ("projects.midterm", "GET"): "L  D D  D D D  D O O",
    ("projects.midterm_rectified", "POST"): "L  D D  D D D  D O O",
    ("projects.milestones", "GET"): "L  O D  D D D  O O O",
    ("projects.mine", "GET"): "L  O O  D D D  D D D",
    ("projects.new_change", "GET"): "L  O D  D D D  D D D",
    ("projects.new_change", "POST"): "L  O D  D D D  D D D",
    ("projects.record_midterm", "GET"): "L  D D  D D D  D O O",
    ("projects.record_midterm", "POST"): "L  D D  D D D  D O O",
    ("projects.reject_change", "POST"): "L  O D  D D D  O O O",
    ("projects.remove_document", "POST"): "L  O D  D D D  D D D",
    ("projects.remove_evidence", "POST"): "L  O D  D D D  D D D",
    ("projects.remove_change_evidence", "POST"): "L  O D  D D D  D D D",
    ("projects.remove_outcome", "POST"): "L  O D  D D D  D D D",
    ("projects.report", "GET"): "L  O D  D D D  O O O",
    ("projects.return_report", "POST"): "L  D D  D D D  D O O",
    ("projects.return_statement", "POST"): "L  O D  D D D  O O O",
    ("projects.save_report", "POST"): "L  O D  D D D  D D D",
    ("projects.save_statement", "POST"): "L  O D  D D D  D D D",
    ("projects.submit_change", "POST"): "L  O D  D D D  O O O",
    ("projects.terminate", "GET"): "L  D D  D D D  D O O",
    ("projects.terminate", "POST"): "L  D D  D D D  D O O",
    ("projects.verify_statement", "POST"): "L  O D  D D D  O O O",
    ("projects.waiting_reports", "GET"): "L  D D  D D D  D O O",
    ("projects.write_report", "GET"): "L  O D  D D D  D D D",
    ("projects.write_report", "POST"): "L  O D  D D D  D D D",
    ("reports.dashboard", "GET"): "L  D D  D D D  D O O",
    ("reports.download", "GET"): "L  D D  D D D  D O O",
    ("reports.index", "GET"): "L  D D  D D D  D O O",
    ("reports.open_data", "GET"): "L  D D  D D D  D O O",
    ("reports.open_data_file", "GET"): "L  D D  D D D  D O O",
    ("reports.request_report", "POST"): "L  D D  D D D  D O O",
    ("reports.retry", "POST"): "L  D D  D D D  D O O",
    ("reports.status", "GET"): "L  D D  D D D  D O O",
    ("review.accept_invitation", "POST"): "L  D D  O D D  D O O",
    ("review.add_assignment", "POST"): "L  D D  D D D  D O O",
    ("review.add_relation", "POST"): "L  D D  O O O  D D D",
    ("review.application_assignments", "GET"): "L  D D  D D D  D O O",
    ("review.approve", "POST"): "L  D D  D D D  D O O",
    ("review.approve_comment", "POST"): "L  D D  D D D  D O O",
    ("review.auto_assign", "POST"): "L  D D  D D D  D O O",
    ("review.call_assignments", "GET"): "L  D D  D D D  D O O",
    ("review.call_conflicts", "GET"): "L  D D  D D D  D O O",
    ("review.close_notice", "POST"): "L  D D  D D D  D O O",
    ("review.decisions", "GET"): "L  D D  D D D  D O O",
    ("review.decline", "POST"): "L  D D  D D D  D O O",
    ("review.decline_invitation", "POST"): "L  D D  O D D  D O O",
    ("review.edit_expert", "GET"): "L  D D  D D D  D O O",
    ("review.edit_expert", "POST"): "L  D D  D D D  D O O",
    ("review.edit_notice", "GET"): "L  D D  D D D  D O O",
    ("review.edit_notice", "POST"): "L  D D  D D D  D O O",
    ("review.excluded_experts", "GET"): "L  O D  D D D  O O O",
    ("review.excluded_experts", "POST"): "L  D D  D D D  D D D",
    ("review.expert_profile", "GET"): "L  D D  O O O  D D D",
    ("review.expert_profile", "POST"): "L  D D  O O O  D D D",
    ("review.expert_review", "GET"): "L  D D  O D D  D D D",
    ("review.experts", "GET"): "L  D D  D D D  D O O",
    ("review.finish_review", "POST"): "L  D D  D D D  D O O",
    ("review.import_experts", "GET"): "L  D D  D D D  D O O",
    ("review.import_experts", "POST"): "L  D D  D D D  D O O",
    ("review.import_template", "GET"): "L  D D  D D D  D O O",
    ("review.invitation", "GET"): "L  D D  O D D  D O O",
    ("review.invite_replacement", "POST"): "L  D D  D D D  D O O",
    ("review.manage_notice", "GET"): "L  D D  D D D  D O O",
    ("review.my_reviews", "GET"): "L  D D  O O O  D D D",
    ("review.new_expert", "GET"): "L  D D  D D D  D O O",
    ("review.new_expert", "POST"): "L  D D  D D D  D O O",
    ("review.new_notice", "GET"): "L  D D  D D D  D O O",
    ("review.new_notice", "POST"): "L  D D  D D D  D O O",
    ("review.overturn", "POST"): "L  D D  D D D  D O O",
    ("review.panel", "GET"): "L  D D  D D D  D O O",
    ("review.panel_xlsx", "GET"): "L  D D  D D D  D O O",
    ("review.proposal_pdf", "GET"): "L  D D  O D D  D D D",
    ("review.public_notice", "GET"): "O  O O  O O O  O O O",
    ("review.public_notices", "GET"): "O  O O  O O O  O O O",
    ("review.publish_notice", "POST"): "L  D D  D D D  D O O",
    ("review.ranking", "GET"): "L  D D  D D D  D O O",
    ("review.record_objection", "POST"): "L  D D  D D D  D O O",
    ("review.release", "GET"): "L  D D  D D D  D O O",
    ("review.release_all", "POST"): "L  D D  D D D  D O O",
    ("review.remove_excluded_expert", "POST"): "L  D D  D D D  D D D",
    ("review.remove_relation", "POST"): "L  D D  O D D  D D D",
    ("review.reopen_review", "POST"): "L  D D  D D D  D O O",
    ("review.resolve_objection", "POST"): "L  D D  D D D  D O O",
    ("review.review_detail", "GET"): "L  D D  D D D  D O O",
    ("review.rule_conflict", "POST"): "L  D D  D D D  D O O",
    ("review.recuse", "POST"): "L  D D  O D D  D D D",
    ("review.save_review", "POST"): "L  D D  O D D  D D D",
    ("review.withdraw_assignment", "POST"): "L  D D  D D D  D O O",
    ("static", "GET"): "O  O O  O O O  O O O",
}


def _expected_for(key, kind: str) -> str:
    return CLASSES[EXPECTED[key].split()[USER_KINDS.index(kind)]]


def test_matrix_declares_every_route_and_nothing_else(app):
    present = {(endpoint, method) for endpoint, method, _rule in routes(app)}
    missing = sorted(present - EXPECTED.keys())
    unknown = sorted(EXPECTED.keys() - present)
    assert not missing and not unknown, (
        f"routes missing from EXPECTED: {missing}; not in the app: {unknown}"
    )
    malformed = [
        key
        for key, row in EXPECTED.items()
        if len(row.split()) != len(USER_KINDS) or set(row.split()) - CLASSES.keys()
    ]
    assert not malformed, f"rows without one O/L/D per user kind: {malformed}"


def test_matrix_other_organisation_is_denied_every_object_route(app):
    lenient = []
    for endpoint, method, rule in routes(app):
        takes_object = any(argument not in NOT_OBJECT_IDS for argument in rule.arguments)
        if (
            takes_object
            and (endpoint, method) not in PUBLIC_OBJECTS
            and _expected_for((endpoint, method), "applicant_b") != DENIED
        ):
            lenient.append((endpoint, method))
    assert not lenient, (
        f"object routes organisation B's applicant is not expected to be denied: {lenient}"
    )


@pytest.mark.parametrize("kind", USER_KINDS)
def test_permission_matrix_answers_as_declared(app, client, login, kind):
    world = build_world()
    if kind != "anonymous":
        login(world.users[kind])
    todo = sorted(routes(app), key=lambda item: (item[0] == "accounts.logout", item[0], item[1]))
    mismatches = []
    for endpoint, method, rule in todo:
        key = (endpoint, method)
        if key not in EXPECTED:
            continue  # reported by test_matrix_declares_every_route_and_nothing_else
        url = url_for_rule(app, rule, world)
        with rolled_back(app):
            response = send(client, method, url, FORMS.get(endpoint))
        if isinstance(response, Exception):
            got, detail = "exception", f"{type(response).__name__}: {response}"
        else:
            got = classify(response)
            detail = f"{response.status_code} {response.headers.get('Location', '')}".strip()
        expected = _expected_for(key, kind)
        if got != expected:
            mismatches.append(
                f"{method:4} {endpoint:40} expected {expected:6} got {got:6} ({detail}) {url}"
            )
    assert not mismatches, f"{kind}: {len(mismatches)} answers differ from EXPECTED:\n" + "\n".join(
        mismatches
    )
