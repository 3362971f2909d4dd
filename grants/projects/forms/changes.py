"""Forms of change requests (one per kind), their decision and the termination of a project.

Each request form starts from values in the shape of ``ChangeRequest.proposed``
(:meth:`ChangeForm.from_proposal`) and turns what the user typed back into that shape
(:meth:`ChangeForm.proposal`). A form refuses only input that cannot be stored as typed;
the rules of the house for proposals (grants.projects.changes) are checked when the
request is submitted, and their messages are put beside the fields
(:meth:`ChangeForm.attach_problems`).
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from grants.applications.forms import kpi_target, wan_or_blank
from grants.applications.models import BUDGET_CATEGORIES, KPI_KINDS, TEAM_ROLES
from grants.core.forms import SubForm
from grants.core.money import wan_text, wan_to_yuan
from grants.orgs.forms import WanField
from grants.projects.changes import FORMER_PRINCIPAL_CHOICES, TEAM_MEMBER_ROLES, _date, team_members

BLANK_TEAM_ROWS = 3


def _text(max_length: int):
    return [Optional(), Length(max=max_length)]


class ChangeForm(FlaskForm):
    """The part every request shares: the reason, and the map of problems to fields."""

    reason = TextAreaField(
        _l("Reason for the change"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("Why the change is needed; the bureau decides on this basis."),
    )
    evidence = MultipleFileField(
        _l("Add supporting documents"),
        description=_l(
            "For example the organisation's approval, a CV of the new "
            "principal or a quotation. PDF, Word (DOCX), Excel (XLSX), PNG "
            "or JPEG; several files may be chosen at once."
        ),
    )
    general_errors: list

    def __init__(self, *args, project=None, **kwargs):
        self.project = project
        super().__init__(*args, **kwargs)
        self.general_errors = []

    @classmethod
    def from_proposal(cls, project, proposed: dict, reason: str = ""):
        """The form filled with ``proposed`` (nothing read from the request)."""
        return cls(
            formdata=None,
            project=project,
            data={"reason": reason, **cls.initial_data(project, proposed)},
        )

    @classmethod
    def initial_data(cls, project, proposed: dict) -> dict:
        return {}

    def proposal(self) -> dict:
        return {}

    def field_for(self, key: str):
        """The field a problem key of grants.projects.changes belongs to, or None."""
        return self._fields.get(key)

    def attach_problems(self, problems) -> None:
        for key, message in problems:
            field = self.field_for(key) if key else None
            if field is None:
                self.general_errors.append(message)
            else:
                field.errors = [*list(field.errors or []), message]


# --- extension ---------------------------------------------------------------------------


class MilestoneDueForm(SubForm):
    milestone_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    due_date = DateField(
        _l("New due date"), validators=[InputRequired(_l("Give the new due date."))]
    )


class ExtensionForm(ChangeForm):
    end_date = DateField(_l("New end of the project period"), validators=[InputRequired()])
    milestones = FieldList(FormField(MilestoneDueForm), min_entries=0)

    @classmethod
    def initial_data(cls, project, proposed):
        return {
            "end_date": _date(proposed.get("end_date")),
            "milestones": [
                {"milestone_id": r.get("id"), "due_date": _date(r.get("due_date"))}
                for r in proposed.get("milestones") or []
            ],
        }

    def proposal(self):
        return {
            "end_date": self.end_date.data.isoformat(),
            "milestones": [
                {"id": e.form.milestone_id.data, "due_date": e.form.due_date.data.isoformat()}
                for e in self.milestones
            ],
        }

    def field_for(self, key):
        if key.startswith("milestone:"):
            for entry in self.milestones:
                if str(entry.form.milestone_id.data) == key.split(":", 1)[1]:
                    return entry.form.due_date
            return None
        return super().field_for(key)


# --- budget ------------------------------------------------------------------------------


class BudgetLineForm(SubForm):
    fiscal = WanField(
        _l("Fiscal funds (10,000 yuan)"),
        validators=[wan_or_blank],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    self_raised = WanField(
        _l("Self-raised funds (10,000 yuan)"),
        validators=[wan_or_blank],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


class BudgetChangeForm(ChangeForm):
    """One row per budget category, amounts typed in 万元."""

    total_errors: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.total_errors = []

    @classmethod
    def initial_data(cls, project, proposed):
        lines = proposed.get("lines") or {}
        return {
            c: {
                "fiscal": wan_text((lines.get(c) or {}).get("fiscal")),
                "self_raised": wan_text((lines.get(c) or {}).get("self_raised")),
            }
            for c in BUDGET_CATEGORIES
        }

    def line(self, category: str) -> BudgetLineForm:
        return self[category].form

    def proposal(self):
        return {
            "lines": {
                c: {
                    "fiscal": str(wan_to_yuan(self.line(c).fiscal.data or "0")),
                    "self_raised": str(wan_to_yuan(self.line(c).self_raised.data or "0")),
                }
                for c in BUDGET_CATEGORIES
            }
        }

    def field_for(self, key):
        if key == "budget:total":
            return None
        if key.startswith("budget:") and key.split(":", 1)[1] in BUDGET_CATEGORIES:
            return self.line(key.split(":", 1)[1]).fiscal
        return super().field_for(key)

    def attach_problems(self, problems):
        self.total_errors += [message for key, message in problems if key == "budget:total"]
        super().attach_problems(
            [(key, message) for key, message in problems if key != "budget:total"]
        )


for _category, _label in BUDGET_CATEGORIES.items():
    setattr(BudgetChangeForm, _category, FormField(BudgetLineForm, label=_label))
del _category, _label


# --- principal investigator --------------------------------------------------------------


class PrincipalForm(ChangeForm):
    member_id = SelectField(
        _l("New principal investigator"),
        coerce=int,
        default=0,
        description=_l("A member of the team, or someone new to the project."),
    )
    name = StringField(
        _l("Name"), validators=_text(100), description=_l("Only for someone new to the project.")
    )
    title = StringField(_l("Professional title"), validators=_text(100))
    organisation_name = StringField(_l("Organisation"), validators=_text(200))
    old_principal = SelectField(
        _l("The current principal investigator"),
        choices=list(FORMER_PRINCIPAL_CHOICES.items()),
        default="core",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(0, _l("Someone not yet on the team"))]
        if self.project is not None:
            choices += [
                (m.id, f"{m.name} ({TEAM_ROLES.get(m.role, m.role)})")
                for m in team_members(self.project)
            ]
        self.member_id.choices = choices

    @classmethod
    def initial_data(cls, project, proposed):
        return {
            "member_id": proposed.get("member_id") or 0,
            "name": "" if proposed.get("member_id") else proposed.get("name") or "",
            "title": proposed.get("title") or "",
            "organisation_name": proposed.get("organisation_name") or "",
            "old_principal": proposed.get("old_principal") or "core",
        }

    def validate_name(self, field):
        if not self.member_id.data and not (field.data or "").strip():
            raise ValidationError(
                _l("Name the new principal investigator, or choose a member of the team.")
            )

    def proposal(self):
        return {
            "member_id": self.member_id.data or None,
            "name": "" if self.member_id.data else (self.name.data or "").strip(),
            "title": (self.title.data or "").strip(),
            "organisation_name": (self.organisation_name.data or "").strip(),
            "old_principal": self.old_principal.data,
        }


# --- team --------------------------------------------------------------------------------


class TeamRowForm(SubForm):
    member_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    name = StringField(_l("Name"), validators=_text(100))
    role = SelectField(
        _l("Role"), choices=[(r, TEAM_ROLES[r]) for r in TEAM_MEMBER_ROLES], default="member"
    )
    title = StringField(_l("Professional title"), validators=_text(100))
    organisation_name = StringField(_l("Organisation"), validators=_text(200))
    remove = BooleanField(_l("Leaves the team"))

    def is_blank(self) -> bool:
        return not self.member_id.data and not any(
            (f.data or "").strip() for f in (self.name, self.title, self.organisation_name)
        )

    def validate_name(self, field):
        if not self.is_blank() and not self.remove.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter the member's name, or clear the row."))


class TeamChangeForm(ChangeForm):
    members = FieldList(FormField(TeamRowForm), min_entries=0)

    @classmethod
    def initial_data(cls, project, proposed):
        """The current members in order (those leaving ticked), then new members, then blank rows."""
        proposed_rows = proposed.get("members") or []
        by_id = {r.get("id"): r for r in proposed_rows if r.get("id") is not None}
        rows = []
        for member in team_members(project):
            row = by_id.pop(member.id, None)
            source = row or {
                "name": member.name,
                "role": member.role,
                "title": member.title,
                "organisation_name": member.organisation_name,
            }
            rows.append(
                {
                    "member_id": member.id,
                    "name": source.get("name") or "",
                    "role": source.get("role") or "member",
                    "title": source.get("title") or "",
                    "organisation_name": source.get("organisation_name") or "",
                    "remove": row is None,
                }
            )
        for row in list(by_id.values()) + [r for r in proposed_rows if r.get("id") is None]:
            rows.append(
                {
                    "member_id": row.get("id"),
                    "name": row.get("name") or "",
                    "role": row.get("role") or "member",
                    "title": row.get("title") or "",
                    "organisation_name": row.get("organisation_name") or "",
                    "remove": False,
                }
            )
        return {"members": rows + [{"role": "member"} for _ in range(BLANK_TEAM_ROWS)]}

    def proposal(self):
        rows = []
        for entry in self.members:
            row = entry.form
            if row.is_blank() or row.remove.data:
                continue
            rows.append(
                {
                    "id": row.member_id.data or None,
                    "name": (row.name.data or "").strip(),
                    "role": row.role.data,
                    "title": (row.title.data or "").strip(),
                    "organisation_name": (row.organisation_name.data or "").strip(),
                }
            )
        return {"members": rows}

    def field_for(self, key):
        if key.startswith("member:"):
            index = int(key.split(":", 1)[1])
            kept = [
                e.form for e in self.members if not e.form.is_blank() and not e.form.remove.data
            ]
            return kept[index].name if index < len(kept) else None
        return super().field_for(key)


# --- objectives and KPI targets ------------------------------------------------------------


class KpiChangeRow(SubForm):
    target = WanField(_l("Target"), validators=[kpi_target], render_kw={"inputmode": "decimal"})
    note = StringField(_l("Note"), validators=_text(300))


class ContentForm(ChangeForm):
    objectives = TextAreaField(_l("Objectives"), validators=[DataRequired(), Length(max=10000)])

    @classmethod
    def initial_data(cls, project, proposed):
        kpis = proposed.get("kpis") or {}
        data = {"objectives": proposed.get("objectives") or ""}
        for kind in KPI_KINDS:
            row = kpis.get(kind)
            data[kind] = {
                "target": format(Decimal(row["target"]).normalize(), "f") if row else "",
                "note": (row or {}).get("note") or "",
            }
        return data

    def kpi(self, kind: str) -> KpiChangeRow:
        return self[kind].form

    def proposal(self):
        kpis = {}
        for kind in KPI_KINDS:
            row = self.kpi(kind)
            if (row.target.data or "").strip():
                kpis[kind] = {
                    "target": str(Decimal(row.target.data)),
                    "note": (row.note.data or "").strip(),
                }
        return {"objectives": (self.objectives.data or "").strip(), "kpis": kpis}

    def field_for(self, key):
        if key.startswith("kpi:") and key.split(":", 1)[1] in KPI_KINDS:
            return self.kpi(key.split(":", 1)[1]).target
        return super().field_for(key)


for _kind, (_label, _unit) in KPI_KINDS.items():
    setattr(ContentForm, _kind, FormField(KpiChangeRow, label=_label))
del _kind, _label, _unit


# --- withdrawal ----------------------------------------------------------------------------


class WithdrawalForm(ChangeForm):
    reason = TextAreaField(
        _l("Reason for withdrawing the project"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("Once the bureau approves, the project is terminated with this reason."),
    )
    understood = BooleanField(
        _l(
            "I understand that the project will be terminated and that unspent fiscal funds "
            "must be paid back."
        ),
        validators=[InputRequired(_l("Tick the box to confirm."))],
    )

    @classmethod
    def initial_data(cls, project, proposed):
        return {"understood": bool(proposed.get("understood"))}

    def proposal(self):
        return {"understood": True}


KIND_FORMS: dict[str, type[ChangeForm]] = {
    "extension": ExtensionForm,
    "budget": BudgetChangeForm,
    "principal": PrincipalForm,
    "team": TeamChangeForm,
    "content": ContentForm,
    "withdrawal": WithdrawalForm,
}


# --- decisions and termination -------------------------------------------------------------


class ApproveChangeForm(FlaskForm):
    note = TextAreaField(_l("Note to the project owner (optional)"), validators=_text(4000))


class RejectChangeForm(FlaskForm):
    note = TextAreaField(
        _l("Reason for not approving"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("The project owner reads this."),
    )


class RemoveEvidenceForm(FlaskForm):
    """Removes a supporting document from a draft request (the CSRF token only)."""


class TerminateForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for terminating the project"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("The project owner and finance read this."),
    )
    confirm = BooleanField(
        _l(
            "Terminate the project: tranches not yet released are cancelled, and finance is "
            "told to recover the unspent funds."
        ),
        validators=[InputRequired(_l("Tick the box to confirm."))],
    )
