"""Money only for live projects; the bureau confirms the signed task book

Disbursements gain the state 'cancelled' (a release still pending when its project was
terminated) with its reason; a cancelled release, like a rejected one, no longer holds
its tranche. Signed copies of the task book wait for the bureau's confirmation in
``task_book_signatures``.

Revision ID: 0009_money
Revises: 0008_conflicts
Create Date: 2026-12-05 05:30:00

"""
from alembic import op
import sqlalchemy as sa

import grants.core.types


# revision identifiers, used by Alembic.
revision = '0009_money'
down_revision = '0008_conflicts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('task_book_signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('task_book_sha256', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', grants.core.types.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', grants.core.types.UTCDateTime(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("state in ('signed_uploaded','confirmed','returned')", name=op.f('ck_task_book_signatures_known_state')),
    sa.CheckConstraint("state = 'signed_uploaded' or decided_at is not null", name=op.f('ck_task_book_signatures_decided_has_date')),
    sa.CheckConstraint("state != 'returned' or length(return_reason) > 0", name=op.f('ck_task_book_signatures_return_has_reason')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_task_book_signatures_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['file_id'], ['project_files.id'], name=op.f('fk_task_book_signatures_file_id_project_files'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_task_book_signatures_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_task_book_signatures_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_book_signatures'))
    )
    with op.batch_alter_table('task_book_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_book_signatures_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_book_signatures_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_book_signatures_state'), ['state'], unique=False)
        batch_op.create_index('uq_task_book_signatures_pending', ['project_id'], unique=True, sqlite_where=sa.text("state = 'signed_uploaded'"), postgresql_where=sa.text("state = 'signed_uploaded'"))

    # Nothing refers to disbursements, so SQLite may rebuild the table for the new CHECKs (batch mode
    # does so on SQLite only; PostgreSQL alters it in place).
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_index('uq_disbursements_live_tranche', sqlite_where=sa.text("state != 'rejected'"), postgresql_where=sa.text("state != 'rejected'"))
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_reason', sa.Text(), server_default='', nullable=False))
        batch_op.drop_constraint(batch_op.f('ck_disbursements_known_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_disbursements_known_state'), "state in ('requested','approved','paid','rejected','cancelled')")
        batch_op.create_check_constraint(batch_op.f('ck_disbursements_cancellation_has_reason'), "state != 'cancelled' or length(cancellation_reason) > 0")
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.create_index('uq_disbursements_live_tranche', ['tranche_id'], unique=True, sqlite_where=sa.text("state not in ('rejected','cancelled')"), postgresql_where=sa.text("state not in ('rejected','cancelled')"))


def downgrade():
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_index('uq_disbursements_live_tranche', sqlite_where=sa.text("state not in ('rejected','cancelled')"), postgresql_where=sa.text("state not in ('rejected','cancelled')"))
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_disbursements_cancellation_has_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_disbursements_known_state'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_disbursements_known_state'), "state in ('requested','approved','paid','rejected')")
        batch_op.drop_column('cancellation_reason')
    with op.batch_alter_table('disbursements', schema=None) as batch_op:
        batch_op.create_index('uq_disbursements_live_tranche', ['tranche_id'], unique=True, sqlite_where=sa.text("state != 'rejected'"), postgresql_where=sa.text("state != 'rejected'"))

    with op.batch_alter_table('task_book_signatures', schema=None) as batch_op:
        batch_op.drop_index('uq_task_book_signatures_pending', sqlite_where=sa.text("state = 'signed_uploaded'"), postgresql_where=sa.text("state = 'signed_uploaded'"))
        batch_op.drop_index(batch_op.f('ix_task_book_signatures_state'))
        batch_op.drop_index(batch_op.f('ix_task_book_signatures_project_id'))
        batch_op.drop_index(batch_op.f('ix_task_book_signatures_file_id'))

    op.drop_table('task_book_signatures')
