"""Bad input: hypothesis posts to every POST route of ``app.url_map`` and expects no 5xx.

The world is the demo data (seeded once per module and rolled back afterwards). For
each route the test finds a demo user and object ids that reach the view (not 403/404),
discovers the fields by GETting the page that holds the form (the route itself or a
parent path), then posts generated values: Chinese text, control characters, huge
strings, numbers out of range, negative money, far dates, empty values, wrong types.
Each example runs inside a savepoint that is rolled back, so examples do not see each
other's writes. A 422 page must show a message beside a field or in an alert.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from grants.demo import DEMO_DOMAIN, DEMO_PASSWORD, seed_demo
from grants.extensions import db, limiter
from tests.conftest import EXERCISED

ANONYMOUS_ENDPOINTS = {"accounts.login", "accounts.forgot_password", "accounts.reset_password", "orgs.register",
                       "orgs.accept_invitation"}
SESSION_ENDING = {"accounts.logout", "accounts.change_password", "accounts.set_user_active", "accounts.edit_user"}
USERS = ("bureau", "admin", "finance", "applicant", "expert", "applicant2", "expert2", "expert5")
CANDIDATES_PER_ARG = 6

# URL argument → (module, model class name)
ARG_MODELS = {
    "cluster_id": ("grants.orgs.models", "IndustryCluster"),
    "user_id": ("grants.accounts.models", "User"),
    "application_id": ("grants.applications.models", "Application"),
    "attachment_id": ("grants.applications.models", "Attachment"),
    "row_id": ("grants.review.models", "ExcludedExpert"),
    "assignment_id": ("grants.review.models", "Assignment"),
    "call_id": ("grants.programmes.models", "Call"),
    "expert_id": ("grants.review.models", "Expert"),
    "disbursement_id": ("grants.funding.models", "Disbursement"),
    "relation_id": ("grants.review.models", "ExpertRelation"),
    "invitation_id": ("grants.orgs.models", "Invitation"),
    "job_id": ("grants.core.models", "Job"),
    "notice_id": ("grants.review.models", "PublicNotice"),
    "objection_id": ("grants.review.models", "Objection"),
    "org_id": ("grants.orgs.models", "Organisation"),
    "figure_id": ("grants.orgs.models", "YearFigure"),
    "qualification_id": ("grants.orgs.models", "Qualification"),
    "project_id": ("grants.projects.models", "Project"),
    "outcome_id": ("grants.projects.models", "Outcome"),
    "change_id": ("grants.projects.models", "ChangeRequest"),
    "milestone_id": ("grants.projects.models", "Milestone"),
    "tranche_id": ("grants.funding.models", "Tranche"),
    "check_id": ("grants.projects.models", "MidtermCheck"),
    "expenditure_id": ("grants.funding.models", "Expenditure"),
    "review_id": ("grants.review.models", "Review"),
}
ENDPOINT_ARG_MODELS = {
    ("reports.retry", "report_id"): ("grants.reports.models", "PortfolioReport"),
    ("projects.approve_report", "report_id"): ("grants.projects.models", "ProgressReport"),
    ("projects.return_report", "report_id"): ("grants.projects.models", "ProgressReport"),
    ("projects.remove_document", "file_id"): ("grants.projects.models", "ProjectFile"),
    ("projects.remove_evidence", "file_id"): ("grants.projects.models", "ProjectFile"),
}
PARENT_ATTRIBUTE = {"org_id": "organisation_id"}
# Found by this test: these POST-only routes re-render their list page with 422 when the
# posted object is not in an actionable state, and the page then hides the failing form,
# so the user sees no message. Reported to the lead; remove an entry when its view is fixed.
KNOWN_SILENT_422 = {"review.add_assignment", "funding.approve", "funding.reject", "review.accept_invitation",
                    "review.close_notice", "review.record_objection", "projects.return_statement",
                    "projects.return_report", "review.decline_invitation", "funding.sign", "review.reopen_review"}


# --- values ------------------------------------------------------------------------------

control_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=20)
chinese_text = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=40)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
huge_text = st.integers(min_value=5_000, max_value=120_000).map(lambda n: "字" * n)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(["-1", "-0.01", "0", "1e308", "-1e308", "1e-400", "NaN", "Infinity", "-Infinity", "9" * 40,
                     "100000000000000000000.00", "0.001", "1,000", "１２３", "五十", "0x10"]),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "1900-01-01", "2100-01-01",
                     "26-1-1", "2026/01/01", "yesterday", "-2026-01-01"]),
)
field_value = st.one_of(
    st.just(""), any_text, chinese_text, control_text, huge_text, numbers, dates,
    st.sampled_from(["<script>alert(1)</script>", "' OR 1=1 --", "\x00", "on", "y", "true", "-1", "999999999999"]),
)


def file_values():
    content = st.one_of(st.binary(max_size=2_000), st.just(b"%PDF-1.4\n%%EOF\n"), st.just(b""))
    name = st.one_of(st.just(""), st.sampled_from(["a.pdf", "报告.pdf", "../../etc/passwd", "x.exe", "a" * 300 + ".pdf",
                                                    "无扩展名", "a.pdf\x00.png"]), any_text)
    return st.tuples(content, name).map(lambda pair: (io.BytesIO(pair[0]), pair[1] or "upload.bin"))


# --- form discovery ------------------------------------------------------------------------


class FormParser(HTMLParser):
    """Collect the POST forms of a page: action path → {field name: (kind, options)}."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, tuple[str, list[str]]]] = {}
        self.current: dict | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            action = urlsplit(a.get("action") or self.page_path).path or self.page_path
            self.current = self.forms.setdefault(action, {})
        elif self.current is not None and tag in ("input", "textarea", "select") and a.get("name"):
            name = a["name"]
            if name == "csrf_token":
                return
            kind = (a.get("type") or "text").lower() if tag == "input" else tag
            entry = self.current.setdefault(name, (kind, []))
            if tag == "input" and kind in ("radio", "checkbox", "hidden") and a.get("value") is not None:
                entry[1].append(a["value"])
            if tag == "select":
                self.select = name
        elif tag == "option" and self.select and self.current is not None:
            self.current[self.select][1].append(a.get("value", ""))
        # Forms written with the form="" attribute outside their element are not collected.

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def page_paths(path: str) -> list[str]:
    """The path itself and its parents, nearest first (where the form posting to ``path`` may live)."""
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:n]) or "/" for n in range(len(parts), 1, -1)]


