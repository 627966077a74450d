"""The signature, the address checks against request forgery, and one POST's outcomes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import socket

import pytest

from app.webhooks import transport
from app.webhooks.transport import (
    UnsafeURL,
    check_url,
    legacy_signature,
    post,
    signature,
    signing_key,
)

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_the_signature_is_the_standard_webhooks_one():
    # Standard Webhooks: base64 HMAC-SHA256, keyed with the secret's decoded bytes, of
    # "<msg_id>.<timestamp>.<body>".
    mac = hmac.new(KEY, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    assert signature([SECRET], "msg_1", 1_700_000_000, b'{"a":1}') == \
        "v1," + base64.b64encode(mac).decode()


def test_secrets_not_in_the_standard_encoding_are_keys_as_text():
    assert signing_key(SECRET) == KEY
    for former in ("whsec_" + "A-_b" * 10 + "xyz", "le-secret-de-notre-erp",
                   "whsec_" + base64.b64encode(b"short").decode()):
        assert signing_key(former) == former.encode()


def test_the_former_signature_is_unchanged():
    header = legacy_signature("whsec_test", 1_700_000_000, b'{"a":1}')
    expected = hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize("url,kind", [
    ("ftp://example.com/x", "scheme"), ("javascript:alert(1)", "scheme"),
    ("https://u:p@example.com/", "credentials"), ("https:///nohost", "invalid"),
    ("https://example.com:99999/", "invalid"), ("http://127.0.0.1/", "private"),
    ("http://0.0.0.0/", "private"), ("http://192.168.1.10/", "private"),
    ("http://100.64.0.1/", "private"), ("http://169.254.169.254/", "private"),
    ("http://[fd00::1]/", "private"), ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://LOCALHOST./", "private"), ("http://x.localhost/", "private"),
    ("https://example.com/" + "a" * 2000, "invalid"),
])
def test_urls_webhooks_may_not_call(url, kind):
    with pytest.raises(UnsafeURL) as caught:
        check_url(url, allow_private=False, resolve_host=False)
    assert caught.value.kind == kind


def test_a_host_name_is_judged_by_every_address_it_resolves_to(monkeypatch):
    answers = {"public.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.5"]}

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror("unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)
    assert check_url("https://public.example/hook", allow_private=False).host == "public.example"
    with pytest.raises(UnsafeURL) as caught:
        check_url("https://mixed.example/hook", allow_private=False)
    assert caught.value.kind == "private"
    with pytest.raises(UnsafeURL) as caught:
        check_url("https://nowhere.example/hook", allow_private=False)
    assert caught.value.kind == "unresolved"
    # A refused address is refused at sending time too (DNS may change after the check).
    answers["public.example"] = ["127.0.0.1"]
    outcome = post("http://public.example/hook", b"{}", {}, timeout=2, allow_private=False)
    assert outcome.status_code is None and outcome.error.startswith("refused:")


@pytest.mark.parametrize("address", ["::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1",
                                     "2002:7f00:1::", "fec0::1"])
def test_a_name_resolving_to_an_ipv6_form_of_a_local_address_is_refused_when_sending(
        monkeypatch, address):
    # The same stand-in for DNS as above: a name checked as public, then answering an IPv6
    # address that stands for a local one (IPv4-compatible, -translated, NAT64, 6to4,
    # site-local) by the time the delivery goes out.
    answers = {"public.example": ["93.184.216.34"]}

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)
    assert check_url("https://public.example/hook", allow_private=False).host == "public.example"
    answers["public.example"] = [address]
    with pytest.raises(UnsafeURL) as caught:
        check_url("https://public.example/hook", allow_private=False)
    assert caught.value.kind == "private"
    outcome = post("http://public.example/hook", b"{}", {}, timeout=2, allow_private=False)
    assert outcome.status_code is None and outcome.error.startswith("refused:")


def test_redirects_are_not_followed(receiver):
    receiver.fail, receiver.status = 1, 302
    outcome = post(receiver.url, b"{}", {}, timeout=5, allow_private=True)
    assert outcome.status_code == 302 and not outcome.ok
    assert len(receiver.calls) == 1


def test_a_slow_or_absent_receiver_is_an_error_not_an_exception(receiver):
    receiver.delay = 1.5
    outcome = post(receiver.url, b"{}", {}, timeout=0.3, allow_private=True)
    assert outcome.status_code is None and outcome.error.startswith("timeout")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=2, allow_private=True)
    assert outcome.error == "connection refused"
