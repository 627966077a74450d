from tests.conftest import page_text


def test_admin_sees_dashboard_and_created_invoice(admin_client, make_invoice):
    invoice = make_invoice()
    response = admin_client.get("/alpha/invoices/")
    assert response.status_code == 200
    assert invoice.number in page_text(response)
    detail = admin_client.get(f"/alpha/invoices/{invoice.id}")
    assert "1 481,47" in page_text(detail)