def discover_fields(client, path: str, methods) -> dict[str, tuple[str, list[str]]]:
    fields: dict[str, tuple[str, list[str]]] = {}
    candidates = page_paths(path) if "GET" in methods else page_paths(path)[1:]
    for page in candidates:
        response = client.get(page)
        if response.status_code != 200 or "html" not in (response.content_type or ""):
            continue
        parser = FormParser(page)
        parser.feed(response.get_data(as_text=True))
        if path in parser.forms:
            fields.update(parser.forms[path])
        if fields:
            break
    return fields


# --- the world -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(backend_app):
    """The demo data in a transaction rolled back after the module, with one signed-in client per demo user."""
    app = backend_app
    EXERCISED.add(app.config["BACKEND"])
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.session_factory.configure(join_transaction_mode="create_savepoint")
        try:
            seed_demo()
            db.session.commit()
            clients = {handle: signed_in(app, handle) for handle in USERS}
            clients[None] = app.test_client()
            yield app, connection, clients
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


def signed_in(app, handle):
    client = app.test_client()
    limiter.reset()
    response = client.post("/login", data={"email": f"{handle}@{DEMO_DOMAIN}", "password": DEMO_PASSWORD})
    assert response.status_code == 302, handle
    return client


def model_for(endpoint: str, argument: str):
    import importlib

    module, name = ENDPOINT_ARG_MODELS.get((endpoint, argument)) or ARG_MODELS.get(argument, (None, None))
    if module is None:
        return None
    return getattr(importlib.import_module(module), name)


def candidate_values(rule) -> list[dict]:
    """Argument sets for ``rule``: its last id argument drives, the others follow from that row."""
    arguments = re.findall(r"<(?:[^:<>]+:)?([A-Za-z_]+)>", rule.rule)
    converters = rule._converters
    fixed: dict[str, list] = {}
    for argument in arguments:
        converter = converters[argument]
        if hasattr(converter, "items"):
            fixed[argument] = sorted(converter.items)
        elif argument == "kind":
            from grants.projects.models import CHANGE_KINDS

            fixed[argument] = list(CHANGE_KINDS)[:3]
        elif argument == "token":
            fixed[argument] = ["not-a-token"]
    id_arguments = [a for a in arguments if a not in fixed]
    rows_by_argument = {}
    for argument in id_arguments:
        model = model_for(rule.endpoint, argument)
        if model is None:
            rows_by_argument[argument] = []
            continue
        newest = db.session.scalars(sa.select(model).order_by(model.id.desc()).limit(CANDIDATES_PER_ARG)).all()
        oldest = db.session.scalars(sa.select(model).order_by(model.id).limit(2)).all()
        rows_by_argument[argument] = list(dict.fromkeys(newest + oldest))
    sets: list[dict] = []
    driver = id_arguments[-1] if id_arguments else None
    for row in (rows_by_argument.get(driver) or [None]) if driver else [None]:
        values = {driver: row.id} if driver and row is not None else ({driver: 1} if driver else {})
        for argument in id_arguments[:-1]:
            attribute = PARENT_ATTRIBUTE.get(argument, argument)
            if row is not None and getattr(row, attribute, None) is not None:
                values[argument] = getattr(row, attribute)
            elif row is not None and argument == "call_id" and getattr(row, "application", None) is not None:
                values[argument] = row.application.call_id
            else:
                values[argument] = rows_by_argument[argument][0].id if rows_by_argument[argument] else 1
        sets.append(values)
    if not sets:
        sets = [{}]
    expanded = []
    for values in sets:
        combos = [values]
        for argument, options in fixed.items():
            combos = [{**c, argument: option} for c in combos for option in options]
        expanded.extend(combos)
    return expanded


