"""jobs as an outbox: dispatch, queue reference, back-off and heartbeat columns

Revision ID: 0010_faults
Revises: 0009_money
"""

import sqlalchemy as sa
from alembic import op

import grants.core.types

revision = '0010_faults'
down_revision = '0009_money'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispatched_at", grants.core.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("queue_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("run_after", grants.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("heartbeat_at", grants.core.types.UTCDateTime(), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_jobs_heartbeat_at"), ["heartbeat_at"], unique=False)
    # Jobs already queued or finished before the outbox counted as handed over.
    op.execute("UPDATE jobs SET dispatched_at = created_at WHERE status <> 'queued'")


def downgrade():
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_heartbeat_at"))
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("run_after")
        batch_op.drop_column("queue_ref")
        batch_op.drop_column("dispatched_at")
