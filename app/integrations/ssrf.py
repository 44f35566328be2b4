"""Where a webhook may go (SR-20): HTTPS on port 443 to public addresses only, unless an admin
allow-listed a private network for a government integrator on an intranet or VPN (112, police).

Checked when an endpoint is registered and again on every connection: the host is resolved
once, every address it resolves to must be allowed (a DNS answer mixing a public and a private
address is refused), and the request goes to that address (``pinned_request``), so a name that
is re-pointed at an internal address between the check and the connect (DNS rebinding) cannot
reach it. Loopback over plain HTTP is allowed only with the development setting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
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


def parse_target(url: str, *, http_loopback: bool) -> Target:
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
        port = port or 80
    else:
        raise TargetRefused("Webhook URLs must use https://.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path)


def address_allowed(
    address: IPAddress, *, scheme: str, allowed_network: str | None, http_loopback: bool
) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
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
