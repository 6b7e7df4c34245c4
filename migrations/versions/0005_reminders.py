"""reminders: the emails that remind editors of the hospitals still to report for a day

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:30:00

One row per editor and day (unique), claimed before the mail server is asked: see
hospital_app/reminders/sending.py for what each state means.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('report_date', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('hospitals', sa.Text(), nullable=False),
    sa.Column('attempted_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("state IN ('sending', 'sent', 'failed')", name=op.f('ck_reminders_state_known')),
    sa.ForeignKeyConstraint(['account_id'], ['users.id'], name=op.f('fk_reminders_account_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('account_id', 'report_date', name=op.f('uq_reminders_account_id_report_date'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_report_date', ['report_date'], unique=False)


def downgrade():
    # Dropping the table drops its index and constraints with it.
    op.drop_table('reminders')
