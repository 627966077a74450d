"""Job bodies of the platform's own upkeep, outside any tenant."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.services.erasure import remove_deleted_tenant_files
from app.web.transactions import transaction

if TYPE_CHECKING:
    from sqlalchemy import Select

log = logging.getLogger(__name__)


def in_each_tenant(reason: str, tenant_ids: Select, work: Callable[[], int]) -> int:
    """Run `work` in each tenant `tenant_ids` (a select of tenant ids, read across tenants)
    names, in its own context and transaction; the sum of what it returns."""
    from app.extensions import db
    from app.tenancy import all_tenants_unsafe, tenant_context

    with all_tenants_unsafe(reason):
        tenants = db.session.scalars(tenant_ids).all()
        db.session.commit()
    done = 0
    for tenant_id in tenants:
        with tenant_context(tenant_id):
            try:
                done += work()
                db.session.commit()
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()
    return done


def remove_deleted_tenants_files() -> None:
    """The `remove_deleted_tenants_files` job: the folders a stopped tenant deletion left."""
    with transaction():
        remaining = remove_deleted_tenant_files("job:remove_deleted_tenants_files")
    for slug, folders in remaining.items():
        log.warning("files of deleted tenant %s could not be removed: %s", slug,
                    ", ".join(map(str, folders)))


def check_feed_alerts() -> None:
    """The `check_feed_alerts` job: in each tenant, raise the alerts due (failed or partial
    runs, files not come by their deadline) and mail each once, then the digests due. An
    alert or a digest is claimed before it is mailed, so that two processes never send it
    twice; one that could not leave is given back for the next check."""
    from sqlalchemy import select

    from app import clock
    from app.extensions import db
    from app.models import Tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    with all_tenants_unsafe("job:check_feed_alerts"):
        tenant_ids = list(db.session.scalars(select(Tenant.id).order_by(Tenant.id)))
    db.session.rollback()
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id, SYSTEM):
            try:
                _check_tenant_feeds(clock.now())
            except Exception:  # one tenant's trouble must not stop the others'
                log.exception("feed alerts of tenant %s failed", tenant_id)
                db.session.rollback()


def _check_tenant_feeds(now) -> None:
    from flask import current_app

    from app.extensions import db
    from app.mail import MailError
    from app.models import FeedDigestSubscription
    from app.services import feed_alert_mail, feed_alerts

    feed_alerts.raise_due_alerts(now)
    db.session.commit()
    if not current_app.config.get("SMTP_URL"):
        return  # recorded and shown; mailed once mail is set up (within a day)
    for alert_id in feed_alerts.unsent_alerts(now):
        if not feed_alerts.claim_alert(alert_id, now):
            db.session.rollback()
            continue
        db.session.commit()
        try:
            feed_alert_mail.send_alert(alert_id)
        except MailError:
            db.session.rollback()
            feed_alerts.release_alert(alert_id)
            db.session.commit()
    for subscription_id in feed_alerts.due_digests(now):
        before = db.session.get(FeedDigestSubscription, subscription_id).last_sent_on
        if not feed_alerts.claim_digest(subscription_id, now):
            db.session.rollback()
            continue
        db.session.commit()
        try:
            feed_alert_mail.send_digest(subscription_id, now)
        except MailError:
            db.session.rollback()
            feed_alerts.release_digest(subscription_id, before)
            db.session.commit()
