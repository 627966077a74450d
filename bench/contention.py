"""Do imports slow the pages? The agent's extranet home and an API list, timed over HTTP,
idle and then while a large invoice file sent through the API is imported on a job worker.

Set up as an operator runs Relais (docs/operations.md): `gunicorn wsgi:app` (2 workers, 4
threads, as `make run`) and one `flask worker --queues imports` process, both on
JOBS_BROKER_URL (a Redis database, BENCH_REDIS_URL, default redis://127.0.0.1:6379/13), on a
fresh tenant of 20,000 customers and 20,000 invoices (bench/generate.py) with an agent of the
busiest partner. The data is rebuilt every run (the import adds up to a million invoices).

Both pages are timed in turns by one client, idle and then for as long as the import runs, in
the same run; the import's file is the import benchmark's (bench/invoice_file.py) with
`--contention-rows` rows. Targets: p95 during the import at most 2x idle, and the home under
50 ms p95 idle. The pages are timed idle once more after the import, on the data it left:
during / after separates what the import's work costs the pages from the data's growth.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import RESULTS_DIR
from bench.databases import Backend
from bench.generate import ADMIN_PASSWORD, TENANT_SLUG, Dataset, bench_tenant, prepare
from bench.invoice_file import PROFILE, invoice_file
from bench.measure import AGENT_EMAIL, _ensure_agent, _p95

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATASET = Dataset(partners=200, accounts=20_000, invoices=20_000)
RATIO_TARGET = 2.0
HOME_TARGET_MS = 50.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
FILES_DIR = RESULTS_DIR / "files-contention"
HOME = f"/{TENANT_SLUG}/portal/"
API_LIST = "/api/v1/invoices?limit=50"
FIRST_ROWS = 5_000  # the feed's previous night, imported before timing


def run_backend(app: Any, backend: Backend, rows: int, runs: int) -> dict[str, Any]:
    """Rebuild the tenant, start gunicorn and a worker, time the pages idle then while
    `rows` invoices are imported."""
    print(f"\n{backend.name}: {backend.display_url}", flush=True)
    data = prepare(app, backend, DATASET, regenerate=True)
    secret, agent_records = _set_up(app)
    print(f"  data {data}; the agent sees {agent_records:,} of {DATASET.invoices:,} invoices",
          flush=True)
    path = invoice_file(rows, DATASET.accounts)
    _empty_queues()
    with ExitStack() as stack:
        base = stack.enter_context(_server(backend))
        stack.enter_context(_worker(backend))
        agent, api = _sessions(base, secret)
        _first_import(base, api)
        pages = {"extranet: agent's home": (agent, HOME), "API: invoices list": (api, API_LIST)}
        for _ in range(10):  # warm-up: connections, caches, compiled statements
            for session, url in pages.values():
                _get(session, base + url)
        idle = {name: [] for name in pages}
        for _ in range(runs):
            for name, (session, url) in pages.items():
                idle[name].append(_timed(session, base + url))
        during, run = _during_import(base, api, pages, path)
        # The same pages idle again, on the data as the import left it (up to 50x larger):
        # during / after is what the import's work costs the pages, data size aside.
        after = {name: [] for name in pages}
        for _ in range(runs):
            for name, (session, url) in pages.items():
                after[name].append(_timed(session, base + url))
    result: dict[str, Any] = {"status": "measured", "data": data, "file_rows": rows,
                              "agent_invoices": agent_records, "import": run, "pages": []}
    for name in pages:
        idle_p95, busy_p95 = _p95(idle[name]), _p95(during[name]) if during[name] else None
        ratio = busy_p95 / idle_p95 if busy_p95 is not None else None
        meets = ratio is not None and ratio <= RATIO_TARGET and (
            "home" not in name or idle_p95 < HOME_TARGET_MS)
        after_p95 = _p95(after[name])
        result["pages"].append({
            "name": name, "url": pages[name][1], "idle_p95_ms": round(idle_p95, 1),
            "import_p95_ms": None if busy_p95 is None else round(busy_p95, 1),
            "ratio": None if ratio is None else round(ratio, 2),
            "after_p95_ms": round(after_p95, 1),
            "ratio_to_after": None if busy_p95 is None else round(busy_p95 / after_p95, 2),
            "idle_samples": len(idle[name]), "import_samples": len(during[name]),
            "meets_target": meets})
    result["meets_target"] = run["status"] == "succeeded" and all(
        p["meets_target"] for p in result["pages"])
    print(table(backend.name, result))
    return result


def table(name: str, result: dict[str, Any]) -> str:
    run = result["import"]
    lines = ["", f"{name} — {run['rows_done']:,} rows imported in {run['seconds']:.0f} s "
                 f"({run['rows_per_second']:,.0f} rows/s, {run['status']})",
             f"{'page':<26} {'idle p95':>9} {'import p95':>11} {'ratio':>6} {'samples':>9}  "
             f"target  {'after p95':>9} {'import/after':>12}", "-" * 100]
    for page in result["pages"]:
        busy = page["import_p95_ms"]
        lines.append(f"{page['name']:<26} {page['idle_p95_ms']:>9.1f} "
                     f"{busy if busy is not None else float('nan'):>11.1f} "
                     f"{page['ratio'] or float('nan'):>6.2f} "
                     f"{page['idle_samples']:>4}/{page['import_samples']:<4}  "
                     f"{'ok' if page['meets_target'] else 'MISSED':<6}  "
                     f"{page['after_p95_ms']:>9.1f} "
                     f"{page['ratio_to_after'] or float('nan'):>12.2f}")
    return "\n".join(lines)


def _set_up(app: Any) -> tuple[str, int]:
    """The feed's profile, the agent of the busiest partner, an import token; returns the
    token's secret and how many invoices the agent sees."""
    from app.extensions import db
    from app.models import Invoice
    from app.services.custom_field_defs import create_field
    from app.services.feeds import create_profile
    from app.services.tokens import create_token
    from app.tenancy import SYSTEM, tenant_context

    with app.app_context():
        tenant = bench_tenant()
        with tenant_context(tenant.id, SYSTEM):
            partner_id, count = db.session.execute(
                select(Invoice.partner_id, func.count()).where(Invoice.partner_id.isnot(None))
                .group_by(Invoice.partner_id).order_by(func.count().desc()).limit(1)).one()
            _ensure_agent(partner_id)
            create_field({"entity": "invoices", "key": "promoteur", "label_fr": "Promoteur",
                          "label_en": "Property developer", "type": "text", "position": 1})
            create_profile(PROFILE)
            _token, secret = create_token("bench-contention", "read,import")
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return secret, count


