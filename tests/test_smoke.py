from tests.conftest import page_text


def test_admin_sees_dashboard_and_created_invoice(admin_client, make_invoice):
    invoice = make_invoice()
    response = admin_client.get("/alpha/invoices/")
    assert response.status_code == 200
    assert invoice.number in page_text(response)
    detail = admin_client.get(f"/alpha/invoices/{invoice.id}")
    assert "1 481,47" in page_text(detail)


def test_a_service_refusal_no_page_caught_is_its_status_page_not_a_500(tmp_path):
    from app import create_app
    from app.errors import NotAllowed, NotFound

    application = create_app({"TESTING": True, "SECRET_KEY": "t", "WEBHOOK_DISPATCH": False,
                              "IMPORT_WATCH": False, "FILES_DIR": str(tmp_path),
                              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db'}"})

    @application.get("/refused")
    def refused():
        raise NotAllowed("Vous ne pouvez pas modifier cette fiche.")

    @application.get("/missing")
    def missing():
        raise NotFound()

    from app.extensions import db

    with application.app_context():
        db.create_all()
    client = application.test_client()
    response = client.get("/refused")
    assert response.status_code == 403
    assert "Vous ne pouvez pas modifier cette fiche." in response.get_data(as_text=True)
    assert client.get("/missing").status_code == 404
