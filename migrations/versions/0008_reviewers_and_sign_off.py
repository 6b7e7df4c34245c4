"""reviewers (a role, and the regions each reviews) and the sign-off of reports

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-29 01:40:00

The role's CHECK constraint gains 'reviewer'. On SQLite a constraint can only be changed by
copying the table, and copying `users` would drop it first, which with foreign keys on
deletes every editor's hospital assignments (ON DELETE CASCADE) and is refused while the
audit trail points at it. The CHECK is only widened (no stored row can break it), so the
table's definition is rewritten in place instead, the way SQLite's documentation describes
for such changes ("Making Other Kinds Of Table Schema Changes", writable_schema).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('admin', 'editor', 'viewer')"
NEW_ROLES = "role IN ('admin', 'editor', 'viewer', 'reviewer')"


def _set_role_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
        bind.exec_driver_sql("PRAGMA writable_schema = ON")
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
                    "WHERE type = 'table' AND name = 'users'"),
            {"old": old, "new": new},
        )
        # A new schema version makes every connection read the definition again.
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
        return
    op.drop_constraint(op.f('ck_users_role_known'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role_known'), 'users', new)


def upgrade():
    _set_role_check(OLD_ROLES, NEW_ROLES)
    # Plain ADD COLUMNs (no batch): on SQLite a batch would copy the tables, see above, and
    # lose the trigger that keeps report dates out of the future.
    op.add_column('users', sa.Column('all_regions', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('account_regions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_regions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'region', name=op.f('pk_account_regions'))
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite adds a foreign key only within the column's definition.
        op.execute('ALTER TABLE hospital_stats ADD COLUMN signed_off_by_id INTEGER '
                   'CONSTRAINT fk_hospital_stats_signed_off_by_id_users REFERENCES users (id)')
    else:
        op.add_column('hospital_stats', sa.Column('signed_off_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_hospital_stats_signed_off_by_id_users'), 'hospital_stats', 'users', ['signed_off_by_id'], ['id'])
    op.add_column('hospital_stats', sa.Column('signed_off_at', sa.DateTime(), nullable=True))
    op.add_column('hospital_stats', sa.Column('reopen_reason', sa.String(length=500), nullable=True))


def downgrade():
    bind = op.get_bind()
    # Spelled out: Alembic's drop_column copies the table on SQLite, losing its triggers.
    op.execute('ALTER TABLE hospital_stats DROP COLUMN reopen_reason')
    op.execute('ALTER TABLE hospital_stats DROP COLUMN signed_off_at')
    if bind.dialect.name == "sqlite":
        op.execute('ALTER TABLE hospital_stats DROP COLUMN signed_off_by_id')
    else:
        op.drop_constraint(op.f('fk_hospital_stats_signed_off_by_id_users'), 'hospital_stats', type_='foreignkey')
        op.drop_column('hospital_stats', 'signed_off_by_id')
    op.drop_table('account_regions')
    op.execute('ALTER TABLE users DROP COLUMN all_regions')
    # Without the role, reviewers see what viewers see.
    op.execute("UPDATE users SET role = 'viewer' WHERE role = 'reviewer'")
    _set_role_check(NEW_ROLES, OLD_ROLES)
