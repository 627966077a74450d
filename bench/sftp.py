"""The SFTP inbox benchmark: a 200 MB CSV sent over SFTP, and the time from its completed
upload to the start of its import run.

`python -m bench --suite sftp` (or `all`). For each backend, in a fresh database
(relais-bench-sftp.sqlite, relais_bench_sftp): the server (importers/sftp) runs in this
process on a free loopback port, as `flask sftp serve` does, with the embedded job runner;

- **baseline**: `shutil.copyfile` of the same file on the same disk, in the same run (MB/s);
- **upload**: Debian's OpenSSH `sftp` in batch mode (`put FILE x.csv.part`), key login, timed
  from the command's start to its end (the SSH handshake, about 0.1 s, included), and the
  same with paramiko's client (`putfo`) when `--sftp-paramiko` is given; MB/s and the ratio
  to the baseline;
- **to run start**: a paramiko client sends the rename (`x.csv.part` → `x.csv`); the time
  from just before it to the run's `started_at` (both this machine's clock). Measured on the
  200 MB file, then on `--sftp-small` small files (median and max). Target: under 1 s.

The 200 MB file has 100,000 customer rows padded by a long column the profile ignores, so
that its import (waited for, and reported) stays short.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import Backend, reset

TARGET_START_SECONDS = 1.0
MB = 1024 * 1024
ROWS = 100_000
PROFILE = {
    "name": "clients-sftp",
    "entity": "accounts",
    "mode": "upsert",
    "columns": {"Code": "external_ref", "Nom": "name", "Ville": "city"},
    "key": "external_ref",
}


def write_file(path: Path, size_mb: int) -> int:
    """A CSV of ROWS customers, each row padded to reach `size_mb` MB in all."""
    pad = max(size_mb * MB // ROWS - 40, 1)
    filler = ("x" * pad).encode()
    with path.open("wb") as out:
        out.write(b"Code;Nom;Ville;Notes\r\n")
        for n in range(ROWS):
            out.write(b"C%07d;Client %d;Lyon;" % (n, n) + filler + b"\r\n")
    return path.stat().st_size


def run_suite(
    backends: list[Backend], size_mb: int, small: int, with_paramiko: bool
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="relais-bench-sftp-"))
    try:
        source = work / "clients.csv"
        size = write_file(source, size_mb)
        print(f"\nsftp: {size / MB:.0f} MB file, {ROWS:,} rows", flush=True)
        result: dict[str, Any] = {
            "file_mb": round(size / MB, 1),
            "rows": ROWS,
            "target_start_s": TARGET_START_SECONDS,
            "backends": {},
        }
        for backend in backends:
            if backend.skip_reason:
                print(f"\n{backend.name}: skipped. {backend.skip_reason}")
                result["backends"][backend.name] = {
                    "status": "skipped",
                    "reason": backend.skip_reason,
                }
                continue
            result["backends"][backend.name] = _measure(backend, work, source, small, with_paramiko)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def all_met(part: dict[str, Any]) -> bool:
    return all(b.get("meets_target", True) for b in part["backends"].values())


def _measure(
    backend: Backend, work: Path, source: Path, small: int, with_paramiko: bool
) -> dict[str, Any]:
    from bench.imports import make_app
    from importers.sftp.server import SFTPService

    reset(backend)
    app = make_app(backend.url)
    storage = work / f"feeds-{backend.name}"
    app.config.update(
        FEED_STORAGE_DIR=str(storage),
        SFTP_HOST_KEY=str(work / "host_key"),
        FILES_DIR=str(work / f"files-{backend.name}"),
        JOBS_SCHEDULER=False,
        IMPORT_WATCH=False,
    )
    key_path, public = _client_key(work)
    with app.app_context():
        from bench.generate import upgrade_schema

        upgrade_schema()
        tenant_id, account_id = _tenant(public)
    service = SFTPService(app, "127.0.0.1", 0)
    service.bind()
    serving = threading.Thread(target=service.serve_forever, daemon=True)
    serving.start()
    try:
        size = source.stat().st_size
        copy_s = _timed(lambda: shutil.copyfile(source, work / "copy.csv"))
        (work / "copy.csv").unlink()
        openssh_s = _openssh_put(service.port, key_path, source, "clients.csv.part")
        result: dict[str, Any] = {
            "status": "measured",
            "database": backend.display_url,
            "local_copy_mb_s": round(size / MB / copy_s, 1),
            "openssh_put_mb_s": round(size / MB / openssh_s, 1),
            "openssh_x_local_copy": round(copy_s / openssh_s, 3),
        }
        client = _paramiko_client(service.port, key_path)
        if with_paramiko:
            client.remove("clients.csv.part")
            with source.open("rb") as stream:
                paramiko_s = _timed(lambda: client.putfo(stream, "clients.csv.part", confirm=False))
            result["paramiko_put_mb_s"] = round(size / MB / paramiko_s, 1)
        with app.app_context():
            big_start, big_total = _to_run_start(
                app, client, tenant_id, "clients.csv.part", "clients.csv", wait_end=True
            )
            result.update(big_to_start_s=round(big_start, 3), big_import_s=round(big_total, 1))
            starts = []
            for n in range(small):
                name = f"small-{n}.csv"
                client.putfo(_small_file(n), f"{name}.part", confirm=False)
                starts.append(
                    _to_run_start(app, client, tenant_id, f"{name}.part", name, wait_end=True)[0]
                )
        client.get_channel().get_transport().close()
        if starts:
            result.update(
                small_to_start_median_s=round(statistics.median(starts), 3),
                small_to_start_max_s=round(max(starts), 3),
            )
        worst = max([big_start, *starts])
        result["meets_target"] = worst < TARGET_START_SECONDS
        _print(backend, result)
        return result
    finally:
        service.stop()
        serving.join(5)
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _client_key(work: Path) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path = work / "id_ed25519"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return path, public


def _tenant(public_key: str) -> tuple[int, int]:
    from app.extensions import db
    from app.services.feed_accounts import create_account
    from app.services.feeds import create_profile
    from app.services.tenants import create_tenant
    from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context

    with all_tenants_unsafe("bench"):
        tenant = create_tenant("bench-sftp", "SFTP bench")
        db.session.commit()
    with tenant_context(tenant.id, SYSTEM):
        create_profile(dict(PROFILE))
        account = create_account(
            {
                "name": "erp",
                "public_keys": [public_key],
                "routes": [{"pattern": "*.csv", "profile": PROFILE["name"]}],
                "quota_bytes": 4 * 1024 * MB,
            }
        )
        db.session.commit()
        return tenant.id, account.id


def _openssh_put(port: int, key: Path, source: Path, target: str) -> float:
    command = [
        "sftp",
        "-b",
        "-",
        "-P",
        str(port),
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "bench-sftp.erp@127.0.0.1",
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, input=f"put {source} {target}\n", text=True, capture_output=True, timeout=1800
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sftp failed: {done.stderr.strip()}")
    return elapsed


def _paramiko_client(port: int, key: Path) -> Any:
    import paramiko

    transport = paramiko.Transport(("127.0.0.1", port))
    transport.connect(username="bench-sftp.erp", pkey=paramiko.PKey.from_path(key))
    return paramiko.SFTPClient.from_transport(transport)


def _small_file(n: int) -> Any:
    import io

    return io.BytesIO(f"Code;Nom;Ville\r\nS{n:05d};Petit {n};Nantes\r\n".encode())


def _to_run_start(
    app, client, tenant_id: int, part: str, final: str, *, wait_end: bool
) -> tuple[float, float]:
    """Seconds from the rename's sending to its run's start, and to its end."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import ImportRun
    from app.tenancy import SYSTEM, tenant_context

    with tenant_context(tenant_id, SYSTEM):
        before = db.session.scalar(select(func.max(ImportRun.id))) or 0
        db.session.rollback()
        sent = datetime.now(UTC)
        client.rename(part, final)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            run = db.session.scalar(select(ImportRun).where(ImportRun.id > before))
            if run is not None and run.started_at is not None and (not wait_end or run.is_finished):
                start = (run.started_at - sent).total_seconds()
                end = ((run.finished_at or datetime.now(UTC)) - sent).total_seconds()
                db.session.rollback()
                if run.status not in ("succeeded", "partial", "running"):
                    raise SystemExit(f"run #{run.id} ended {run.status}: {run.message}")
                return start, end
            db.session.rollback()
            time.sleep(0.005)
    raise SystemExit("no run started within the hour")


def _print(backend: Backend, result: dict[str, Any]) -> None:
    print(f"\n{backend.name}: {result['database']}")
    print(f"  local copy (baseline)      {result['local_copy_mb_s']:>8.1f} MB/s")
    print(
        f"  OpenSSH sftp put           {result['openssh_put_mb_s']:>8.1f} MB/s "
        f"({result['openssh_x_local_copy']:.3f} x local copy)"
    )
    if "paramiko_put_mb_s" in result:
        print(f"  paramiko putfo             {result['paramiko_put_mb_s']:>8.1f} MB/s")
    print(
        f"  200 MB file: rename -> run start {result['big_to_start_s']:.3f} s, "
        f"import done after {result['big_import_s']:.1f} s"
    )
    if "small_to_start_median_s" in result:
        print(
            f"  small files: rename -> run start median "
            f"{result['small_to_start_median_s']:.3f} s, "
            f"max {result['small_to_start_max_s']:.3f} s"
        )
    print(f"  target < {TARGET_START_SECONDS} s: {'met' if result['meets_target'] else 'MISSED'}")
