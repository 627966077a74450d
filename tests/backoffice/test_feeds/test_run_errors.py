"""A run's row errors when there are many: summed up by kind on the run page, one kind's rows
paged on their own, and the CSV to fix streamed with every failing row once."""
from __future__ import annotations

import csv
import html
import io
import re

from tests.backoffice.conftest import fr, text
from tests.backoffice.test_feeds.conftest import HEADER

# 300 failing rows of three kinds: 150 unknown customers, 100 bad dates, 50 bad amounts.
KINDS = (
    *(f"U{i:03d};C404;31/12/2025;1,00;" for i in range(150)),
    *(f"D{i:03d};C001;pas une date;1,00;" for i in range(100)),
    *(f"M{i:03d};C001;31/12/2025;abc;" for i in range(50)),
)


def _groups(page: str) -> list[tuple[str, str, int, str]]:
    """(column, message, count, filter link) of each row of the summary table."""
    table = re.search(r'<table[^>]*id="error-groups".*?</table>', page, re.S).group(0)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        count = int(re.search(r'data-group-count="(\d+)"', row).group(1))
        link = html.unescape(re.search(r'href="([^"]+)"', row).group(1))
        rows.append((cells[0], cells[1], count, link))
    return rows


def _lines(page: str) -> list[int]:
    table = re.search(r'<table[^>]*id="errors".*?</table>', page, re.S).group(0)
    return [int(n) for n in re.findall(r"<tr><td[^>]*>(\d+)</td>", table)]


def test_the_run_page_sums_up_errors_by_kind_in_french(admin_client, invoice_profile,
                                                       start_run):
    run = start_run(invoice_profile, HEADER, *KINDS)
    assert run.failed == 300
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    groups = _groups(page)
    assert [(column, count) for column, _, count, _ in groups] == [
        ("Code client", 150), ("Date", 100), ("Montant TTC", 50)]
    messages = [message.translate({0x202F: " ", 0xA0: " "}) for _, message, _, _ in groups]
    assert messages[1] == fr("“%(value)s” is not a date: write it as %(expected)s.",
                             value="pas une date", expected="31/12/2025")
    assert "C404" in messages[0] and "abc" in messages[2]
    assert fr("Errors by kind (%(total)s in all)", total="300") in text(
        admin_client.get(f"/alpha/feeds/runs/{run.id}"))


def test_the_run_page_sums_up_errors_by_kind_in_english(admin_client, invoice_profile,
                                                        start_run):
    run = start_run(invoice_profile, HEADER, *KINDS)
    admin_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    groups = _groups(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert [(column, message, count) for column, message, count, _ in groups] == [
        ("Code client", "No customer with the reference “C404”.", 150),
        ("Date", "“pas une date” is not a date: write it as 31/12/2025.", 100),
        ("Montant TTC", "“abc” is not a number: write it as 1234,56.", 50)]


def test_a_kind_of_error_pages_through_its_own_rows_only(admin_client, invoice_profile,
                                                         start_run):
    run = start_run(invoice_profile, HEADER, *KINDS)
    link = _groups(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())[0][3]
    first = admin_client.get(link).data.decode()
    lines = _lines(first)
    assert len(lines) == 100 and lines[0] == 2
    after = html.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    second = admin_client.get(after).data.decode()
    lines += _lines(second)
    # The 150 unknown customers are lines 2 to 151; no bad date or amount slips in.
    assert lines == list(range(2, 152))
    assert 'rel="next"' not in second
    back = html.unescape(re.search(r'rel="prev" href="([^"]+)"', second).group(1))
    assert _lines(admin_client.get(back).data.decode()) == list(range(2, 102))
    dates = _groups(first)[1][3]
    assert _lines(admin_client.get(dates).data.decode()) == list(range(152, 252))


def test_an_unknown_or_hostile_group_shows_every_error(admin_client, invoice_profile,
                                                       start_run):
    run = start_run(invoice_profile, HEADER, *KINDS[:3], *KINDS[-2:])
    for group in ("999999999", "-1", "abc", "9" * 40):
        response = admin_client.get(f"/alpha/feeds/runs/{run.id}?group={group}")
        assert response.status_code == 200
        assert _lines(response.data.decode()) == [2, 3, 4, 5, 6]


def test_the_errors_csv_streams_every_failing_row_once(admin_client, invoice_profile,
                                                       start_run):
    lines = [f"X{i:04d};C001;pas une date;1,00;" for i in range(3000)]
    run = start_run(invoice_profile, HEADER, *lines)
    response = admin_client.get(f"/alpha/feeds/runs/{run.id}/errors.csv")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                           delimiter=";"))
    assert len(rows) == 3001
    assert [row[5] for row in rows[1:]] == [str(n) for n in range(2, 3002)]
    assert [row[0] for row in rows[1:]] == [f"X{i:04d}" for i in range(3000)]


def test_many_values_failing_once_each_are_summed_up_as_one_kind(admin_client, invoice_profile,
                                                                 start_run):
    # Invoices sent before their customers: 120 references unknown, each once, and 30 bad
    # dates. Ten groups of one reference each would hide that 120 rows fail for the same
    # reason.
    run = start_run(invoice_profile, HEADER,
                    *(f"U{i:03d};X{i:03d};31/12/2025;1,00;" for i in range(120)),
                    *(f"D{i:03d};C001;pas une date;1,00;" for i in range(30)))
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    table = re.search(r'<table[^>]*id="error-groups".*?</table>', page, re.S).group(0)
    [row] = re.findall(r"<tr data-kind[^>]*>(.*?)</tr>", table, re.S)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip().translate(
        {0x202F: " ", 0xA0: " "}) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[0] == "Code client" and 'data-kind-count="120"' in row
    assert cells[1] == fr("No customer with the reference “%(ref)s”.", ref="…") + " " + \
        "(120 valeurs différentes)"
    link = html.unescape(re.search(r'href="([^"]+)"', row).group(1))
    first = admin_client.get(link).data.decode()
    after = html.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    assert "kind=" in after and "group=" not in after
    assert _lines(first) + _lines(admin_client.get(after).data.decode()) == list(range(2, 122))
