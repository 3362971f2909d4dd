"""Conflicts re-checked: when a conflict ended an assignment, and relations recorded from memberships

Revision ID: 0008_conflicts
Revises: 0007_throttle
Create Date: 2026-12-05 05:30:00

"""
import sqlalchemy as sa
from alembic import op

import grants.core.types

# revision identifiers, used by Alembic.
revision = '0008_conflicts'
down_revision = '0007_throttle'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_found_at', grants.core.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table('expert_relations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='declared', nullable=False))
        batch_op.create_check_constraint('known_source', "source in ('declared','membership')")


def downgrade():
    with op.batch_alter_table('expert_relations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_expert_relations_known_source'), type_='check')
        batch_op.drop_column('source')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('conflict_found_at')