def build(app, rule, values) -> str:
    return app.url_map.bind("grants.test").build(rule.endpoint, values, method="POST")


class Savepoint:
    """Roll back everything an example wrote."""

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        self.savepoint = self.connection.begin_nested()

    def __exit__(self, *exc):
        self.savepoint.rollback()
        db.session.remove()
        return False


def reach(app, connection, clients, rule):
    """(client handle, path) of a user and objects that get past the permission check, else the first try."""
    methods = rule.methods
    first = None
    handles = [None] if rule.endpoint in ANONYMOUS_ENDPOINTS else list(USERS)
    for values in candidate_values(rule):
        path = urlsplit(build(app, rule, values)).path
        for handle in handles:
            with Savepoint(connection):
                response = clients[handle].post(path, data={})
            first = first or (handle, path)
            if response.status_code not in (401, 403, 404, 405) and not _login_redirect(response):
                return handle, path
    del methods
    return first


def _login_redirect(response) -> bool:
    return response.status_code == 302 and "/login" in (response.headers.get("Location") or "")


def post_routes(app):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.rule)


def fuzz_route(app, connection, clients, rule, failures: list, reached: list):
    handle, path = reach(app, connection, clients, rule)
    client = clients[handle]
    with Savepoint(connection):
        fields = discover_fields(client, path, rule.methods)
    reached.append((rule.endpoint, handle, path, len(fields)))

    def value_for(kind, options):
        if kind == "file":
            return file_values()
        choices = [field_value]
        if options:
            choices.append(st.sampled_from(options))
        return st.one_of(*choices)

    names = st.sampled_from(["amount", "reason", "comment", "title", "date", "id", "state"])
    data_strategy = st.fixed_dictionaries(
        {name: value_for(kind, options) for name, (kind, options) in fields.items()}
    ) if fields else st.dictionaries(names, field_value, max_size=4)
    extra = st.dictionaries(st.one_of(names, any_text.filter(bool)), field_value, max_size=2)

    @settings(max_examples=12, deadline=None, database=None, derandomize=True,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @given(data=data_strategy, dropped=st.sets(st.sampled_from(sorted(fields) or ["-"]), max_size=3),
           more=extra)
    def example(data, dropped, more):
        payload = {k: v for k, v in data.items() if k not in dropped}
        for k, v in more.items():
            payload.setdefault(k, v)
        with Savepoint(connection):
            try:
                response = client.post(path, data=payload, content_type="multipart/form-data")
            except Exception as error:  # noqa: BLE001 — an unhandled exception is the 500 we look for
                failures.append((rule.endpoint, path, handle, repr(error)[:300], _short(payload)))
                raise
            status = response.status_code
            body = response.get_data(as_text=True) if "html" in (response.content_type or "") else ""
        if handle in SESSION_ENDING or rule.endpoint in SESSION_ENDING:
            clients[handle] = signed_in(app, handle) if handle else app.test_client()
        if status >= 500:
            failures.append((rule.endpoint, path, handle, status, _short(payload)))
            raise AssertionError(f"{rule.endpoint} answered {status}")
        if status == 422 and "<form" in body and rule.endpoint not in KNOWN_SILENT_422:
            shown = "invalid-feedback" in body or re.search(r'class="alert[^"]*alert-(danger|warning)', body)
            if not shown:
                failures.append((rule.endpoint, path, handle, "422 without a message", _short(payload)))
                raise AssertionError(f"{rule.endpoint} answered 422 without a message")

    with contextlib.suppress(Exception):  # failures are collected and reported together
        example()
    if rule.endpoint in SESSION_ENDING:
        clients[handle] = signed_in(app, handle) if handle else app.test_client()


def _short(payload: dict) -> dict:
    return {k: (v if not isinstance(v, str) or len(v) < 80 else v[:40] + f"…({len(v)})")
            for k, v in payload.items() if not isinstance(v, tuple)}


def test_forms_fuzz_every_post_route_answers_without_server_error(world):
    app, connection, clients = world
    failures: list = []
    reached: list = []
    routes = post_routes(app)
    only = os.environ.get("FUZZ_ONLY")
    if only:
        routes = [r for r in routes if r.endpoint in only.split(",")]
    assert only or len(routes) > 50, "the route table looks incomplete"
    for rule in routes:
        started = time.perf_counter()
        fuzz_route(app, connection, clients, rule, failures, reached)
        print(f"{rule.endpoint}: {time.perf_counter() - started:.2f}s {reached[-1][1:]}")
    with_fields = [r for r in reached if r[3]]
    assert only or len(with_fields) >= 20, f"too few forms discovered: {reached}"
    assert not failures, "\n".join(map(repr, failures))
