"""Feed alerts: when a feed's file is expected, the alerts mailed once, the admins' digest

Revision ID: 9c4e7a2d5f13
Revises: 5b9e2f7c41a8
Create Date: 2026-12-05 00:10:00
"""

import sqlalchemy as sa
from alembic import op

from app.row_security import isolate_tenant_table

revision = "9c4e7a2d5f13"
down_revision = "5b9e2f7c41a8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "feed_expectations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["import_profiles.id"],
            name=op.f("fk_feed_expectations_profile_id_import_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_feed_expectations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_expectations")),
        sa.UniqueConstraint(
            "tenant_id", "profile_id", name=op.f("uq_feed_expectations_tenant_id_profile_id")
        ),
    )
    op.create_table(
        "feed_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["import_profiles.id"],
            name=op.f("fk_feed_alerts_profile_id_import_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_feed_alerts_run_id_import_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_feed_alerts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_alerts")),
        sa.UniqueConstraint(
            "tenant_id", "profile_id", "key", name=op.f("uq_feed_alerts_tenant_id_profile_id_key")
        ),
    )
    op.create_index(
        "ix_feed_alerts_tenant_id_created_at",
        "feed_alerts",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "feed_digest_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_sent_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feed_digest_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_feed_digest_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_digest_subscriptions")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_feed_digest_subscriptions_tenant_id_user_id")
        ),
    )
    for table in ("feed_expectations", "feed_alerts", "feed_digest_subscriptions"):
        isolate_tenant_table(table)


def downgrade():
    op.drop_table("feed_digest_subscriptions")
    op.drop_index("ix_feed_alerts_tenant_id_created_at", table_name="feed_alerts")
    op.drop_table("feed_alerts")
    op.drop_table("feed_expectations")
