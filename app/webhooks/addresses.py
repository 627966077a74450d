"""Which IP addresses a webhook may reach: public ones only, IPv4 hidden in IPv6 included.

An IPv6 address may carry an IPv4 address that the network (the kernel, a NAT64 gateway, a
6to4 or Teredo relay) turns into a connection to that IPv4 host: `::ffff:127.0.0.1` reaches the
loopback. Python's `is_global` judges such addresses as IPv6 and finds many of them "global",
so the IPv4 inside is extracted and judged instead. Anything not global is refused, including
the deprecated site-local fec0::/10 and the local-use NAT64 prefix.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, IPv6Network


def _low32(ip: IPv6Address) -> list[IPv4Address]:
    return [IPv4Address(int(ip) & 0xFFFFFFFF)]


def _sixtofour(ip: IPv6Address) -> list[IPv4Address]:
    return [ip.sixtofour] if ip.sixtofour is not None else []


def _teredo(ip: IPv6Address) -> list[IPv4Address]:
    return list(ip.teredo) if ip.teredo is not None else []


# The ranges whose addresses stand for IPv4 ones, and where the IPv4 sits.
EMBEDDING: tuple[tuple[IPv6Network, Callable[[IPv6Address], list[IPv4Address]]], ...] = (
    (IPv6Network("::ffff:0:0/96"), _low32),    # IPv4-mapped
    (IPv6Network("::ffff:0:0:0/96"), _low32),  # IPv4-translated (SIIT)
    (IPv6Network("::/96"), _low32),            # IPv4-compatible (deprecated), :: and ::1 too
    (IPv6Network("64:ff9b::/96"), _low32),     # NAT64, well-known prefix
    (IPv6Network("2002::/16"), _sixtofour),    # 6to4
    (IPv6Network("2001::/32"), _teredo),       # Teredo: server and (obfuscated) client
)
# Never public: the IPv4 sits at a place set by each network, the range is for local use.
REFUSED = (IPv6Network("fec0::/10"),           # site-local (deprecated)
           IPv6Network("64:ff9b:1::/48"))      # NAT64, local-use prefix


def _is_public_ip(ip: IPv4Address | IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def embedded_ipv4(ip: IPv6Address) -> list[IPv4Address] | None:
    """The IPv4 addresses an IPv6 address stands for; None when it is a plain IPv6 one."""
    for network, extract in EMBEDDING:
        if ip in network:
            return extract(ip)
    return None


def is_public(address: str) -> bool:
    """Whether a connection to this address (IPv4 or IPv6, zone allowed) reaches the internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv4Address):
        return _is_public_ip(ip)
    if any(ip in network for network in REFUSED):
        return False
    inside = embedded_ipv4(ip)
    if inside is not None:
        return bool(inside) and all(_is_public_ip(v4) for v4 in inside)
    return _is_public_ip(ip)