def redis_unreachable() -> str | None:
    """Why the suite cannot run (its job worker needs Redis), or None."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except RedisError as exc:
        return f"Redis unreachable at {REDIS_URL} (BENCH_REDIS_URL): {exc}"
    return None


def _empty_queues() -> None:
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(REDIS_URL)
    for name in ("imports", "webhooks", "default"):
        Queue(name, connection=connection).empty()


def _environment(backend: Backend) -> dict[str, str]:
    FILES_DIR.mkdir(parents=True, exist_ok=True)
    # The timed client asks for the API list faster than an integrator's token may (600 a
    # minute by default): on a fast run it would be answered 429, which measures nothing.
    return {**os.environ, "DATABASE_URL": backend.measured_url, "JOBS_BROKER_URL": REDIS_URL,
            "SECRET_KEY": "relais-bench", "FILES_DIR": str(FILES_DIR), "JOBS_SCHEDULER": "0",
            "WEBHOOK_DISPATCH": "0", "FLASK_APP": "wsgi.py",
            "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "100000 per minute")}


@contextmanager
def _process(command: list[str], backend: Backend, log_name: str):
    log = (RESULTS_DIR / log_name).open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=_environment(backend), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextmanager
def _server(backend: Backend):
    """gunicorn as `make run` starts it, on a free port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
               "--threads", "4", "--timeout", "300", "wsgi:app"]
    with _process(command, backend, f"contention-gunicorn-{backend.name}.log") as process:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, process)
        yield base


@contextmanager
def _worker(backend: Backend):
    command = [str(BIN / "flask"), "worker", "--queues", "imports"]
    with _process(command, backend, f"contention-worker-{backend.name}.log") as process:
        yield process


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn stopped at start-up: see bench/results/contention-*.log")
        try:
            if requests.get(base + "/healthz", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still loading the app
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def _sessions(base: str, secret: str) -> tuple[Any, Any]:
    """The agent logged in through the login form (CSRF token and all), and an API client."""
    import requests

    agent = requests.Session()
    page = agent.get(f"{base}/{TENANT_SLUG}/login", timeout=30).text
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    response = agent.post(f"{base}/{TENANT_SLUG}/login", timeout=30, allow_redirects=False,
                          data={"email": AGENT_EMAIL, "password": ADMIN_PASSWORD,
                                "csrf_token": found.group(1) if found else ""})
    if response.status_code != 302:
        raise RuntimeError(f"agent login failed: HTTP {response.status_code}")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    return agent, api


def _get(session: Any, url: str) -> None:
    response = session.get(url, timeout=120)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}")


def _timed(session: Any, url: str) -> float:
    started = time.perf_counter()
    _get(session, url)
    return (time.perf_counter() - started) * 1000


def _send(base: str, api: Any, path: Path) -> tuple[str, dict[str, Any]]:
    """POST the file to /api/v1/imports; the run's URL and first state."""
    with path.open("rb") as stream:
        response = api.post(f"{base}/api/v1/imports", timeout=600,
                            files={"file": (path.name, stream, "text/csv")},
                            data={"profile": PROFILE["name"]})
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/v1/imports: HTTP {response.status_code} {response.text}")
    return f"{base}/api/v1/imports/{response.json()['id']}", response.json()


def _first_import(base: str, api: Any) -> None:
    """Last night's small file, imported before timing: the feed has a finished run, and the
    agent's home says as of when its data is."""
    run_url, run = _send(base, api, invoice_file(FIRST_ROWS, DATASET.accounts))
    deadline = time.monotonic() + 300
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        run = api.get(run_url, timeout=60).json()
    if run["status"] not in ("succeeded", "partial"):
        raise RuntimeError(f"the first import ended {run['status']}: {run.get('message')}")


def _during_import(base: str, api: Any, pages: dict[str, tuple[Any, str]],
                   path: Path) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Send the file, then time the pages until its run ends; only the samples taken while
    the worker was importing (status `running`) count."""
    print(f"  importing {path.name} through POST /api/v1/imports ...", flush=True)
    run_url, run = _send(base, api, path)
    during: dict[str, list[float]] = {name: [] for name in pages}
    status, checked, started = "queued", 0.0, None
    while True:
        if time.monotonic() - checked >= 1.0:
            run, checked = api.get(run_url, timeout=60).json(), time.monotonic()
            status = run["status"]
            if status == "running" and started is None:
                started = time.monotonic()
            if status not in ("queued", "running"):
                break
        for name, (session, url) in pages.items():
            took = _timed(session, base + url)
            if status == "running":
                during[name].append(took)
        if status == "queued":
            time.sleep(0.05)
    seconds = time.monotonic() - (started or time.monotonic())
    done = run["progress"]["rows_done"]
    return during, {"status": status, "rows_done": done, "seconds": round(seconds, 1),
                    "rows_per_second": round(done / seconds) if seconds else 0,
                    "counts": run["counts"]}
