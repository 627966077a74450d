"""Scheduled exports and pulls: sftp_servers, exports, export_runs, export_marks, feed_pulls

Revision ID: a5ccf91d7f5b
Revises: c5a1e7d3f904
Create Date: 2026-12-04 23:31:42.225457

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.row_security import isolate_tenant_table, share_tenant_table

revision = 'a5ccf91d7f5b'
down_revision = 'c5a1e7d3f904'
branch_labels = None
depends_on = None
TABLES = ('sftp_servers', 'exports', 'export_runs', 'export_marks', 'feed_pulls')


def upgrade():
    op.create_table('sftp_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('host_key', sa.Text(), nullable=False),
    sa.Column('secret_kind', sa.String(length=10), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sftp_servers_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sftp_servers')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_sftp_servers_tenant_id_name'))
    )
    op.create_table('exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=30), nullable=False),
    sa.Column('columns', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('format', sa.String(length=12), nullable=False),
    sa.Column('destination', sa.String(length=20), nullable=False),
    sa.Column('destination_options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sftp_server_id', sa.Integer(), nullable=True),
    sa.Column('schedule', sa.String(length=100), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_changes_only', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('changes_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by_run_id', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sftp_server_id'], ['sftp_servers.id'], name=op.f('fk_exports_sftp_server_id_sftp_servers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_exports_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_exports_tenant_id_name'))
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.create_index('ix_exports_next_run_at', ['next_run_at'], unique=False)

    op.create_table('export_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('export_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['export_id'], ['exports.id'], name=op.f('fk_export_marks_export_id_exports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_export_marks_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_marks')),
    sa.UniqueConstraint('tenant_id', 'export_id', 'record_id',
                        name=op.f('uq_export_marks_tenant_id_export_id_record_id'))
    )
    op.create_table('export_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('export_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('replaced_cells', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('format', sa.String(length=12), nullable=False),
    sa.Column('destination', sa.String(length=20), nullable=False),
    sa.Column('delivered_to', sa.Text(), nullable=True),
    sa.Column('changes_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['export_id'], ['exports.id'], name=op.f('fk_export_runs_export_id_exports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_export_runs_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_runs'))
    )
    with op.batch_alter_table('export_runs', schema=None) as batch_op:
        batch_op.create_index('ix_export_runs_status', ['status'], unique=False)
        batch_op.create_index('ix_export_runs_tenant_id_export_id', ['tenant_id', 'export_id', 'id'], unique=False)

    op.create_table('feed_pulls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('sftp_server_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=500), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sha256', sa.String(length=64), nullable=True),
    sa.Column('last_run_id', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['last_run_id'], ['import_runs.id'], name=op.f('fk_feed_pulls_last_run_id_import_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['profile_id'], ['import_profiles.id'], name=op.f('fk_feed_pulls_profile_id_import_profiles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sftp_server_id'], ['sftp_servers.id'], name=op.f('fk_feed_pulls_sftp_server_id_sftp_servers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_feed_pulls_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_pulls')),
    sa.UniqueConstraint('tenant_id', 'profile_id', name=op.f('uq_feed_pulls_tenant_id_profile_id'))
    )
    with op.batch_alter_table('feed_pulls', schema=None) as batch_op:
        batch_op.create_index('ix_feed_pulls_next_run_at', ['next_run_at'], unique=False)

    for table in TABLES:
        isolate_tenant_table(table)


def downgrade():
    for table in TABLES:
        share_tenant_table(table)
    with op.batch_alter_table('feed_pulls', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_pulls_next_run_at')

    op.drop_table('feed_pulls')
    with op.batch_alter_table('export_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_export_runs_tenant_id_export_id')
        batch_op.drop_index('ix_export_runs_status')

    op.drop_table('export_runs')
    op.drop_table('export_marks')
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_index('ix_exports_next_run_at')

    op.drop_table('exports')
    op.drop_table('sftp_servers')
