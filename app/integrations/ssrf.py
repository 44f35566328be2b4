"""Where a webhook may go (SR-20): HTTPS on port 443 to public addresses only, unless an admin
allow-listed a private network for a government integrator on an intranet or VPN (112, police).

Checked when an endpoint is registered and again on every connection: the host is resolved
once, every address it resolves to must be allowed (a DNS answer mixing a public and a private
address is refused), and the request goes to that address (``pinned_request``), so a name that
is re-pointed at an internal address between the check and the connect (DNS rebinding) cannot
reach it. Loopback over plain HTTP is allowed only with the development setting (refused in
production at start-up), and only to the ports it lists, named in the URL: a local receiver, never
whatever else listens on the machine (a database, a cache, Sigap's own API).

No IPv6 address that carries an IPv4 address is a target, whatever that IPv4 address is: a
NAT64 gateway, a 6to4 or Teredo relay or a dual-stack host would deliver ``64:ff9b::a9fe:a9fe``
to 169.254.169.254, and Python calls several of these forms "global".
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.errors import WebhookTargetRefused as TargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


RESOLVE_TIMEOUT_S = 3.0
NAT64_PREFIXES = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052, the well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215, local-use translation
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291's deprecated ::a.b.c.d
EMBEDDING_NETWORKS = (
    *NAT64_PREFIXES,
    IPV4_COMPATIBLE,
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("2002::/16"),  # 6to4
    ipaddress.IPv6Network("2001::/32"),  # Teredo
)


def embeds_ipv4(address: ipaddress.IPv6Address) -> bool:
    """Whether the address carries an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64).
    ``::1`` and ``::`` are themselves, not IPv4-compatible forms."""
    if address.ipv4_mapped is not None or address.sixtofour is not None:
        return True
    if address.teredo is not None or any(address in prefix for prefix in NAT64_PREFIXES):
        return True
    return address in IPV4_COMPATIBLE and int(address) > 1


async def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver, bounded: a slow DNS server must not hold a request or a sender."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError as exc:
        raise OSError(f"resolving {host} timed out") from exc
    return sorted({str(info[4][0]) for info in infos})


def parse_target(url: str, *, http_loopback: bool, loopback_ports: Collection[int] = ()) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("The URL cannot be parsed.") from exc
    host = parts.hostname
    if not host or parts.username or parts.password or parts.fragment:
        raise TargetRefused("A webhook URL has a host and no user, password or fragment.")
    if parts.scheme == "https":
        if port not in (None, 443):
            raise TargetRefused("HTTPS webhooks use port 443.")
        port = 443
    elif parts.scheme == "http" and http_loopback:
        if port is None or port not in loopback_ports:
            raise TargetRefused(
                "Plain-HTTP webhooks (development) name one of the ports listed in "
                "SIGAP_INTEGRATIONS__WEBHOOK_HTTP_LOOPBACK_PORTS."
            )
    else:
        raise TargetRefused("Webhook URLs must use https://.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path)


def address_allowed(
    address: IPAddress, *, scheme: str, allowed_network: str | None, http_loopback: bool
) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and embeds_ipv4(address):
        return False  # even a public IPv4 inside: a legitimate endpoint publishes it as itself
    if scheme == "http":
        return http_loopback and address.is_loopback
    if allowed_network is not None and address in ipaddress.ip_network(allowed_network):
        return not (address.is_loopback or address.is_link_local or address.is_unspecified)
    return address.is_global and not address.is_multicast


def check_network(value: str | None) -> str | None:
    """An allow-listed range: a private network, never loopback, link-local or everything."""
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise TargetRefused("allowed_network is not a CIDR network.") from exc
    if (
        not network.is_private
        or network.prefixlen < 8
        or any(
            network.overlaps(ipaddress.ip_network(bad))
            for bad in ("127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10", "0.0.0.0/8")
        )
        or any(network.overlaps(embedding) for embedding in EMBEDDING_NETWORKS)
    ):
        raise TargetRefused("Only a private intranet range (e.g. 10.20.0.0/16) can be allowed.")
    return str(network)


async def resolve_allowed(
    target: Target, *, allowed_network: str | None, http_loopback: bool, resolver: Resolver
) -> str:
    """The one address to connect to, or TargetRefused. Literal IPs are not resolved."""
    try:
        addresses = [ipaddress.ip_address(target.host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a) for a in await resolver(target.host, target.port)]
        except (OSError, ValueError) as exc:
            raise TargetRefused(f"{target.host} does not resolve.") from exc
    if not addresses:
        raise TargetRefused(f"{target.host} does not resolve.")
    for address in addresses:
        if not address_allowed(
            address,
            scheme=target.scheme,
            allowed_network=allowed_network,
            http_loopback=http_loopback,
        ):
            raise TargetRefused(f"{target.host} resolves to a non-public address.")
    return str(addresses[0])


def pinned_request(
    target: Target, address: str, *, headers: dict[str, str], content: bytes
) -> httpx.Request:
    """A request to ``address`` that still presents ``target.host`` in Host and in TLS SNI
    (the certificate is checked against the name, not the address)."""
    literal = f"[{address}]" if ":" in address else address
    url = f"{target.scheme}://{literal}:{target.port}{target.path}"
    return httpx.Request(
        "POST",
        url,
        headers={**headers, "Host": target.host},
        content=content,
        extensions={"sni_hostname": target.host},
    )
