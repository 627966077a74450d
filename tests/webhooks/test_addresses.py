"""IPv6 addresses that stand for IPv4 ones are judged by the IPv4 inside them."""
from __future__ import annotations

import pytest

from app.webhooks.addresses import is_public
from app.webhooks.transport import UnsafeURL, check_url

REFUSED = [
    "::127.0.0.1", "::10.0.0.1", "::", "::1",                  # IPv4-compatible
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",              # IPv4-mapped
    "::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe",                   # IPv4-translated
    "64:ff9b::7f00:1", "64:ff9b::10.1.2.3", "64:ff9b::169.254.169.254",  # NAT64
    "64:ff9b:1::808:808", "64:ff9b:1:2::1",                    # NAT64 local-use prefix
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::",  # 6to4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",                    # Teredo, client 192.0.2.45
    "2001:0:7f00:1:0:f7ff:f5f7:f7f7",                          # Teredo, server 127.0.0.1
    "fec0::1", "fec0:1::abcd", "feff::1",                      # site-local
    "fe80::1%eth0", "fd00::1", "ff02::1", "100::1",            # link-local, ULA, multicast...
    "127.0.0.1", "10.0.0.1", "100.64.0.1", "224.0.0.1",
]
ALLOWED = [
    "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4007:80f::200e",
    "::ffff:93.184.216.34", "64:ff9b::93.184.216.34", "2002:5db8:d822::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_webhooks_may_not_reach(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_webhooks_may_reach(address):
    assert is_public(address)


@pytest.mark.parametrize("host", ["::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1",
                                  "2002:7f00:1::", "fec0::1"])
def test_urls_on_ipv6_literals_standing_for_local_addresses_are_refused(host):
    with pytest.raises(UnsafeURL) as caught:
        check_url(f"http://[{host}]/hook", allow_private=False, resolve_host=False)
    assert caught.value.kind == "private"
