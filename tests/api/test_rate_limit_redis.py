"""The per-token rate limit counted in Redis: gunicorn workers (processes) share one count.

Two separate processes serve the same token with RATELIMIT_STORAGE_URI pointing at the
machine's Redis (127.0.0.1:6379, or REDIS_TEST_URL); together they refuse the call past the
limit, as one process does with memory:// storage.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import json, sys
from app import create_app
url, storage, prefix, secret, calls = sys.argv[1:6]
app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                  "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix,
                  "API_RATE_LIMIT": "3 per minute", "WEBHOOK_DISPATCH": False,
                  "IMPORT_WATCH": False, "JOBS_SCHEDULER": False})
client = app.test_client()
answers = [client.get("/api/v1/imports", headers={"Authorization": f"Bearer {secret}"})
           for _ in range(int(calls))]
print(json.dumps([[r.status_code, r.headers.get("X-RateLimit-Remaining"),
                   r.headers.get("Retry-After")] for r in answers]))
"""


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL} (.ci/run starts the machine's)")
    yield client
    client.close()


def _worker(app, prefix: str, secret: str, calls: int) -> list[list]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL,
         prefix, secret, str(calls)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_processes_share_a_tokens_count_in_redis(app, make_token, redis_client):
    prefix = f"relais-test-{uuid.uuid4().hex}"
    _token, secret = make_token()
    try:
        first = _worker(app, prefix, secret, 2)
        second = _worker(app, prefix, secret, 2)
        assert [answer[0] for answer in first] == [200, 200]
        assert [answer[1] for answer in first] == ["2", "1"]
        assert second[0][:2] == [200, "0"]
        assert second[1][0] == 429  # the fourth call of the token, in another process
        assert int(second[1][2]) > 0
        assert redis_client.keys(f"*{prefix}*")  # the count lives in Redis
    finally:
        for key in redis_client.scan_iter(f"*{prefix}*"):
            redis_client.delete(key)
