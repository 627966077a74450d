"""`python -m bench.archives`: a ZIP archive of 1,000 CVs through a contacts profile.

The archive holds a metadata CSV (cp1252, `;`) of 1,000 rows (reference, customer, names,
two custom fields: position sought, availability) and 1,000 Word files made by python-docx
(paragraphs, a table of skills, a page header; 37 KB each, as Word writes a short CV). It
goes through the whole run (importers/runs.py, as the CLI runs it): the archive checked, each
document unpacked, its text read, the contact created and the file attached with its search
text. The baseline, in the same run and on the same database, is the same 1,000 rows sent as a
plain CSV (no documents column) through a profile of the same columns: the difference is
what the documents cost. Target: at least 100 documents per second. The CPU seconds of each
run are given too (this process's, and on PostgreSQL running on this machine its server
processes'), with documents per CPU second: on a loaded machine the clock counts the waiting.

Databases: a SQLite file (bench/results/relais-bench-archives.sqlite) and PostgreSQL
(BENCH_DATABASE_URL with `_archives` appended to its name, by default relais_bench_archives),
both rebuilt on each run. Prints a table and writes bench/results/bench-archives-<time>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import RESULTS_DIR
from bench.databases import Backend, backends, reset
from bench.exports import CpuTime, watch_backends

TARGET_DOCS_PER_S = 100
SKILLS = (
    "Python",
    "PostgreSQL",
    "Comptabilité",
    "Soudure TIG",
    "Gestion de projet",
    "Droit social",
    "Paie",
    "Logistique",
    "Anglais courant",
    "AutoCAD",
    "SAP",
    "Excel",
)
POSTS = ("Développeuse", "Comptable", "Soudeur", "Juriste", "Chef de projet", "Magasinier")
HEADER = "Réf;Client;Nom;Prénom;Poste recherché;Disponibilité;Fichier CV"
COLUMNS = {
    "Réf": "external_ref",
    "Client": "account.external_ref",
    "Nom": "last_name",
    "Prénom": "first_name",
    "Poste recherché": "custom.poste",
    "Disponibilité": "custom.dispo",
}


def _cv(rng: random.Random, n: int) -> bytes:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = f"Curriculum vitae n° {n}"
    document.add_heading(f"Candidat {n}", level=1)
    for _ in range(8):
        document.add_paragraph(" ".join(rng.choice(SKILLS) for _ in range(30)))
    table = document.add_table(rows=6, cols=2)
    for row in table.rows:
        row.cells[0].text, row.cells[1].text = rng.choice(SKILLS), str(rng.randint(1, 20))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def build(folder: Path, count: int) -> tuple[Path, Path]:
    """The archive of `count` CVs and the same metadata as a plain CSV."""
    rng = random.Random(20261205)
    rows = [HEADER]
    for n in range(count):
        rows.append(
            f"CV{n:05d};C1;Nom{n};Prénom{n};{rng.choice(POSTS)};"
            f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}/2027;cv/cv-{n:05d}.docx"
        )
    metadata = ("\r\n".join(rows) + "\r\n").encode("cp1252")
    template = _cv(rng, 0)
    archive = folder / f"cvs-{count}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("cvs.csv", metadata)
        for n in range(count):
            # Every tenth CV written anew, the others the template with their own number: the
            # texts differ, and building the archive stays quick.
            out.writestr(f"cv/cv-{n:05d}.docx", _cv(rng, n) if n % 10 == 0 else template)
    plain = folder / f"cvs-{count}.csv"
    plain.write_bytes(metadata)
    return archive, plain


def _make_app(url: str, files: Path) -> Any:
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "relais-bench",
            "IMPORT_WATCH": False,
            "WEBHOOK_DISPATCH": False,
            "JOBS_SCHEDULER": False,
            "FEED_ALERTS": False,
            "FILES_DIR": str(files),
        }
    )


def _timed_run(
    profile: Any, path: Path, tenant_id: int, servers: dict[int, None] | None
) -> tuple[float, Any, float]:
    """The run's seconds, the run, and the CPU seconds it took (this process's, plus the
    PostgreSQL server processes' when the server runs on this machine)."""
    from app.extensions import db
    from app.models import ImportRun
    from app.services import feeds
    from importers import runs

    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="cli", force=True)
    db.session.commit()
    with CpuTime(servers) as cpu:
        started = time.perf_counter()
        runs.run_import(run.id, tenant_id, max_wait=0)
        elapsed = time.perf_counter() - started
    db.session.expire_all()
    return elapsed, db.session.get(ImportRun, run.id), cpu.total


