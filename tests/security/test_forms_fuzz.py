"""Bad input: hypothesis posts to every POST route of ``app.url_map`` and expects no 5xx.

The world is the demo data (seeded once per module and rolled back afterwards), with a few
objects put in the states the demo never leaves them in (``stage_world``). Once per
module every demo user crawls the UI (``crawl_forms``) and notes, for each POST route, the
first page offering its form: that user, that concrete path (an object in a state where the
form is offered) and the form's fields (inputs, selects with their options, checkboxes, file
inputs, hidden fields). A route no page offers is posted to as a demo user that reaches the
view (not 403/404), with the fields of the Flask-WTF form class its view validates. Then
the test posts generated values: Chinese text, control characters, huge strings, numbers
out of range, negative money, far dates, empty values, wrong types; and the form as offered
with one or two fields spoiled. Each example runs inside a savepoint that is rolled back,
so examples do not see each other's writes. A 422 page must show a message beside a field
or in an alert. ``FUZZ_ONLY`` (endpoints, comma-separated) and ``FUZZ_EXAMPLES`` narrow or
widen a run.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from collections import Counter
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from grants.demo import DEMO_DOMAIN, DEMO_PASSWORD, seed_demo
from grants.extensions import db, limiter
from tests.conftest import EXERCISED
from tests.security.chinese import WTFORMS_ENGLISH

ANONYMOUS_ENDPOINTS = {
    "accounts.login",
    "accounts.forgot_password",
    "accounts.reset_password",
    "orgs.register",
    "orgs.accept_invitation",
    "orgs.confirm_registration",
}
SESSION_ENDING = {
    "accounts.logout",
    "accounts.change_password",
    "accounts.set_user_active",
    "accounts.edit_user",
}
USERS = ("bureau", "admin", "finance", "applicant", "expert", "applicant2", "expert2", "expert5")
CANDIDATES_PER_ARG = 6


# POST routes that must be fuzzed with their real fields (from a page offering the form, or the
# view's form class), so that form discovery cannot silently regress.
MIN_ROUTES_WITH_REAL_FIELDS = 100
MIN_ROUTES_FROM_PAGES = (
    104  # of those, found on a page offering the form (108 with the demo data as staged)
)

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
    ("projects.remove_change_evidence", "file_id"): ("grants.projects.models", "ProjectFile"),
}
PARENT_ATTRIBUTE = {"org_id": "organisation_id"}


# --- values ------------------------------------------------------------------------------

control_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=20)
chinese_text = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=40
)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
huge_text = st.integers(min_value=5_000, max_value=120_000).map(lambda n: "字" * n)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(
        [
            "-1",
            "-0.01",
            "0",
            "1e308",
            "-1e308",
            "1e-400",
            "NaN",
            "Infinity",
            "-Infinity",
            "9" * 40,
            "100000000000000000000.00",
            "0.001",
            "1,000",
            "１２３",
            "五十",
            "0x10",
        ]
    ),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-13-01",
            "1900-01-01",
            "2100-01-01",
            "26-1-1",
            "2026/01/01",
            "yesterday",
            "-2026-01-01",
        ]
    ),
)
field_value = st.one_of(
    st.just(""),
    any_text,
    chinese_text,
    control_text,
    huge_text,
    numbers,
    dates,
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "\x00",
            "on",
            "y",
            "true",
            "-1",
            "999999999999",
        ]
    ),
)


def file_values():
    content = st.one_of(st.binary(max_size=2_000), st.just(b"%PDF-1.4\n%%EOF\n"), st.just(b""))
    name = st.one_of(
        st.just(""),
        st.sampled_from(
            [
                "a.pdf",
                "报告.pdf",
                "../../etc/passwd",
                "x.exe",
                "a" * 300 + ".pdf",
                "无扩展名",
                "a.pdf\x00.png",
            ]
        ),
        any_text,
    )
    return st.tuples(content, name).map(lambda pair: (io.BytesIO(pair[0]), pair[1] or "upload.bin"))


# --- form discovery ------------------------------------------------------------------------


class FormParser(HTMLParser):
    """Collect the POST forms and the links of a page.

    ``forms``: action path → {field name: (kind, options)}; ``links``: where the page leads
    (``href``, ``hx-get``, the action of GET forms). An element with ``hx-post`` inside a form
    posts that form's fields (as htmx does), so its URL gets them too. A name that repeats as
    checkboxes, or a ``<select multiple>``, is of kind "many" (a list of its options).
    """

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, tuple[str, list[str]]]] = {}
        self.links: list[str] = []
        self.get_forms: list[tuple[str, dict]] = []
        self.current: dict | None = None
        self.aliases: list[str] = []
        self.select: str | None = None
        self.textarea: list | None = None
        self.multiple: set[tuple[int, str]] = set()

    def _path(self, url: str | None) -> str:
        return urlsplit(urljoin(self.page_path, url or "")).path or self.page_path

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for attribute in ("href", "hx-get"):
            if a.get(attribute) and tag != "link":
                self.links.append(a[attribute])
        if tag == "form":
            posts = (a.get("method") or "get").lower() == "post"
            if posts or a.get("hx-post"):
                self.current = self.forms.setdefault(
                    self._path(a.get("action") if posts else a["hx-post"]), {}
                )
                self.aliases = [self._path(a["hx-post"])] if a.get("hx-post") else []
            else:  # a filter or a choice of objects: followed as submitted with its first values
                self.current, self.aliases = {}, []
                self.get_forms.append((self._path(a.get("action")), self.current))
            return
        if a.get("hx-post"):
            if self.current is not None:
                self.aliases.append(self._path(a["hx-post"]))
            else:
                self.forms.setdefault(self._path(a["hx-post"]), {})
        if self.current is None:
            return
        if tag == "option" and self.select:
            options = self.current[self.select][1]
            options.insert(0 if "selected" in a else len(options), a.get("value", ""))
            return
        name = a.get("name")
        if (
            not name
            or name == "csrf_token"
            or "disabled" in a
            or tag not in ("input", "button", "textarea", "select")
        ):
            return
        name = name.replace("__index__", "9")  # a row template: the page's script numbers each copy
        kind = (
            (a.get("type") or ("text" if tag == "input" else "submit")).lower()
            if tag in ("input", "button")
            else tag
        )
        if kind in ("reset", "button"):
            return
        kind = "submit" if kind == "image" else kind
        kind = "number" if kind == "text" and a.get("inputmode") in ("decimal", "numeric") else kind
        if (name in self.current and kind == "checkbox") or (tag == "select" and "multiple" in a):
            self.multiple.add((id(self.current), name))
        entry = self.current.setdefault(name, (kind, []))
        if a.get("value") is not None and kind != "file" and (a["value"] or "required" not in a):
            # a choice, or the value shown (a valid one, unless a required field is still empty)
            entry[1].insert(0 if kind == "radio" and "checked" in a else len(entry[1]), a["value"])
        elif kind == "checkbox":
            entry[1].append("on")
        if tag == "select":
            self.select = name
        elif tag == "textarea":
            self.textarea = entry[1]

    def handle_data(self, data):
        if self.textarea is not None and data.strip():
            self.textarea.append(data.strip())

    def handle_endtag(self, tag):
        if tag == "form" and self.get_forms and self.current is self.get_forms[-1][1]:
            action, fields = self.get_forms[-1]
            query = {
                name: value
                for name, (kind, options) in fields.items()
                if kind != "submit"
                and (value := plausible(kind, options)) not in (None, "测试内容")
            }
            self.links.append(f"{action}?{urlencode(query, doseq=True)}" if query else action)
            self.current = None
        elif tag == "form" and self.current is not None:
            for alias in self.aliases:
                target = self.forms.setdefault(alias, {})
                for name, entry in self.current.items():
                    target.setdefault(name, entry)
                    if (id(self.current), name) in self.multiple:
                        self.multiple.add((id(target), name))
            self.current, self.aliases = None, []
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def fields(self, action: str) -> dict[str, tuple[str, list[str]]]:
        """The fields posted to ``action``, each (kind, options)."""
        form = self.forms.get(action, {})
        return {
            name: (
                "many" if (id(form), name) in self.multiple else kind,
                list(dict.fromkeys(options)),
            )
            for name, (kind, options) in form.items()
        }


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
            fields.update(parser.fields(path))
        if fields:
            break
    return fields


# Pages the crawl does not open: files, exports, polling fragments, the health check.
CRAWL_SKIP = re.compile(r"\.(pdf|xlsx|csv|json|zip)$|/download|/static/|/healthz$|/logout$")
CRAWL_PAGES_PER_USER = 600
CRAWL_PAGES_PER_ENDPOINT = 40  # concrete pages of one GET route per user …
CRAWL_FRUITLESS = 8  # … and fewer once this many of them in a row offered no form not seen before
CRAWL_FRUITLESS_AGAIN = 3  # … or this many, when an earlier user already walked that route
CRAWL_STARTS = {None: ("/login", "/register", "/password/forgot", "/notices"), "*": ("/",)}


def crawl_forms(app, connection, clients, anonymous_starts=()) -> dict[str, tuple]:
    """Where the UI offers each POST route: endpoint → (handle, path, fields), from a crawl of the demo.

    Each demo user (and the anonymous visitor) walks the GET pages breadth first from the
    start page, inside a savepoint rolled back afterwards. Every POST form (and ``hx-post``
    element) seen is mapped to its endpoint; the first user and page offering a route are
    kept: that user may act there and that object is in a state where the form is offered.
    """
    from collections import deque

    adapter = app.url_map.bind("grants.test")

    def endpoint_of(path: str, method: str) -> str | None:
        try:
            return adapter.match(path, method=method)[0]
        except (HTTPException, RequestRedirect):
            return None

    found: dict[str, tuple] = {}
    not_html: set[str] = set()
    walked: set[str] = set()
    for handle in (None, *USERS):
        client = clients[handle]
        starts = CRAWL_STARTS.get(handle, CRAWL_STARTS["*"]) + (
            tuple(anonymous_starts) if handle is None else ()
        )
        queue, seen = deque(starts), set(starts)
        visits, fruitless, pages = Counter(), Counter(), 0
        with Savepoint(connection):
            while queue and pages < CRAWL_PAGES_PER_USER:
                url = queue.popleft()
                path = urlsplit(url).path
                endpoint = endpoint_of(path, "GET")
                if (
                    endpoint is None
                    or endpoint in not_html
                    or visits[endpoint] >= CRAWL_PAGES_PER_ENDPOINT
                    or fruitless[endpoint]
                    >= (CRAWL_FRUITLESS_AGAIN if endpoint in walked else CRAWL_FRUITLESS)
                ):
                    continue
                visits[endpoint] += 1
                pages += 1
                response = client.get(url)
                links = (
                    [response.headers["Location"]]
                    if response.status_code in (301, 302, 303)
                    else []
                )
                if response.status_code == 200 and "html" not in (response.content_type or ""):
                    not_html.add(endpoint)
                elif response.status_code == 200:
                    links, new = note_forms(app, response, handle, url, found)
                    fruitless[endpoint] = 0 if new else fruitless[endpoint] + 1
                for link in sorted(links, key=newest_first):
                    parts = urlsplit(urljoin(url, link))
                    if parts.scheme not in ("", "http", "https") or parts.netloc not in (
                        "",
                        "grants.test",
                    ):
                        continue
                    target_url = parts.path + (f"?{parts.query}" if parts.query else "")
                    if target_url not in seen and not CRAWL_SKIP.search(parts.path):
                        seen.add(target_url)
                        queue.append(target_url)
        walked |= set(visits)
        print(f"crawl {handle}: {pages} pages, {len(found)} routes offered so far")
    return found


def note_forms(app, response, handle, url: str, found: dict) -> tuple[list[str], bool]:
    """Note the POST forms of a page in ``found`` (first offer of a route wins); its links, and whether any was new."""
    parser = FormParser(urlsplit(url).path)
    parser.feed(response.get_data(as_text=True))
    adapter = app.url_map.bind("grants.test")
    new = False
    for action in parser.forms:
        try:
            target = adapter.match(action, method="POST")[0]
        except (HTTPException, RequestRedirect):  # not a POST route of the app
            continue
        if target not in found:
            found[target] = (handle, action, parser.fields(action))
            FORM_PAGES[target] = url
            new = True
        elif found[target][:2] == (handle, action):
            for name, entry in parser.fields(action).items():
                found[target][2].setdefault(name, entry)
    return parser.links, new


# Forms that add what other forms act on and the demo data lacks (an attachment, a document, an
# outcome or evidence to remove, a relation, an excluded expert, an invitation to revoke, a
# report): posted once as offered, so that the pages then offer the forms acting on them.
STAGING = (
    "applications.upload_attachment",
    "review.add_relation",
    "review.excluded_experts",
    "orgs.invite",
    "projects.add_document",
    "projects.add_outcome",
    "projects.write_report",
    "reports.request_report",
)
FORM_PAGES: dict[str, str] = {}  # endpoint → the page where its form was first seen


def stage_forms(app, clients, found: dict) -> list[str]:
    """Post the STAGING forms as offered (kept in the module's world), then look again where they were.

    Returns the staging endpoints whose post was taken (answered with a redirect).
    """
    taken = []
    for endpoint in STAGING:
        if endpoint not in found:
            continue
        handle, path, fields = found[endpoint]
        data = {
            name: value
            for name, (kind, options) in fields.items()
            if (value := plausible(kind, options)) is not None
        }
        data.update(
            {
                name: (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "staged.pdf")
                for name, (kind, _options) in fields.items()
                if kind == "file"
            }
        )
        response = clients[handle].post(path, data=data, content_type="multipart/form-data")
        if response.status_code not in (302, 303):
            continue
        taken.append(endpoint)
        for url in (FORM_PAGES[endpoint], urlsplit(response.headers["Location"]).path):
            page = clients[handle].get(url)
            if page.status_code == 200 and "html" in (page.content_type or ""):
                note_forms(app, page, handle, url, found)
    return taken


def stage_world() -> tuple[list[str], tuple[str, ...]]:
    """Put demo objects in the states the demo data never leaves them in, so that pages offer the forms acting on them.

    Built from the models and factories (as tests/security/world.py does), kept in the module's
    world: approved applications (one unreleased with a submitted review, one ready for its
    contract), a draft, a published and a closed notice with an open and an upheld objection, a
    soft conflict flag and a declined assignment, a draft change request, a returned expenditure,
    a failed job and a failed portfolio report, a project awaiting its signature, a terminated
    project (recovery), an open conditional mid-term pass, an unused cluster and an unread
    notification. Returns what was staged, and the paths of an invitation, a password reset
    and a registration confirmation (sent by e-mail) for the anonymous visitor's crawl to start from.
    """
    from datetime import timedelta

    from flask import current_app

    from grants.accounts.models import User
    from grants.accounts.operations import make_reset_token
    from grants.applications.models import Application
    from grants.core.models import Job
    from grants.core.timeutil import local_today
    from grants.core.types import utcnow
    from grants.funding.models import Expenditure
    from grants.notifications.models import Notification
    from grants.orgs.models import Organisation
    from grants.orgs.operations import invite
    from grants.projects.models import ChangeRequest, MidtermCheck, Project
    from grants.reports.models import PortfolioReport
    from grants.review.models import (
        Assignment,
        Decision,
        ExcludedExpert,
        Expert,
        Objection,
        PublicNotice,
        Review,
    )
    from tests.factories import (
        ApplicationFactory,
        AssignmentFactory,
        ClusterFactory,
        fill_application,
        make_project,
        make_user,
    )
    from tests.security.world import _project_file

    def user(handle):
        return db.session.scalar(sa.select(User).where(User.email == f"{handle}@{DEMO_DOMAIN}"))

    bureau, admin, applicant = user("bureau"), user("admin"), user("applicant")
    now, today = utcnow(), local_today()
    staged = []
    # What only staff act on belongs to an organisation no demo user belongs to, so that the
    # applicants' crawls (newest objects first) meet the demo's objects in work as before.
    members = sa.select(User.organisation_id).where(User.organisation_id.is_not(None))
    outsider = (
        db.session.scalars(
            sa.select(Organisation).where(Organisation.id.not_in(members)).order_by(Organisation.id)
        ).first()
        or applicant.organisation
    )
    # Notices: the call of the newest approved application, so that the notices list it.
    approved = db.session.scalars(
        sa.select(Application)
        .join(Decision, Decision.application_id == Application.id)
        .where(Decision.outcome == "approve")
        .order_by(Application.state != "approved", Application.id.desc())
    ).first()
    if approved is not None:
        call = approved.call
        # Approved applications of that call: one with its decision unreleased and a submitted review
        # (the release page, an upheld objection to overturn), one released after a closed notice (the contract).
        decided = []
        for released in (False, True):
            application = fill_application(
                ApplicationFactory(
                    call=call,
                    organisation=outsider,
                    state="approved",
                    submitted_at=now - timedelta(days=60),
                    reference_no=f"FUZZ-{len(decided) + 1}",
                )
            )
            db.session.add(
                Decision(
                    application_id=application.id,
                    outcome="approve",
                    amount=Decimal("100000.00"),
                    requested=Decimal("270000.00"),
                    decided_by_id=bureau.id,
                    decided_at=now - timedelta(days=3),
                    released_at=now - timedelta(days=3) if released else None,
                )
            )
            decided.append(application)
        assignment = AssignmentFactory(
            application=decided[0], state="accepted", responded_at=now, no_conflict_declared_at=now
        )
        db.session.add(
            Review(
                assignment=assignment,
                state="submitted",
                comment="技术路线清晰，联系电话13912345678。",
                recommendation="fund",
                total=Decimal("80"),
                submitted_at=now,
            )
        )
        db.session.add(
            PublicNotice(
                call_id=call.id,
                title="立项公示（已结束）",
                body="拟立项项目公示。",
                starts_on=today - timedelta(days=10),
                ends_on=today - timedelta(days=3),
                state="closed",
                published_at=now - timedelta(days=2),
            )
        )
        approved = decided[0]
        draft = PublicNotice(
            call_id=approved.call_id,
            title="立项公示（草稿）",
            body="拟立项项目公示。",
            starts_on=today,
            ends_on=today + timedelta(days=7),
            state="draft",
        )
        published = PublicNotice(
            call_id=approved.call_id,
            title="立项公示",
            body="拟立项项目公示。",
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=7),
            state="published",
            published_at=now,
        )
        db.session.add_all([draft, published])
        db.session.flush()
        db.session.add_all(
            [
                Objection(
                    notice_id=published.id,
                    application_id=approved.id,
                    raised_by="张三",
                    text="异议内容",
                    received_on=today,
                    state="open",
                ),
                Objection(
                    notice_id=published.id,
                    application_id=approved.id,
                    raised_by="李四",
                    text="异议内容",
                    received_on=today,
                    state="upheld",
                    resolution="异议成立",
                    resolved_by_id=bureau.id,
                    resolved_at=now,
                ),
            ]
        )
        staged.append(
            f"notices of call {approved.call_id} ({approved.state} application {approved.id})"
        )
    # Review of the newest application under review: a soft flag to rule on (an excluded expert of
    # the demo expert's name, another employer), an assignment declined by another demo expert.
    reviewed = db.session.scalars(
        sa.select(Application)
        .where(Application.state == "under_review")
        .order_by(Application.id.desc())
    ).first()
    experts = {
        handle: db.session.scalar(sa.select(Expert).where(Expert.user_id == user(handle).id))
        for handle in ("expert", "expert2")
    }
    if reviewed is not None and all(experts.values()):
        db.session.add(
            ExcludedExpert(
                application_id=reviewed.id,
                name=experts["expert"].name,
                employer_name="另一家竞争单位",
                reason="曾有竞争关系",
            )
        )
        if not db.session.scalar(
            sa.select(Assignment).where(
                Assignment.application_id == reviewed.id,
                Assignment.expert_id == experts["expert2"].id,
            )
        ):
            AssignmentFactory(
                application=reviewed,
                expert=experts["expert2"],
                state="declined",
                responded_at=now,
                decline_reason="时间冲突",
            )
        staged.append(f"a soft flag and a declined assignment on application {reviewed.id}")
    running = db.session.scalars(
        sa.select(Project)
        .where(Project.organisation_id == applicant.organisation_id, Project.state == "in_progress")
        .order_by(Project.id.desc())
    ).first()
    if running is not None:
        db.session.add(
            ChangeRequest(
                project_id=running.id,
                kind="extension",
                reason="实施需要调整",
                state="draft",
                proposed={"end_date": (running.end_date + timedelta(days=180)).isoformat()},
                created_by_id=applicant.id,
            )
        )
        db.session.add(
            Expenditure(
                project_id=running.id,
                category="equipment",
                period_start=running.start_date,
                period_end=running.start_date + timedelta(days=60),
                amount=Decimal("1000.00"),
                note="设备采购",
                state="returned",
                submitted_by_id=applicant.id,
                finance_note="请补充发票",
                verified_by_id=user("finance").id,
                verified_at=now,
            )
        )
        db.session.add(
            MidtermCheck(
                project_id=running.id,
                batch="2099",
                conclusion="conditional",
                comments="需整改",
                rectify_by=today + timedelta(days=30),
                checked_by_id=bureau.id,
            )
        )
        staged.append(
            f"draft change, returned expenditure, conditional mid-term pass of project {running.id}"
        )
    signing = make_project(state="contracting", organisation=outsider)
    _project_file(signing, "signed_task_book", bureau)
    terminated = make_project(
        state="terminated",
        organisation=outsider,
        terminated_at=now,
        termination_reason="单位无法继续实施",
    )
    staged.append(f"project {signing.id} to sign, terminated project {terminated.id}")
    # A failed job (a cheap one: retrying runs it), and a failed report whose period has a version
    # under way, so that retrying it joins that version rather than rendering a report per example.
    from grants.reports.operations import JOB_NAME

    under_way = Job(
        name=JOB_NAME, args=[], status="running", attempts=1, owner_id=bureau.id, started_at=now
    )
    db.session.add_all(
        [
            under_way,
            Job(
                name="orgs.expire_invitations",
                args=[],
                status="failed",
                error="staged failure",
                attempts=1,
                owner_id=admin.id,
                finished_at=now,
            ),
        ]
    )
    db.session.flush()
    db.session.add_all(
        [
            PortfolioReport(
                first_year=2000,
                last_year=2001,
                version=1,
                state="failed",
                error="staged failure",
                requested_by_id=bureau.id,
                requested_at=now,
                finished_at=now,
            ),
            PortfolioReport(
                first_year=2000,
                last_year=2001,
                version=2,
                state="running",
                job_id=under_way.id,
                requested_by_id=bureau.id,
                requested_at=now,
            ),
        ]
    )
    ClusterFactory()
    db.session.add(
        Notification(
            user_id=bureau.id, kind="application.submitted", subject="新申报", body="有新的申报书。"
        )
    )
    staged.append(
        "failed jobs, a failed portfolio report, an unused cluster, an unread notification"
    )
    # Links sent by e-mail, where the anonymous visitor starts: a pending invitation, a password reset.
    _invitation, token = invite(applicant.organisation, "fuzz-invitee@test.example", applicant)
    adapter = current_app.url_map.bind("grants.test")
    # ... and a registration waiting for its confirmation link (item "throttle").
    from grants.accounts.models import hash_token
    from grants.orgs.models import PendingRegistration
    from grants.orgs.uscc import with_check_digit

    db.session.add(
        PendingRegistration(
            token_hash=hash_token("fuzz-registration-token"),
            email="fuzz-registrant@test.example",
            data={
                "org": {
                    "name": "通化模糊注册有限公司",
                    "uscc": with_check_digit("91220503MA7H8K9X0"),
                    "org_type": "enterprise",
                },
                "person": {"name": "模糊", "phone": "", "locale": None, "password_hash": "!unset"},
            },
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    starts = (
        adapter.build("orgs.accept_invitation", {"token": token}),
        adapter.build(
            "accounts.reset_password",
            {
                "token": make_reset_token(
                    make_user("applicant", organisation=applicant.organisation)
                )
            },
        ),
        adapter.build("orgs.confirm_registration", {"token": "fuzz-registration-token"}),
    )
    db.session.commit()
    return staged, starts


def newest_first(link: str) -> int:
    """Links to the newest objects first: the demo's recent objects are the ones still in work."""
    return -max((int(n) for n in re.findall(r"/(\d+)(?=/|$)", urlsplit(link).path)), default=0)


@pytest.fixture(scope="module")
def offered(world):
    app, connection, clients = world
    started = time.perf_counter()
    staged, starts = stage_world()
    print(f"staged: {staged}")
    found = crawl_forms(app, connection, clients, starts)
    crawled = len(found)
    taken = stage_forms(app, clients, found)
    print(
        f"crawl: {crawled} POST routes offered by the UI, {len(found) - crawled} more after posting "
        f"{taken}, in {time.perf_counter() - started:.1f}s"
    )
    return found


def class_fields(app, endpoint: str, path: str) -> dict[str, tuple[str, list[str]]] | None:
    """The fields of the Flask-WTF forms the view of ``endpoint`` validates and the ``request.form`` keys it reads.

    For routes no crawled page offers. The view and the module's helpers it calls are read;
    forms built with ``formdata=None`` only render a page and are left out. A form's
    ``prefix`` is taken from the source, its placeholders filled from the URL arguments.
    {} when the view reads no input at all; None when its input cannot be told.
    """
    import inspect
    import types

    from flask_wtf import FlaskForm

    def names_of(code) -> set[str]:
        names = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= names_of(const)
        return names

    view = inspect.unwrap(app.view_functions[endpoint])
    functions = [view] + [
        helper
        for name in sorted(names_of(view.__code__))
        if isinstance(helper := view.__globals__.get(name), types.FunctionType)
        and name.startswith("_")
        and helper.__module__.startswith("grants.")
    ]
    arguments = app.url_map.bind("grants.test").match(path, method="POST")[1]
    ids = [str(v) for v in arguments.values() if isinstance(v, int)] or ["1"]
    fields: dict[str, tuple[str, list[str]]] = {}
    known = reads = False
    for function in functions:
        names = names_of(function.__code__)
        reads |= "request" in names and bool(
            {"form", "files", "values", "get_json", "json"} & names
        )
        for name in sorted(
            names
        ):  # a table of form classes, one chosen per object (the kinds of change)
            table = function.__globals__.get(name)
            if (
                isinstance(table, dict)
                and table
                and all(isinstance(c, type) and issubclass(c, FlaskForm) for c in table.values())
            ):
                known = True
                for form_class in table.values():
                    for field_name, entry in unbound_fields(form_class).items():
                        fields.setdefault(field_name, entry)
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        for name, call in re.findall(r"\b([A-Z]\w*)(?:\[[^\]]*\])?\(([^\n]*)", source):
            found = function.__globals__.get(name)
            classes = list(found.values()) if isinstance(found, dict) else [found]
            classes = [c for c in classes if isinstance(c, type) and issubclass(c, FlaskForm)]
            if not classes or "formdata=None" in call:
                continue
            known = True
            prefix = re.search(r'prefix=f?"([^"]*)"', call)
            prefix = prefix.group(1) if prefix else ""
            prefix = re.sub(
                r"\{([^}]*)\}",
                lambda m: str(arguments.get(m.group(1).replace(".", "_"), ids[-1])),
                prefix,
            )
            for form_class in classes:
                for field_name, entry in unbound_fields(
                    form_class, prefix + "-" if prefix else ""
                ).items():
                    fields.setdefault(field_name, entry)
        for reader, key in re.findall(
            r"request\.(form|files)(?:\.get|\.getlist)?[(\[]\s*[\'\"]([^\'\"]+)", source
        ):
            known = True
            fields.setdefault(key, ("file" if reader == "files" else "text", []))
    return fields if known or not reads else None


def unbound_fields(form_class, prefix: str = "") -> dict[str, tuple[str, list[str]]]:
    """(kind, options) of the fields declared on ``form_class``, named as the form posts them."""
    from wtforms import fields as wtf
    from wtforms.fields.core import UnboundField

    def expand(unbound, name) -> dict:
        cls, kwargs = unbound.field_class, unbound.kwargs
        if issubclass(cls, wtf.FieldList):
            return {**expand(unbound.args[0], f"{name}-0"), **expand(unbound.args[0], f"{name}-1")}
        if issubclass(cls, wtf.FormField):
            return unbound_fields(unbound.args[0], f"{name}-")
        choices = kwargs.get("choices") if isinstance(kwargs.get("choices"), list | tuple) else []
        options = [str(c[0] if isinstance(c, list | tuple) else c) for c in choices]
        if issubclass(cls, wtf.FileField | wtf.MultipleFileField):
            return {name: ("file", [])}
        if issubclass(cls, wtf.SelectMultipleField):
            return {name: ("many", options)}
        if issubclass(cls, wtf.SelectField | wtf.RadioField):
            return {name: ("select", options)}
        if issubclass(cls, wtf.BooleanField):
            return {name: ("checkbox", ["y"])}
        if issubclass(cls, wtf.SubmitField):
            return {name: ("submit", ["y"])}
        return {name: ("hidden" if issubclass(cls, wtf.HiddenField) else "text", [])}

    fields: dict[str, tuple[str, list[str]]] = {}
    for name in dir(form_class):
        attribute = getattr(form_class, name, None)
        if (
            not name.startswith("_")
            and isinstance(attribute, UnboundField)
            and name != "csrf_token"
        ):
            fields.update(expand(attribute, prefix + name))
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
    response = client.post(
        "/login", data={"email": f"{handle}@{DEMO_DOMAIN}", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302, handle
    return client


def model_for(endpoint: str, argument: str):
    import importlib

    module, name = ENDPOINT_ARG_MODELS.get((endpoint, argument)) or ARG_MODELS.get(
        argument, (None, None)
    )
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
        newest = db.session.scalars(
            sa.select(model).order_by(model.id.desc()).limit(CANDIDATES_PER_ARG)
        ).all()
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
            elif (
                row is not None
                and argument == "call_id"
                and getattr(row, "application", None) is not None
            ):
                values[argument] = row.application.call_id
            else:
                values[argument] = (
                    rows_by_argument[argument][0].id if rows_by_argument[argument] else 1
                )
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


REACH_PAGE_CHECKS = (
    8  # reached objects whose pages are searched for the form before settling for the first
)


def reach(app, connection, clients, rule):
    """(client handle, path) of a user and objects that get past the permission check, else the first try.

    Of the objects reached, the first whose page offers the form is preferred (the newest object
    may be in a state where the form is not offered, such as an object staged for another form).
    """
    first = reached = None
    checks = 0
    handles = [None] if rule.endpoint in ANONYMOUS_ENDPOINTS else list(USERS)
    for values in candidate_values(rule):
        path = urlsplit(build(app, rule, values)).path
        for handle in handles:
            with Savepoint(connection):
                response = clients[handle].post(path, data={})
            first = first or (handle, path)
            if response.status_code not in (401, 403, 404, 405) and not _login_redirect(response):
                reached = reached or (handle, path)
                checks += 1
                with Savepoint(connection):
                    if discover_fields(clients[handle], path, rule.methods):
                        return handle, path
                if checks >= REACH_PAGE_CHECKS:
                    return reached
                break
    return reached or first


def _login_redirect(response) -> bool:
    return response.status_code == 302 and "/login" in (response.headers.get("Location") or "")


def post_routes(app):
    return sorted(
        (r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.rule
    )


def fuzz_route(app, connection, clients, rule, failures: list, reached: list, offered: dict):
    """Post generated values to ``rule``: where the UI offers its form, as its user, else where ``reach`` gets."""
    if rule.endpoint in offered:
        handle, path, fields = offered[rule.endpoint]
        source = "page"
    else:
        handle, path = reach(app, connection, clients, rule)
        with Savepoint(connection):
            fields = discover_fields(clients[handle], path, rule.methods)
        source = "page" if fields else None
        if not fields and (declared := class_fields(app, rule.endpoint, path)) is not None:
            fields, source = declared, "form class"
    client = clients[handle]
    statuses: list[int] = []
    reached.append((rule.endpoint, handle, path, len(fields), source, statuses))

    def value_for(kind, options):
        if kind == "file":
            return file_values()
        choices = [field_value]
        if options:
            choices.append(st.sampled_from(options))
        if kind == "many":
            return st.lists(st.one_of(*choices), max_size=4)
        return st.one_of(*choices)

    names = st.sampled_from(["amount", "reason", "comment", "title", "date", "id", "state"])
    if source:
        fuzzed = st.fixed_dictionaries(
            {name: value_for(kind, options) for name, (kind, options) in fields.items()}
        )
        # Also the form as offered (its shown values, first choices), with one or two fields spoiled,
        # so that examples get past the first failing field to the checks and operations behind it.
        valid = {
            name: value
            for name, (kind, options) in fields.items()
            if (value := plausible(kind, options)) is not None
        }
        spoiled = st.tuples(
            st.sets(st.sampled_from(sorted(fields) or ["-"]), max_size=2), fuzzed
        ).map(lambda pair: {**valid, **{k: v for k, v in pair[1].items() if k in pair[0]}})
        data_strategy = st.one_of(fuzzed, spoiled)
    else:
        data_strategy = st.dictionaries(names, field_value, max_size=4)
    extra = st.dictionaries(st.one_of(names, any_text.filter(bool)), field_value, max_size=2)

    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")),
        deadline=None,
        database=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(
        data=data_strategy,
        dropped=st.sets(st.sampled_from(sorted(fields) or ["-"]), max_size=3),
        more=extra,
    )
    def example(data, dropped, more):
        payload = {k: v for k, v in data.items() if k not in dropped}
        for k, v in more.items():
            payload.setdefault(k, v)
        with Savepoint(connection):
            try:
                response = client.post(path, data=payload, content_type="multipart/form-data")
            except Exception as error:
                failures.append((rule.endpoint, path, handle, repr(error)[:300], _short(payload)))
                raise
            status = response.status_code
            statuses.append(status)
            body = (
                response.get_data(as_text=True) if "html" in (response.content_type or "") else ""
            )
        if handle in SESSION_ENDING or rule.endpoint in SESSION_ENDING:
            clients[handle] = signed_in(app, handle) if handle else app.test_client()
        if status >= 500:
            failures.append((rule.endpoint, path, handle, status, _short(payload)))
            raise AssertionError(f"{rule.endpoint} answered {status}")
        if english := WTFORMS_ENGLISH.search(body):
            failures.append(
                (
                    rule.endpoint,
                    path,
                    handle,
                    f"English in the Chinese UI: {english.group(0)}",
                    _short(payload),
                )
            )
            raise AssertionError(f"{rule.endpoint} answered in English: {english.group(0)}")
        if status == 422 and "<form" in body:
            shown = "invalid-feedback" in body or re.search(
                r'class="alert[^"]*alert-(danger|warning)', body
            )
            if not shown:
                failures.append(
                    (rule.endpoint, path, handle, "422 without a message", _short(payload))
                )
                raise AssertionError(f"{rule.endpoint} answered 422 without a message")

    with contextlib.suppress(Exception):  # failures are collected and reported together
        example()
    if rule.endpoint in SESSION_ENDING:
        clients[handle] = signed_in(app, handle) if handle else app.test_client()


def plausible(kind: str, options: list[str]):
    """A value the form would accept for a field: the value shown or the first real choice, else one by kind."""
    if kind == "file":
        return None
    real = [o for o in options if o]
    if kind == "many":
        return real[:1]
    if kind in ("select", "radio"):
        return (real or options or [""])[0]
    if options:
        return options[0]
    from datetime import date

    return {
        "checkbox": "y",
        "number": "1",
        "date": date.today().isoformat(),
        "email": "fuzz@example.com",
        "submit": "y",
        "hidden": "",
    }.get(kind, "测试内容")


def _short(payload: dict) -> dict:
    return {
        k: (v if not isinstance(v, str) or len(v) < 80 else v[:40] + f"…({len(v)})")
        for k, v in payload.items()
        if not isinstance(v, tuple)
    }


def test_forms_fuzz_every_post_route_answers_without_server_error(world, offered):
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
        fuzz_route(app, connection, clients, rule, failures, reached, offered)
        endpoint, handle, path, count, source, statuses = reached[-1]
        print(
            f"{endpoint}: {time.perf_counter() - started:.2f}s {handle} {path} {count} fields from {source}, "
            f"answers {dict(sorted(Counter(statuses).items()))}"
        )
    by_source = {
        source: sorted(r[0] for r in reached if r[4] == source)
        for source in ("page", "form class", None)
    }
    print(
        f"real fields for {len(reached) - len(by_source[None])} of {len(reached)} POST routes: "
        f"{len(by_source['page'])} from a page, {len(by_source['form class'])} from the form class; "
        f"guessed for {by_source[None]}"
    )
    assert only or len(reached) - len(by_source[None]) >= MIN_ROUTES_WITH_REAL_FIELDS, (
        f"form discovery regressed: real fields for too few routes; guessed for {by_source[None]}"
    )
    assert only or len(by_source["page"]) >= MIN_ROUTES_FROM_PAGES, (
        f"the crawl found the forms of too few routes; from the form class: {by_source['form class']}"
    )
    assert not failures, "\n".join(map(repr, failures))
