"""The back office's subscriptions page: admins see them by status and how many reached each
step over a period; other roles do not."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Subscription
from app.services import subscriptions as service
from tests.conftest import page_text
from tests.selling.subscribe_support import DETAILS, code_from, selling

URL = "/alpha/subscribe/badge"


def _cells(response, row_id: str) -> list[str]:
    markup = response.get_data(as_text=True)
    row = markup[markup.index(f'id="{row_id}"'):]
    row = row[:row.index("</tr>")]
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]


def test_admins_see_subscriptions_by_status_and_conversion_by_step(app, tenant, inbox,
                                                                  admin_client, sales_client):
    selling()
    signed = app.test_client()
    assert signed.post(URL, data=DETAILS).status_code == 302
    signed.get(f"{URL}/review")
    signed.post(f"{URL}/review", data={"consent": "yes"})
    assert signed.post(f"{URL}/code", data={"code": code_from(inbox)}).status_code == 302
    reviewing = app.test_client()
    assert reviewing.post(URL, data={**DETAILS, "email": "marc@example.com"}).status_code == 302
    reviewing.get(f"{URL}/review")
    idle = app.test_client()
    assert idle.post(URL, data={**DETAILS, "email": "lea@example.com"}).status_code == 302
    db.session.execute(Subscription.__table__.update().where(
        Subscription.email == "lea@example.com").values(
        updated_at=datetime.now(UTC) - timedelta(days=8)))
    db.session.commit()
    assert service.abandon_idle() == 1
    db.session.commit()

    page = admin_client.get("/alpha/admin/offers/subscriptions")
    assert page.status_code == 200
    assert _cells(page, "step-details")[1:] == ["3", "100 %"]
    assert _cells(page, "step-review")[1:] == ["2", "67 %"]
    assert _cells(page, "step-signature")[1:] == ["1", "33 %"]
    assert _cells(page, "step-done")[1:] == ["1", "33 %"]
    text = page_text(page)
    assert "helene@example.com" in text and "lea@example.com" in text
    only_abandoned = admin_client.get("/alpha/admin/offers/subscriptions?status=abandoned")
    text = page_text(only_abandoned)
    assert "lea@example.com" in text and "helene@example.com" not in text
    helene = db.session.scalar(select(Subscription).where(Subscription.status == "signed"))
    assert helene.mandate_reference in page_text(
        admin_client.get("/alpha/admin/offers/subscriptions?status=signed"))
    # A period before any of them: nothing reached anything.
    empty = admin_client.get("/alpha/admin/offers/subscriptions?since=2020-01-01&until=2020-01-31")
    assert _cells(empty, "step-details")[1:] == ["0", "–"]
    assert "/alpha/admin/offers/subscriptions" in admin_client.get(
        "/alpha/admin/offers").get_data(as_text=True)
    assert sales_client.get("/alpha/admin/offers/subscriptions").status_code == 403