def measure(backend: Backend, archive: Path, plain: Path, count: int) -> dict[str, Any]:
    from app.entities import ENTITIES
    from app.extensions import db
    from app.services import feeds
    from app.services.custom_field_defs import create_field
    from app.services.records import create_record
    from app.services.tenants import create_tenant_with_admin
    from app.tenancy import SYSTEM, tenant_context
    from bench.generate import upgrade_schema

    reset(backend)
    with tempfile.TemporaryDirectory() as files:
        app = _make_app(backend.url, Path(files))
        with app.app_context():
            upgrade_schema()
            servers = watch_backends()
            tenant = create_tenant_with_admin(
                "bench-cv", "Bench CV", "admin@bench.example", "bench-password-1"
            )
            db.session.commit()
            with tenant_context(tenant.id, SYSTEM):
                create_record(ENTITIES["accounts"], {"external_ref": "C1", "name": "Cabinet"})
                for key, kind in (("poste", "text"), ("dispo", "date")):
                    create_field(
                        {
                            "entity": "contacts",
                            "key": key,
                            "type": kind,
                            "label_fr": key,
                            "label_en": key,
                        }
                    )
                with_documents = feeds.create_profile(
                    {
                        "name": "cv",
                        "entity": "contacts",
                        "columns": COLUMNS,
                        "documents": {"column": "Fichier CV"},
                    }
                )
                baseline = feeds.create_profile(
                    {"name": "cv-csv", "entity": "contacts", "columns": COLUMNS}
                )
                db.session.commit()
                csv_s, csv_run, csv_cpu = _timed_run(baseline, plain, tenant.id, servers)
                # The baseline's contacts deleted: the archive creates them again.
                db.session.execute(db.text("DELETE FROM contacts"))
                db.session.commit()
                zip_s, zip_run, zip_cpu = _timed_run(with_documents, archive, tenant.id, servers)
                attached = db.session.scalar(db.text("SELECT count(*) FROM attachments"))
                statuses = zip_run.status, csv_run.status
            db.session.remove()
            db.engine.dispose()
    docs_per_s = attached / zip_s if zip_s else 0.0
    return {
        "backend": backend.name,
        "documents": count,
        "attached": attached,
        "zip_status": statuses[0],
        "csv_status": statuses[1],
        "zip_seconds": round(zip_s, 3),
        "csv_seconds": round(csv_s, 3),
        "documents_per_s": round(docs_per_s, 1),
        "ratio_to_csv": round(zip_s / csv_s, 1) if csv_s else None,
        # CPU seconds: what the run cost, whatever else the machine was doing.
        "zip_cpu_s": round(zip_cpu, 2),
        "csv_cpu_s": round(csv_cpu, 2),
        "documents_per_cpu_s": round(attached / zip_cpu, 1) if zip_cpu else None,
        "meets_target": docs_per_s >= TARGET_DOCS_PER_S and attached == count,
    }


def run_suite(backend: str = "all", documents: int = 1000) -> list[dict[str, Any]]:
    """Measure on each of `backend` (sqlite, postgresql or all); print a table."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        archive, plain = build(Path(folder), documents)
        size = archive.stat().st_size
        for found in backends(backend, suffix="-archives"):
            if found.skip_reason:
                print(f"{found.name}: skipped. {found.skip_reason}")
                continue
            results.append(measure(found, archive, plain, documents) | {"archive_bytes": size})
    print(
        f"\nZIP of {documents} CVs ({size / 1e6:.1f} MB); target ≥ {TARGET_DOCS_PER_S} documents/s"
    )
    print(
        f"{'backend':<11}{'zip s':>8}{'csv s':>8}{'docs/s':>9}{'zip/csv':>9}"
        f"{'zip CPU s':>10}{'docs/CPU s':>11}  status"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['zip_seconds']:>8}{r['csv_seconds']:>8}"
            f"{r['documents_per_s']:>9}{r['ratio_to_csv']:>9}"
            f"{r['zip_cpu_s']:>10}{r['documents_per_cpu_s']:>11}  {r['zip_status']}"
            f"{'' if r['meets_target'] else '  (target missed)'}"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archives")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args(argv)
    results = run_suite(args.backend, args.documents)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"bench-archives-{stamp}.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["meets_target"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
