"""Builds the demo tenant's records, each through the services."""
from __future__ import annotations

import random
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from app.demo.data import (
    CARRIERS,
    CATALOG,
    CENT,
    DEMO_LOGINS,
    FIRST_NAMES,
    LAST_NAMES,
    MAJOR_NAMES,
    PARTNERS,
    PROGRAMMES,
    RANGES,
    REGION_WEIGHTS,
    REGIONS,
    SEGMENTS,
    SPAN_DAYS,
    STREETS,
)
from app.entities import ENTITIES
from app.services.custom_field_defs import create_field
from app.services.records import create_record, update_record
from app.services.tenants import create_user


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, min(day.day, 28))


def _vat_number(rng: random.Random) -> str:
    """A French VAT number around a SIREN whose last digit passes the Luhn check."""
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
    for check in range(10):
        siren = digits + [check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(siren))
        if total % 10 == 0:
            break
    number = int("".join(map(str, siren)))
    return f"FR{(12 + 3 * (number % 97)) % 97:02d}{number:09d}"


def _phone(rng: random.Random, prefix: str) -> str:
    return " ".join([prefix] + [f"{rng.randint(10, 99)}" for _ in range(4)])


def _create(entity: str, data: dict[str, Any]) -> Any:
    return create_record(ENTITIES[entity], data)


def _number(specs: list[dict], day_key: str, number_fmt: str, ref_fmt: str,
            *, yearly: bool = True) -> list[dict]:
    """Sort documents by date and number them (per year: the first year does not start at 1)."""
    specs.sort(key=lambda s: s[day_key])
    counters: dict[int, int] = {}
    if specs and yearly:
        first = specs[0][day_key]
        counters[first.year] = first.timetuple().tm_yday * len(specs) // SPAN_DAYS
    for spec in specs:
        year = spec[day_key].year if yearly else 0
        counters[year] = counters.get(year, 0) + 1
        spec["number"] = number_fmt.format(year=year, n=counters[year])
        spec["external_ref"] = ref_fmt.format(year=year, n=counters[year])
    return specs


def _public(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if not k.startswith("_")}


