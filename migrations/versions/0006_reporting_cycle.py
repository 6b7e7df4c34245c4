"""the reporting cycle: settings (deadline, closing), on time or late per report, exceptions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:50:00

Existing reports are classed by their created_at against the default deadline (12:00 on the
next day, in the app's TIMEZONE, else the server's), as if the rule had always been in force.
The deadline is computed here, per report date, by this migration's own arithmetic: it does
not import the app's rules, which may change after it.
"""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DEADLINE = time(12, 0)  # on the next day


def _zone():
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(name) if name else datetime.now().astimezone().tzinfo


def upgrade():
    op.create_table('reporting_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deadline_time', sa.Time(), nullable=False),
    sa.Column('deadline_day_offset', sa.Integer(), nullable=False),
    sa.Column('close_after_days', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('deadline_day_offset IN (0, 1)', name=op.f('ck_reporting_settings_deadline_day_offset_known')),
    sa.CheckConstraint('close_after_days IS NULL OR close_after_days BETWEEN 0 AND 366', name=op.f('ck_reporting_settings_close_after_days_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reporting_settings'))
    )
    op.create_table('closing_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=False),
    sa.Column('date_to', sa.Date(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('date_from <= date_to', name=op.f('ck_closing_exceptions_date_range')),
    sa.ForeignKeyConstraint(['hospital_id'], ['hospitals.id'], name=op.f('fk_closing_exceptions_hospital_id_hospitals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closing_exceptions'))
    )
    with op.batch_alter_table('closing_exceptions', schema=None) as batch_op:
        batch_op.create_index('ix_closing_exceptions_hospital_id', ['hospital_id', 'date_from'], unique=False)

    # A plain ADD COLUMN (no batch): on SQLite a batch would rebuild the table and lose the
    # trigger that keeps report dates out of the future.
    op.add_column('hospital_stats', sa.Column('on_time', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_hospital_stats_timeliness', 'hospital_stats', ['hospital_id', 'report_date', 'on_time'], unique=False)

    bind = op.get_bind()
    zone = _zone()
    days = bind.execute(sa.text("SELECT DISTINCT report_date FROM hospital_stats")).scalars().all()
    classify = sa.text(
        "UPDATE hospital_stats SET on_time = CASE WHEN created_at <= :due THEN :yes ELSE :no END "
        "WHERE report_date = :day"
    ).bindparams(sa.bindparam("yes", type_=sa.Boolean()), sa.bindparam("no", type_=sa.Boolean()))
    for day in days:
        if isinstance(day, str):  # SQLite hands back text
            day = datetime.strptime(day, "%Y-%m-%d").date()
        due = datetime.combine(day + timedelta(days=1), DEADLINE, tzinfo=zone)
        bind.execute(classify, {"due": due.astimezone(UTC).replace(tzinfo=None), "day": day, "yes": True, "no": False})

    now = datetime.now(UTC).replace(tzinfo=None)
    settings = sa.table('reporting_settings',
        sa.column('id', sa.Integer()), sa.column('deadline_time', sa.Time()),
        sa.column('deadline_day_offset', sa.Integer()), sa.column('close_after_days', sa.Integer()),
        sa.column('created_at', sa.DateTime()), sa.column('updated_at', sa.DateTime()),
        sa.column('version', sa.Integer()))
    op.bulk_insert(settings, [{
        'id': 1, 'deadline_time': DEADLINE, 'deadline_day_offset': 1, 'close_after_days': 7,
        'created_at': now, 'updated_at': now, 'version': 1,
    }])


def downgrade():
    op.drop_index('ix_hospital_stats_timeliness', table_name='hospital_stats')
    # Spelled out: Alembic's drop_column copies the table on SQLite, losing its triggers.
    op.execute('ALTER TABLE hospital_stats DROP COLUMN on_time')
    op.drop_table('closing_exceptions')
    op.drop_table('reporting_settings')
