"""Helpers for the call tests: a valid call form, lookups and audit events."""

from __future__ import annotations

import sqlalchemy as sa

from grants.core.models import AuditEvent
from grants.extensions import db
from grants.programmes.models import Call


def call_form_data(clusters=(), **overrides) -> dict:
    """A complete, valid POST body for the draft call form (two criteria, one attachment)."""
    data = {
        "code": "2026-EDJ-KJGG",
        "year": "2026",
        "title": "2026年度二道江区科技攻关计划",
        "funding_level": "district",
        "category": "research",
        "cluster_ids": [str(c.id) for c in clusters],
        "opens_at": "2026-03-01T09:00",
        "closes_at": "2026-03-31T17:00",
        "total_budget": "500",
        "cap_per_project": "50",
        "min_self_raised_pct": "50",
        "indirect_cost_pct": "20",
        "max_duration_months": "24",
        "required_qualification": "",
        "concurrent_cap": "",
        "reviewers_per_application": "5",
        "trimmed_mean_min_reviews": "5",
        "review_mode": "blind",
        "guide": "一、支持方向\n\n二、申报条件",
        "criteria-0-id": "",
        "criteria-0-name_zh": "技术先进性",
        "criteria-0-name_en": "Technical merit",
        "criteria-0-description": "创新程度",
        "criteria-0-weight": "60",
        "criteria-0-min_score": "0",
        "criteria-0-max_score": "10",
        "criteria-1-id": "",
        "criteria-1-name_zh": "经济社会效益",
        "criteria-1-name_en": "Impact",
        "criteria-1-description": "",
        "criteria-1-weight": "40",
        "criteria-1-min_score": "0",
        "criteria-1-max_score": "10",
        "attachments-0-code": "licence",
        "attachments-0-name_zh": "营业执照",
        "attachments-0-name_en": "Business licence",
        "attachments-0-required": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def call_by_code(code: str) -> Call | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Call).where(Call.code == code))


def call_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Call.id)))


def audit_events(action: str, call: Call | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action)
    if call is not None:
        stmt = stmt.where(AuditEvent.object_type == "Call", AuditEvent.object_id == str(call.id))
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def reload(call: Call) -> Call:
    db.session.expire_all()
    return db.session.get(Call, call.id)