class DemoBuilder:
    """Generates the demo tenant's records, phase by phase, each from the previous ones."""

    def __init__(self, today: date):
        self.rng = random.Random(2026)
        self.today = today
        self.accounts: list[dict[str, Any]] = []  # id, cat(egory), region, name, domain, city
        self.partners: list[int] = []
        self.sales: list[int] = []

    def ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def lines(self, cat: str) -> list[dict[str, Any]]:
        skus, (low, high), installed, factor = RANGES[cat]
        tax = Decimal("10.00") if cat == "person" else Decimal("20.00")
        count = self.rng.randint(1, 3 if installed else 4)
        lines, works = [], 0
        for sku in self.rng.sample(skus, count):
            label, price = CATALOG[sku]
            quantity = 1 if sku in ("PG-BIO", "SB-COF6") else self.rng.randint(low, high)
            works += quantity
            lines.append({"sku": sku, "label": label, "quantity": Decimal(quantity),
                          "unit_price": (Decimal(price) * Decimal(factor)).quantize(CENT),
                          "tax_rate": tax})
        if installed and self.rng.random() < 0.85:
            label, price = CATALOG["POSE"]
            lines.append({"sku": "POSE", "label": label, "quantity": Decimal(works),
                          "unit_price": Decimal(price), "tax_rate": tax})
        return lines

    @staticmethod
    def excl(lines: list[dict[str, Any]]) -> Decimal:
        return sum(((line["quantity"] * line["unit_price"]).quantize(CENT) for line in lines),
                   Decimal(0))

    def run(self) -> None:
        self.custom_fields()
        self.partners = [_create("partners", {"name": n, "email": e, "phone": p,
                                              "external_ref": f"PAR-{i + 1:03d}"}).id
                         for i, (_r, n, e, p) in enumerate(PARTNERS)]
        self.users()
        self.make_accounts()
        self.contacts()
        for role, email, password in DEMO_LOGINS[2:]:
            tie = ({"partner_id": self.partners[0]} if role == "agent"
                   else {"account_id": self.accounts[0]["id"]})
            name = "Yann Tanguy" if role == "agent" else self.accounts[0]["name"]
            create_user({"email": email, "password": password, "role": role,
                         "full_name": name, **tie})
        quotes = self.deals_and_quotes()
        orders = self.orders(quotes)
        deliveries = self.deliveries(orders)
        contracts = self.contracts()
        self.invoices(orders, deliveries, contracts)
        self.activities()

    def activities(self) -> None:
        """Claire Martin's calls and visits: some done, some late, today's, upcoming."""
        rng = random.Random(2027)  # its own draws: the records above stay as they were
        now = datetime.combine(self.today, time(9, 0), tzinfo=UTC)
        plans = [("call", "Relance devis", -3, False),
                 ("task", "Envoyer la documentation", -1, True),
                 ("meeting", "Visite showroom", 0, True), ("call", "Point chantier", 2, True),
                 ("task", "Préparer le renouvellement", 9, True)]
        for index, account in enumerate(self.accounts[:12]):
            kind, subject, days, open_ = plans[index % len(plans)]
            moment = now + timedelta(days=days, hours=rng.randint(0, 8))
            _create("activities", {
                "account": account["id"], "kind": kind, "subject": subject,
                "owner": self.sales[0], "due_at": moment,
                "done_at": None if open_ else moment,
                "body": "Le client attend notre rappel." if rng.random() < 0.5 else None,
                "external_ref": f"ACT-{index + 1:04d}"})

    def custom_fields(self) -> None:
        for entity, key, fr, en, kind, extra in (
            ("accounts", "segment", "Segment", "Segment", "choice",
             {"choices": list(SEGMENTS.values()), "is_portal_visible": False}),
            ("accounts", "date_premier_contact", "Date du premier contact", "First contact date",
             "date", {}),
            ("invoices", "promoteur", "Promoteur", "Property developer", "text",
             {"is_portal_visible": True}),
            ("invoices", "date_facturation", "Date de facturation", "Billing date", "date", {}),
            ("deals", "programme_immobilier", "Programme immobilier", "Property programme",
             "text", {}),
        ):
            create_field({"entity": entity, "key": key, "label_fr": fr, "label_en": en,
                          "type": kind, "position": 1 if kind != "date" else 2, **extra})

    def users(self) -> None:
        create_user({"email": DEMO_LOGINS[0][1], "password": DEMO_LOGINS[0][2], "role": "admin",
                     "full_name": "Marc Dupont"})
        self.sales = [
            create_user({"email": DEMO_LOGINS[1][1], "password": DEMO_LOGINS[1][2],
                         "role": "sales", "full_name": "Claire Martin"}).id,
            # A second salesperson without a password: invited, not yet logged in.
            create_user({"email": "julien.lefebvre@stores-dupont.example", "role": "sales",
                         "full_name": "Julien Lefebvre"}).id,
        ]

    def company_name(self, cat: str, city: str, used: set[str]) -> str:
        rng = self.rng
        while True:
            last = rng.choice(LAST_NAMES)
            name = {
                "artisan": rng.choice([f"Menuiserie {last}", f"{last} Fermetures",
                                       f"SARL {last} & Fils", f"Ets {last} Bâtiment",
                                       f"{last} Habitat Services", f"Atelier {last}"]),
                "major": rng.choice(MAJOR_NAMES),
                "public": rng.choice([f"Mairie de {city}", f"Collège {last} – {city}",
                                      f"Centre aquatique de {city}"]),
                "shop": rng.choice([f"Brasserie {last}", f"Hôtel du Port – {city}",
                                    f"Restaurant Chez {rng.choice(FIRST_NAMES)}",
                                    f"Camping Les Pins – {city}", f"Café de la Place – {city}",
                                    f"Pharmacie {last}", f"Hôtel Le Relais – {city}"]),
            }[cat]
            if name not in used:
                used.add(name)
                return name

    def make_accounts(self) -> None:
        rng = self.rng
        cats = ["person"] * 12 + ["artisan"] * 24 + ["major"] * 12 + ["public"] * 8 + ["shop"] * 24
        used: set[str] = set()
        ref = 100
        for index, cat in enumerate(cats):
            region = "ouest" if index == 0 else rng.choices(
                list(REGION_WEIGHTS), list(REGION_WEIGHTS.values()))[0]
            prefix, cities = REGIONS[region]
            city, postal_code = rng.choice(cities)
            regions = [p[0] for p in PARTNERS]
            partner = (self.partners[regions.index(region)]
                       if region in regions and (index == 0 or rng.random() < 0.75) else None)
            if cat == "person":
                first, last = ("Sophie", "Bernard") if index == 0 else (
                    rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
                name, domain = f"{first} {last}", "courriel.example"
                email, phone = f"{_slug(first)}.{_slug(last)}@{domain}", _phone(rng, "06")
            else:
                name = self.company_name(cat, city, used)
                domain = f"{_slug(name)[:40].rstrip('-')}.example"
                email, phone = f"contact@{domain}", _phone(rng, prefix)
            custom = {"date_premier_contact": self.ago(60, 8 * 365)}
            if cat in SEGMENTS and rng.random() < 0.9:
                custom["segment"] = SEGMENTS[cat]
            ref += rng.randint(1, 9)
            owner = self.sales[0] if region in ("ouest", "idf", "nord") else self.sales[1]
            record = _create("accounts", {
                "name": name, "kind": "person" if cat == "person" else "company",
                "email": email, "phone": phone,
                "address_line": f"{rng.randint(1, 140)} {rng.choice(STREETS)}",
                "postal_code": postal_code, "city": city, "country": "FR",
                "vat_number": None if cat == "person" else _vat_number(rng),
                "owner": owner if rng.random() < 0.9 else None, "partner": partner,
                "external_ref": f"CLI-{ref:06d}", "custom": custom,
            })
            self.accounts.append({"id": record.id, "cat": cat, "region": region, "name": name,
                                  "domain": domain, "city": city})

    def contacts(self) -> None:
        rng, ref = self.rng, 0
        titles = {
            "artisan": ["Gérant", "Gérante", "Chef d'atelier", "Secrétaire",
                        "Conducteur de travaux"],
            "major": ["Responsable des achats", "Chargée de programme", "Conducteur de travaux",
                      "Directeur technique", "Comptable fournisseurs"],
            "public": ["Directeur des services techniques", "Responsable des bâtiments",
                       "Secrétaire de mairie", "Adjoint aux travaux"],
            "shop": ["Gérant", "Directrice", "Responsable d'exploitation"],
        }
        counts = {"artisan": (1, 2), "major": (2, 3), "public": (1, 3), "shop": (1, 2)}
        for account in self.accounts:
            if account["cat"] == "person":
                continue
            for _i in range(rng.randint(*counts[account["cat"]])):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                ref += 1
                _create("contacts", {
                    "account": account["id"], "first_name": first, "last_name": last,
                    "email": f"{_slug(first)}.{_slug(last)}@{account['domain']}",
                    "phone": _phone(rng, rng.choice(["06", "07"])),
                    "job_title": rng.choice(titles[account["cat"]]),
                    "external_ref": f"CON-{ref:06d}",
                })

    def deal_title(self, account: dict[str, Any], programme: str | None) -> str:
        cat, rng = account["cat"], self.rng
        if programme:
            return f"Occultations – Résidence {programme}"
        return {
            "person": f"Rénovation des volets – maison à {account['city']}",
            "artisan": f"Chantier {rng.choice(LAST_NAMES)} – volets roulants",
            "public": rng.choice(["Brise-soleil – groupe scolaire", "Stores des salles de classe",
                                  "Remplacement des volets – médiathèque"]),
            "shop": rng.choice(["Store banne terrasse", "Pergola bioclimatique terrasse",
                                "Stores zip véranda"]),
        }[cat]

    def deals_and_quotes(self) -> list[dict[str, Any]]:
        rng, quotes = self.rng, []
        stages = (["prospect"] * 6 + ["qualified"] * 7 + ["proposal"] * 9 + ["negotiation"] * 6
                  + ["won"] * 8 + ["lost"] * 4)
        weighted = [a for a in self.accounts for _w in range({"major": 4, "public": 3}.get(
            a["cat"], 1))]
        for index, stage in enumerate(stages):
            account = rng.choice(weighted)
            programme = (f"{rng.choice(PROGRAMMES)} ({rng.randint(12, 90)} logements)"
                         if account["cat"] == "major" else None)
            lines = self.lines(account["cat"])
            closed = stage in ("won", "lost")
            close_on = self.ago(10, 300) if closed else self.today + timedelta(rng.randint(7, 150))
            deal = _create("deals", {
                "title": self.deal_title(account, programme), "account": account["id"],
                "stage": stage, "amount": self.excl(lines), "expected_close_on": close_on,
                "external_ref": f"AFF-{index + 1:05d}",
                "custom": {"programme_immobilier": programme} if programme else {},
            })
            if stage in ("proposal", "negotiation", "won", "lost"):
                issued = (close_on - timedelta(rng.randint(5, 40)) if closed
                          else self.ago(0, 25))
                status = {"won": "accepted", "lost": "refused"}.get(stage, "sent")
                quotes.append({"account": account["id"], "deal": deal.id, "issued_on": issued,
                               "status": status, "lines": lines, "_account": account})
        subscriber = self.accounts[0]
        quotes.append({"account": subscriber["id"], "issued_on": self.ago(3, 8), "status": "sent",
                       "lines": self.lines("person"), "_account": subscriber})
        quotes.append({"account": subscriber["id"], "issued_on": self.ago(110, 130),
                       "status": "accepted", "lines": self.lines("person"),
                       "_account": subscriber})
        while len(quotes) < 120:
            account = rng.choice(self.accounts)
            recent = len(quotes) % 8 == 0
            age = rng.randint(0, 30) if recent else rng.randint(31, SPAN_DAYS)
            if age <= 30:
                status = "sent" if rng.random() < 0.75 else "draft"
            else:
                status = rng.choices(["accepted", "refused", "expired"], [62, 18, 20])[0]
            quotes.append({"account": account["id"], "issued_on": self.today - timedelta(age),
                           "status": status, "lines": self.lines(account["cat"]),
                           "_account": account})
        for spec in _number(quotes, "issued_on", "DV{year}-{n:04d}", "DEV-{year}-{n:04d}"):
            spec["valid_until"] = spec["issued_on"] + timedelta(days=30)
            spec["_id"] = _create("quotes", _public(spec)).id
        return quotes

    def orders(self, quotes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng, orders = self.rng, []
        for quote in quotes:
            if quote["status"] == "accepted":
                ordered = min(self.today, quote["issued_on"] + timedelta(rng.randint(3, 25)))
                orders.append({"account": quote["account"], "quote": quote["_id"],
                               "ordered_on": ordered, "lines": quote["lines"],
                               "_account": quote["_account"]})
        direct = [a for a in self.accounts if a["cat"] in ("artisan", "shop", "person")]
        while len(orders) < 100:
            account = rng.choice(direct + [a for a in direct if a["cat"] == "artisan"])
            age = rng.randint(0, 30) if len(orders) % 6 == 0 else rng.randint(0, SPAN_DAYS)
            orders.append({"account": account["id"], "ordered_on": self.today - timedelta(age),
                           "lines": self.lines(account["cat"]), "_account": account})
        for spec in _number(orders, "ordered_on", "CMD{year}-{n:04d}", "CDE-{year}-{n:04d}"):
            age = (self.today - spec["ordered_on"]).days
            if age <= 14:
                spec["status"] = "confirmed"
            elif age <= 35:
                spec["status"] = "in_progress"
            else:
                spec["status"] = "cancelled" if "quote" not in spec and rng.random() < 0.12 \
                    else "delivered"
            spec["_id"] = _create("orders", _public(spec)).id
        return orders

    def deliveries(self, orders: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        rng, deliveries = self.rng, []
        for order in orders:
            status, ordered = order["status"], order["ordered_on"]
            carrier = rng.choice(CARRIERS)
            spec = {"account": order["account"], "order": order["_id"], "carrier": carrier,
                    "tracking_number": None if carrier.startswith("Livraison") else
                    f"{carrier[:2].upper()}{rng.randint(10**9, 10**10 - 1)}", "_order": order}
            if status == "cancelled" or (status == "confirmed" and rng.random() < 0.7):
                continue
            if status == "confirmed":
                spec.update(status="planned", expected_on=ordered + timedelta(days=25))
            elif status == "in_progress":
                if (self.today - ordered).days >= 20:  # made, now on the road
                    shipped = self.today - timedelta(rng.randint(0, 2))
                    spec.update(status="shipped", shipped_on=shipped,
                                expected_on=shipped + timedelta(rng.randint(2, 4)))
                else:
                    spec.update(status="planned", expected_on=ordered + timedelta(days=25))
            else:
                shipped = ordered + timedelta(rng.randint(18, 30))
                arrived = shipped + timedelta(rng.randint(1, 3))
                returned = rng.random() < 0.03
                spec.update(status="returned" if returned else "delivered", shipped_on=shipped,
                            expected_on=shipped + timedelta(days=2),
                            delivered_on=None if returned else arrived)
            spec["_day"] = spec.get("shipped_on") or spec["expected_on"]
            deliveries.append(spec)
        for spec in _number(deliveries, "_day", "BL{year}-{n:04d}", "LIV-{year}-{n:04d}"):
            _create("deliveries", _public(spec))
        return {spec["order"]: spec for spec in deliveries}

    def contracts(self) -> list[dict[str, Any]]:
        rng, contracts = self.rng, []
        titles = {"person": ("Abonnement entretien & garantie motorisation", (9.9, 24.9)),
                  "shop": ("Contrat d'entretien annuel – stores de terrasse", (29, 79)),
                  "public": ("Maintenance des brise-soleil et stores", (120, 450)),
                  "major": ("Maintenance du parc de volets roulants", (180, 900)),
                  "artisan": ("Contrat de pose partenaire", (15, 45))}
        statuses = ["active"] * 41 + ["pending_signature"] * 4 + ["draft"] * 3 + ["terminated"] * 12
        pool = [a for a in self.accounts for _w in range(1 if a["cat"] == "artisan" else 3)]
        for index, status in enumerate(statuses):
            account = self.accounts[0] if index == 0 else rng.choice(pool)
            title, (low, high) = titles[account["cat"]]
            spec = {"account": account["id"], "title": title, "status": status,
                    "recurring_amount": Decimal(str(rng.uniform(low, high))).quantize(CENT),
                    "_account": account}
            if status == "active":
                starts = self.ago(150, 250) if index == 0 else self.ago(30, 1000)
                ends = _add_months(starts, 36) if rng.random() < 0.5 else None
                spec.update(starts_on=starts, signed_on=starts - timedelta(rng.randint(3, 20)),
                            ends_on=ends if ends and ends > self.today else None)
            elif status == "terminated":
                starts = self.ago(500, 1100)
                spec.update(starts_on=starts, signed_on=starts - timedelta(rng.randint(3, 20)),
                            ends_on=self.ago(10, 300))
            else:
                spec["starts_on"] = self.today + timedelta(rng.randint(5, 60))
            contracts.append(spec)
        for spec in _number(contracts, "starts_on", "CT-{n:04d}", "CTR-{n:04d}",
                            yearly=False):
            _create("contracts", _public(spec))
        return contracts

    def invoices(self, orders: list[dict], deliveries: dict[int, dict], contracts: list[dict]) \
            -> None:
        rng, invoices = self.rng, []
        for order in orders:
            delivery = deliveries.get(order["_id"])
            total, lines = self.excl(order["lines"]), list(order["lines"])
            base = {"account": order["account"], "order": order["_id"],
                    "_account": order["_account"]}
            if order["status"] != "cancelled" and total > 5000:
                deposit = (total * Decimal("0.30")).quantize(CENT)
                tax = lines[0]["tax_rate"]
                invoices.append({**base, "issued_on": order["ordered_on"], "lines": [
                    {"sku": "ACOMPTE", "label": f"Acompte 30 % – commande {order['number']}",
                     "quantity": Decimal(1), "unit_price": deposit, "tax_rate": tax}]})
                lines.append({"sku": "ACOMPTE", "label": "Déduction de l'acompte facturé",
                              "quantity": Decimal(1), "unit_price": -deposit, "tax_rate": tax})
            if delivery and delivery.get("delivered_on"):
                invoices.append({**base, "issued_on": delivery["delivered_on"], "lines": lines})
        for contract in contracts:
            if contract["status"] not in ("active", "terminated"):
                continue
            account = contract["_account"]
            step = 3 if account["cat"] in ("major", "public", "person") else 12
            day = contract["starts_on"]
            while day <= min(self.today, contract.get("ends_on") or self.today):
                if (self.today - day).days <= SPAN_DAYS:
                    tax = Decimal("10.00") if account["cat"] == "person" else Decimal("20.00")
                    invoices.append({"account": account["id"], "issued_on": day, "lines": [{
                        "sku": "ENTRETIEN", "quantity": Decimal(step), "tax_rate": tax,
                        "label": f"{contract['title']} ({contract['number']}) – "
                                 f"{step} mois à partir du {day:%d/%m/%Y}",
                        "unit_price": contract["recurring_amount"]}], "_account": account})
                day = _add_months(day, step)
        while len(invoices) < 300:
            account = rng.choice(self.accounts)
            tax = Decimal("10.00") if account["cat"] == "person" else Decimal("20.00")
            lines = [{"sku": sku, "label": CATALOG[sku][0], "quantity": Decimal(qty),
                      "unit_price": Decimal(CATALOG[sku][1]), "tax_rate": tax}
                     for sku, qty in (("DEP", 1), ("MO-H", rng.randint(1, 3)),
                                      (rng.choice(["PCE-MOT", "PCE-TOILE", "TEL-5C"]), 1))]
            invoices.append({"account": account["id"], "issued_on": self.ago(0, SPAN_DAYS),
                             "lines": lines[:rng.randint(2, 3)], "_account": account})
        for spec in _number(invoices, "issued_on", "F{year}-{n:05d}", "FAC-{year}-{n:05d}"):
            self.create_invoice(spec)

    def create_invoice(self, spec: dict[str, Any]) -> None:
        rng, account = self.rng, spec["_account"]
        issued = spec["issued_on"]
        terms = {"person": 15, "major": 45}.get(account["cat"], 30)
        spec["due_on"] = issued + timedelta(days=terms)
        late = (self.today - spec["due_on"]).days
        if (self.today - issued).days <= 5 and rng.random() < 0.25:
            spec["status"] = "draft"
        elif late <= 0:
            spec["status"] = "paid" if rng.random() < 0.15 else "issued"
        elif rng.random() < (0.3 if late <= 120 else 0.03):
            spec["status"] = "issued"  # overdue: the dashboard shows it
        else:
            spec["status"] = "cancelled" if rng.random() < 0.02 else "paid"
        custom: dict[str, Any] = {}
        if rng.random() < 0.8:
            custom["date_facturation"] = issued
        if account["cat"] == "major":
            custom["promoteur"] = account["name"]
        elif account["cat"] == "artisan" and rng.random() < 0.35:
            custom["promoteur"] = rng.choice(MAJOR_NAMES)
        invoice = _create("invoices", {**_public(spec), "custom": custom})
        if spec["status"] == "paid":
            update_record(invoice, {"amount_paid": invoice.total})
        elif spec["status"] == "issued" and late > 0 and rng.random() < 0.2:
            update_record(invoice, {"amount_paid": (invoice.total / 2).quantize(CENT)})
