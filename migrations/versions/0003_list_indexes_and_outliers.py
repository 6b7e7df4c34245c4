"""indexes for the lists and the dashboard; confirmed outliers on reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:55:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_hospitals_is_active_name', 'hospitals', ['is_active', 'name', 'id'], unique=False)
    op.create_index('ix_hospitals_name', 'hospitals', ['name', 'id'], unique=False)

    # Plain operations, never batch mode: on SQLite batch mode may copy a table, and the copy
    # would lose the report-date triggers. SQLite adds these in place.
    op.add_column('hospital_stats', sa.Column('outlier_confirmed', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('hospital_stats', sa.Column('outlier_note', sa.String(length=500), nullable=True))
    op.create_index('ix_hospital_stats_report_date', 'hospital_stats', ['report_date', 'hospital_id', 'beds_occupied', 'beds_total', 'icu_beds_occupied', 'icu_beds_total'], unique=False)
    op.create_index('ix_hospital_stats_outlier', 'hospital_stats', ['outlier_confirmed', 'report_date'], unique=False)


def downgrade():
    op.drop_index('ix_hospital_stats_outlier', table_name='hospital_stats')
    op.drop_index('ix_hospital_stats_report_date', table_name='hospital_stats')
    # Spelled out: Alembic's drop_column copies the table on SQLite, losing its triggers.
    op.execute('ALTER TABLE hospital_stats DROP COLUMN outlier_note')
    op.execute('ALTER TABLE hospital_stats DROP COLUMN outlier_confirmed')
    op.drop_index('ix_hospitals_name', table_name='hospitals')
    op.drop_index('ix_hospitals_is_active_name', table_name='hospitals')
