"""the audit trail calls an account an account

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:00:00

The pages, URLs and code say "account" (/accounts, Account); the trail's record_type said
"user". Its rows are renamed so that /audit?record_type=account finds every change to an
account, old ones included.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE audit_log SET record_type = 'account' WHERE record_type = 'user'")


def downgrade():
    op.execute("UPDATE audit_log SET record_type = 'user' WHERE record_type = 'account'")
