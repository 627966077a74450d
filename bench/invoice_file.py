"""The import benchmark's feed: a nightly invoice file as a French ERP writes it.

cp1252, `;`, CRLF, French dates (31/12/2025) and amounts ("1 234,56", a no-break space now and
then), status labels in French, 12 columns. Generated once per size from a fixed seed and kept in
bench/results/; the file of N rows is the first N rows of any larger one.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from bench import RESULTS_DIR
from bench.generate import YEARS, _status

FILE_VERSION = 1
HEADER = ("N° facture", "Réf", "Code client", "Date", "Échéance", "Statut", "Total HT", "TVA",
          "Total TTC", "Montant réglé", "Devise", "Promoteur")
PROFILE = {
    "name": "factures-nuit", "entity": "invoices", "mode": "upsert", "key": "external_ref",
    "columns": {"N° facture": "number", "Réf": "external_ref",
                "Code client": "account.external_ref", "Date": "issued_on",
                "Échéance": "due_on", "Statut": "status", "Total HT": "total_excl_tax",
                "TVA": "tax_total", "Total TTC": "total", "Montant réglé": "amount_paid",
                "Devise": "currency", "Promoteur": "custom.promoteur"},
    "encoding": "auto", "delimiter": "auto", "date_format": "auto", "decimal": "auto",
}
STATUS_FR = {"draft": "Brouillon", "issued": "Émise", "paid": "Payée", "overdue": "En retard",
             "cancelled": "Annulée"}
DEVELOPERS = ("Nexity", "Bouygues Immobilier", "Kaufman & Broad", "Vinci Immobilier", "Icade",
              "Cogedim", "Altarea", "Eiffage Immobilier", "Pitch Immo", "Sogeprom",
              "Bouygues Immobilier Lyon", "Nexity Côte d'Azur", "Promogim", "Ogic",
              "Marignan", "Quartus", "Réalités", "Histoire & Patrimoine")


def invoice_file(rows: int, accounts: int, seed: int = 2026) -> Path:
    """The file of `rows` invoices on accounts C000001..C{accounts}, generated when missing."""
    path = RESULTS_DIR / f"import-invoices-v{FILE_VERSION}-{rows}-{accounts}-{seed}.csv"
    if path.exists():
        return path
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="cp1252", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        buffer = []
        for record in _records(rows, accounts, seed):
            buffer.append(";".join(record))
            if len(buffer) >= 10_000:
                out.write("\r\n".join(buffer) + "\r\n")
                buffer = []
        if buffer:
            out.write("\r\n".join(buffer) + "\r\n")
    partial.rename(path)
    return path


def _french(cents: int, rng: random.Random) -> str:
    """1 234,56 (a no-break space as thousands separator one time in ten)."""
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0" if rng.random() < 0.1 else " ")
    return f"{sign}{grouped},{fraction:02d}"


def _records(rows: int, accounts: int, seed: int) -> Iterator[tuple[str, ...]]:
    rng = random.Random(seed)
    today = date(2026, 11, 1)  # fixed, so the file never depends on the day it is made
    first_day = today - timedelta(days=YEARS * 365)
    for seq in range(1, rows + 1):
        day = first_day + timedelta(days=rng.randrange(YEARS * 365))
        status = _status(rng, (today - day).days)
        excl = min(max(int(rng.lognormvariate(11, 1.1)), 1_000), 5_000_000)
        tax = excl * rng.choice((200, 200, 200, 100, 55)) // 1000
        total = excl + tax
        paid = total if status == "paid" else (
            total * rng.randint(1, 9) // 10 if status in ("issued", "overdue")
            and rng.random() < 0.15 else 0)
        due = "" if rng.random() < 0.07 else (
            day + timedelta(days=rng.choice((30, 30, 45, 60)))).strftime("%d/%m/%Y")
        account = int(accounts * rng.random() ** 2) + 1  # a few customers buy a lot
        developer = rng.choice(DEVELOPERS) if rng.random() < 0.7 else ""
        yield (f"FA{day.year}-{seq:07d}", f"IMP-{seq:07d}", f"C{account:06d}",
               day.strftime("%d/%m/%Y"), due, STATUS_FR[status], _french(excl, rng),
               _french(tax, rng), _french(total, rng), _french(paid, rng), "EUR", developer)
