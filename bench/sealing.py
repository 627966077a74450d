"""`python -m bench.sealing`: N subscription contracts sealed, against pyHanko signing the
same PDFs alone with the same key, in the same run.

First, untimed for the comparison (its own rate is printed): N contracts rendered by
app/documents/subscription.py, each for another subscriber, and written to a scratch folder.
Then, each in a fresh process (its peak memory its own), the contracts read before the clock
starts:
- **Relais**: per contract, `with_audit_trail` (the evidence page appended) then `seal_pdf`
  (PAdES B-B with the platform's seal), as a signature ends; the two steps are timed apart.
- **pyHanko alone**: per contract, the same PDF with its evidence page (made by the parent,
  before the clock) signed by `signers.sign_pdf` with the same key and certificate, loaded
  once, with the same signature metadata.

Target: Relais's sealing at ≥ 0.5× pyHanko's rate; `seal_ratio` compares `seal_pdf` alone.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import RESULTS_DIR

TARGET_RATIO = 0.5
REASON = "Contract signed by {name}"
TEMPLATE = ("Entre {{ creditor.name }} et {{ customer.name }}, {{ customer.address }}.\n\n"
            "{{ customer.name }} souscrit à {{ offer.name }} pour {{ offer.price }} "
            "({{ offer.recurrence }}) à partir du {{ contract.start }}, mandat "
            "{{ mandate.reference }}.\n\nLe badge est remis sous huit jours ; il reste la "
            "propriété de {{ creditor.name }} et lui est rendu à la fin du contrat.")


def _app(folder: str) -> Any:
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench",
                       "IMPORT_WATCH": False, "WEBHOOK_DISPATCH": False,
                       "JOBS_SCHEDULER": False,
                       "ESIGN_CERT_FILE": f"{folder}/seal/cert.pem",
                       "ESIGN_KEY_FILE": f"{folder}/seal/key.pem"})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _evidence(n: int) -> list[tuple[str, str]]:
    return [("Signer", f"Hélène Dupré {n} <helene{n}@example.com>, +33 6 12 34 56 78"),
            ("Consent shown", "J'ai lu le contrat et le mandat SEPA et je les signe."),
            ("Document SHA-256 before signature", f"{n:064x}"),
            ("Consented", "2026-12-05 10:01:02 UTC · IP 203.0.113.7"),
            ("Code sent", "2026-12-05 10:01:05 UTC · email · IP 203.0.113.7"),
            ("Signed", "2026-12-05 10:02:11 UTC · IP 203.0.113.7\nMozilla/5.0 (iPhone)")]


def _prepare(folder: str, count: int) -> float:
    """The contracts and, for pyHanko alone, each with its evidence page; the rendering's
    seconds."""
    from app.documents.subscription import MandateTerms, Subscriber, subscription_contract
    from app.esign import seal_files, with_audit_trail

    app = _app(folder)
    offer = SimpleNamespace(name="Badge télépéage mensuel", price=Decimal("2.50"),
                            currency="EUR", recurrence="monthly", contract_template=TEMPLATE)
    creditor = SimpleNamespace(name="Telepeage Services", street="Rue de la Paix",
                               building_number="12", postal_code="75002", town="Paris",
                               country="FR", creditor_identifier="FR72ZZZ123456")
    tenant = SimpleNamespace(id=0, name="Telepeage Services",
                             legal_name="Telepeage Services SAS",
                             legal_address="12 rue de la Paix\n75002 Paris", siren="732829320",
                             vat_number="FR44732829320", portal_color="#7a1f5c",
                             logo_sha256=None)
    out = Path(folder)
    with app.test_request_context():
        seal_files()
        started = time.perf_counter()
        for n in range(count):
            subscriber = Subscriber(name=f"Hélène Dupré {n}", street="Avenue des Châtaigniers",
                                    building_number=str(n % 90 + 1), postal_code="69003",
                                    town="Lyon", country="FR", email=f"helene{n}@example.com",
                                    phone="+33 6 12 34 56 78")
            terms = MandateTerms(f"M20261205-{n:010d}", "FR7630006000011234567890189",
                                 "AGRIFRPPXXX", date(2026, 12, 5))
            pdf = subscription_contract(offer, subscriber, terms, creditor, tenant,
                                        starts_on=date(2026, 12, 6), language="fr")
            (out / f"contract-{n}.pdf").write_bytes(pdf.content)
        rendered = time.perf_counter() - started
        for n in range(count):
            pdf = (out / f"contract-{n}.pdf").read_bytes()
            (out / f"evidence-{n}.pdf").write_bytes(
                with_audit_trail(pdf, "Audit trail", _evidence(n)))
    return rendered


def _relais(job: dict[str, Any]) -> dict[str, Any]:
    from app.esign import seal_pdf, with_audit_trail

    app = _app(job["folder"])
    folder = Path(job["folder"])
    contracts = [(folder / f"contract-{n}.pdf").read_bytes() for n in range(job["count"])]
    trail = seal = 0.0
    size = 0
    with app.app_context():
        before = _peak_mb()
        for n, pdf in enumerate(contracts):
            started = time.perf_counter()
            pdf = with_audit_trail(pdf, "Audit trail", _evidence(n))
            middle = time.perf_counter()
            sealed = seal_pdf(pdf, reason=REASON.format(name=f"Hélène Dupré {n}"))
            seal += time.perf_counter() - middle
            trail += middle - started
            size += len(sealed)
    return {"seconds": trail + seal, "trail_seconds": trail, "seal_seconds": seal,
            "count": len(contracts), "bytes": size, "peak_mb": _peak_mb(), "start_mb": before}


def _pyhanko(job: dict[str, Any]) -> dict[str, Any]:
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from app.esign import SEAL_FIELD

    folder = Path(job["folder"])
    documents = [(folder / f"evidence-{n}.pdf").read_bytes() for n in range(job["count"])]
    before = _peak_mb()
    started = time.perf_counter()
    signer = signers.SimpleSigner.load(f"{folder}/seal/key.pem", f"{folder}/seal/cert.pem")
    size = 0
    for n, pdf in enumerate(documents):
        metadata = signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256",
            reason=REASON.format(name=f"Hélène Dupré {n}"))
        size += len(signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), metadata,
                                     signer=signer).getvalue())
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "count": len(documents), "bytes": size, "peak_mb": _peak_mb(),
            "start_mb": before}


def _child(job: dict[str, Any]) -> dict[str, Any]:
    return (_relais if job["kind"] == "relais" else _pyhanko)(job)


def _spawn(job: dict[str, Any]) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_child, (job,))


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        rendered = _prepare(folder, count)
        job = {"folder": folder, "count": count}
        ours, theirs = _spawn({**job, "kind": "relais"}), _spawn({**job, "kind": "pyhanko"})
    rate, baseline = count / ours["seconds"], count / theirs["seconds"]
    seal_rate = count / ours["seal_seconds"]
    result = {"count": count, "render_seconds": rendered, "relais": ours, "pyhanko": theirs,
              "relais_per_s": round(rate, 1), "pyhanko_per_s": round(baseline, 1),
              "ratio": round(rate / baseline, 2), "seal_ratio": round(seal_rate / baseline, 2)}
    print(f"{count:,} contracts rendered in {rendered:.1f} s ({count / rendered:,.0f}/s, "
          "not compared)")
    print(f"Relais: evidence page + seal {ours['seconds']:.1f} s ({rate:,.1f}/s; evidence page "
          f"{ours['trail_seconds']:.1f} s, seal_pdf {ours['seal_seconds']:.1f} s), peak "
          f"{ours['peak_mb']:.0f} MB")
    print(f"pyHanko alone: {theirs['seconds']:.1f} s ({baseline:,.1f}/s), peak "
          f"{theirs['peak_mb']:.0f} MB")
    print(f"ratio {rate / baseline:.2f} (seal_pdf alone {seal_rate / baseline:.2f}; "
          f"target ≥ {TARGET_RATIO})")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1000)
    args = parser.parse_args(argv)
    report = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "target_ratio": TARGET_RATIO, **run(args.contracts)}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"bench-sealing-{stamp}.json").write_text(json.dumps(report, indent=2))
    return 0 if report["ratio"] >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
