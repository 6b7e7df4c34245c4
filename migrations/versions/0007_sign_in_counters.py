"""sign-in counters: one row per key, counted atomically, instead of one row per failure

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 01:50:00

The failures recorded in login_attempts are not carried over: they concern the last 15
minutes at most, and the new counters start empty.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_counters',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_counters'))
    )
    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_counters_window_started_at'), ['window_started_at'], unique=False)

    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_email_attempted_at')
        batch_op.drop_index('ix_login_attempts_client_attempted_at')
        batch_op.drop_index(batch_op.f('ix_login_attempts_attempted_at'))
    op.drop_table('login_attempts')


def downgrade():
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempts_attempted_at'), ['attempted_at'], unique=False)
        batch_op.create_index('ix_login_attempts_client_attempted_at', ['client', 'attempted_at'], unique=False)
        batch_op.create_index('ix_login_attempts_email_attempted_at', ['email', 'attempted_at'], unique=False)

    with op.batch_alter_table('sign_in_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_counters_window_started_at'))
    op.drop_table('sign_in_counters')
