"""User sessions kept server-side, so that a logout ends its own session (a copied cookie
with it) and a new password or "sign out everywhere" all of a user's; the users' session
epoch, which ended them all at once, goes

Revision ID: aa87be8cc150
Revises: 5c8d2e7f1a93
Create Date: 2026-12-04 17:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table, share_tenant_table

# revision identifiers, used by Alembic.
revision = 'aa87be8cc150'
down_revision = '5c8d2e7f1a93'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_user_sessions_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('tenant_id', 'token_hash',
                            name=op.f('uq_user_sessions_tenant_id_token_hash')),
    )
    op.create_index('ix_user_sessions_tenant_id_user_id', 'user_sessions',
                    ['tenant_id', 'user_id'], unique=False)
    op.create_index('ix_user_sessions_tenant_id_created_at', 'user_sessions',
                    ['tenant_id', 'created_at'], unique=False)
    isolate_tenant_table('user_sessions')
    # Sessions opened under the epoch are not in the table: their users log in again.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0',
                                      nullable=False))
    share_tenant_table('user_sessions')
    op.drop_index('ix_user_sessions_tenant_id_created_at', table_name='user_sessions')
    op.drop_index('ix_user_sessions_tenant_id_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
