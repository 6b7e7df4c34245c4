"""daily sums of the reports per region (region_days) and weekly counts per hospital (hospital_weeks), kept beside the reports

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 05:10:00

The rows are filled here from the reports already stored; from then on summary.py keeps them
in the same transaction as every write of a report. The weeks are added up in Python: the
Monday of a date is written differently by each database. On SQLite both are WITHOUT
ROWID tables: their rows are read by ranges of the primary key.
"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

CENSUS = ('beds_total', 'beds_occupied', 'icu_beds_total', 'icu_beds_occupied',
          'ventilators_total', 'ventilators_in_use')


def upgrade():
    op.create_table(
        'region_days',
        sa.Column('report_date', sa.Date(), nullable=False),
        sa.Column('region', sa.String(length=100), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.Column('signed_off', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in CENSUS),
        sa.Column('changes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('report_date', 'region', 'active', name=op.f('pk_region_days')),
        sqlite_with_rowid=False,
    )
    sums = ", ".join(f"SUM(s.{name})" for name in CENSUS)
    op.execute(
        f"INSERT INTO region_days (report_date, region, active, reports, on_time, signed_off, "
        f"{', '.join(CENSUS)}, changes) "
        f"SELECT s.report_date, h.region, h.is_active, COUNT(*), "
        f"SUM(CASE WHEN s.on_time THEN 1 ELSE 0 END), COUNT(s.signed_off_at), {sums}, 1 "
        f"FROM hospital_stats s JOIN hospitals h ON h.id = s.hospital_id "
        f"GROUP BY s.report_date, h.region, h.is_active"
    )


    op.create_table(
        'hospital_weeks',
        sa.Column('hospital_id', sa.Integer(), nullable=False),
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.Column('on_time', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'],
                                name=op.f('fk_hospital_weeks_hospital_id_hospitals')),
        sa.PrimaryKeyConstraint('hospital_id', 'week', name=op.f('pk_hospital_weeks')),
        sqlite_with_rowid=False,
    )
    stats = sa.table('hospital_stats', sa.column('hospital_id'), sa.column('report_date', sa.Date),
                     sa.column('on_time', sa.Boolean))
    weeks = {}
    rows = op.get_bind().execute(sa.select(stats.c.hospital_id, stats.c.report_date, stats.c.on_time))
    for hospital_id, day, on_time in rows:
        counts = weeks.setdefault((hospital_id, day - timedelta(days=day.weekday())), [0, 0])
        counts[0] += 1
        counts[1] += 1 if on_time else 0
    table = sa.table('hospital_weeks', sa.column('hospital_id'), sa.column('week', sa.Date),
                     sa.column('reports'), sa.column('on_time'))
    rows = [{'hospital_id': h, 'week': w, 'reports': r, 'on_time': o}
            for (h, w), (r, o) in sorted(weeks.items())]
    for start in range(0, len(rows), 10000):
        op.bulk_insert(table, rows[start:start + 10000])


def downgrade():
    op.drop_table('hospital_weeks')
    op.drop_table('region_days')
