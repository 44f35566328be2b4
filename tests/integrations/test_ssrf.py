"""The webhook SSRF guard: HTTPS to public addresses only, checked before any traffic."""

from __future__ import annotations

import pytest

from app.errors import WebhookTargetRefused
from app.integrations.ssrf import check_network, parse_target, pinned_request, resolve_allowed


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/hook",
        "https://example.org:8443/hook",
        "ftp://example.org/",
        "https://user:pw@example.org/",
        "https:///nohost",
    ],
)
def test_only_https_on_443_is_a_target(url: str) -> None:
    with pytest.raises(WebhookTargetRefused):
        parse_target(url, http_loopback=False)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ],
)
async def test_non_public_addresses_are_refused(address: str) -> None:
    target = parse_target("https://hooks.example.org/x", http_loopback=False)
    with pytest.raises(WebhookTargetRefused):
        await resolve_allowed(
            target, allowed_network=None, http_loopback=False, resolver=resolver_to(address)
        )


async def test_a_name_resolving_to_public_and_private_is_refused() -> None:
    target = parse_target("https://hooks.example.org/x", http_loopback=False)
    with pytest.raises(WebhookTargetRefused):
        await resolve_allowed(
            target,
            allowed_network=None,
            http_loopback=False,
            resolver=resolver_to("93.184.216.34", "10.0.0.7"),
        )


async def test_literal_metadata_address_is_refused_without_resolving() -> None:
    target = parse_target("https://169.254.169.254/latest/meta-data", http_loopback=False)
    with pytest.raises(WebhookTargetRefused):
        await resolve_allowed(
            target, allowed_network=None, http_loopback=False, resolver=resolver_to()
        )


async def test_public_address_is_pinned_with_host_and_sni() -> None:
    target = parse_target("https://hooks.example.org/in?x=1", http_loopback=False)
    address = await resolve_allowed(
        target, allowed_network=None, http_loopback=False, resolver=resolver_to("93.184.216.34")
    )
    request = pinned_request(target, address, headers={}, content=b"{}")
    assert str(request.url) == "https://93.184.216.34/in?x=1"
    assert request.headers["host"] == "hooks.example.org"
    assert request.extensions["sni_hostname"] == "hooks.example.org"


async def test_an_allow_listed_intranet_is_reachable_but_not_loopback() -> None:
    network = check_network("10.20.0.0/16")
    target = parse_target("https://siaga112.intranet/hook", http_loopback=False)
    assert (
        await resolve_allowed(
            target, allowed_network=network, http_loopback=False, resolver=resolver_to("10.20.1.5")
        )
        == "10.20.1.5"
    )
    with pytest.raises(WebhookTargetRefused):
        await resolve_allowed(
            target, allowed_network=network, http_loopback=False, resolver=resolver_to("10.21.0.1")
        )
    for bad in ("127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/0", "8.8.8.0/24"):
        with pytest.raises(WebhookTargetRefused):
            check_network(bad)


async def test_plain_http_only_to_loopback_with_the_dev_setting() -> None:
    target = parse_target("http://127.0.0.1:8081/hook", http_loopback=True, loopback_ports=[8081])
    assert (
        await resolve_allowed(
            target, allowed_network=None, http_loopback=True, resolver=resolver_to()
        )
        == "127.0.0.1"
    )
    public = parse_target(
        "http://93.184.216.34:8081/hook", http_loopback=True, loopback_ports=[8081]
    )
    with pytest.raises(WebhookTargetRefused):
        await resolve_allowed(
            public, allowed_network=None, http_loopback=True, resolver=resolver_to()
        )


@pytest.mark.parametrize(
    ("address", "form"),
    [
        ("64:ff9b::a9fe:a9fe", "NAT64 well-known prefix → 169.254.169.254"),
        ("64:ff9b::808:808", "NAT64 of a public address"),
        ("64:ff9b:1::a9fe:a9fe", "NAT64 local-use prefix"),
        ("2002:a9fe:a9fe::1", "6to4 → 169.254.169.254"),
        ("2002:808:808::1", "6to4 of a public address"),
        ("::a9fe:a9fe", "IPv4-compatible → 169.254.169.254"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("::10.0.0.1", "IPv4-compatible private"),
        ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
        ("::ffff:8.8.8.8", "IPv4-mapped public"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
async def test_every_ipv6_form_embedding_ipv4_is_refused(address: str, form: str) -> None:
    for url in ("https://hooks.example.org/x", f"https://[{address}]/x"):
        target = parse_target(url, http_loopback=False)
        with pytest.raises(WebhookTargetRefused):
            await resolve_allowed(
                target, allowed_network=None, http_loopback=False, resolver=resolver_to(address)
            )
    with pytest.raises(WebhookTargetRefused):  # nor through an allow-listed intranet
        await resolve_allowed(
            parse_target("https://hooks.example.org/x", http_loopback=False),
            allowed_network="10.0.0.0/8",
            http_loopback=False,
            resolver=resolver_to(address),
        )


@pytest.mark.parametrize("network", ["64:ff9b::/96", "::ffff:10.0.0.0/104", "2002::/16"])
def test_an_allowed_network_cannot_be_an_ipv4_embedding_range(network: str) -> None:
    with pytest.raises(WebhookTargetRefused):
        check_network(network)


async def test_a_plain_public_ipv6_address_is_still_a_target() -> None:
    target = parse_target("https://hooks.example.org/x", http_loopback=False)
    address = await resolve_allowed(
        target, allowed_network=None, http_loopback=False, resolver=resolver_to("2606:4700::1111")
    )
    assert address == "2606:4700::1111"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",  # no port named: not port 80 by default
        "http://127.0.0.1:5432/hook",  # whatever else listens on the machine
        "http://127.0.0.1:8000/v1/alerts",  # Sigap's own API
        "http://[::1]:6379/",
    ],
)
def test_plain_http_loopback_reaches_only_the_listed_ports(url: str) -> None:
    with pytest.raises(WebhookTargetRefused):
        parse_target(url, http_loopback=True, loopback_ports=[8081])
    assert (
        parse_target("http://[::1]:8081/hook", http_loopback=True, loopback_ports=[8081]).port
        == 8081
    )


def test_the_loopback_setting_is_refused_in_production() -> None:
    from app.config import Settings
    from app.main import UnsafeSettings, build_context

    secrets = {"secret_key": "p" * 48, "encryption_keys": "k1:" + "A" * 43}
    loopback = {"webhook_http_loopback": True, "webhook_http_loopback_ports": [8081]}
    production = Settings(security=secrets, integrations=loopback)  # type: ignore[arg-type]
    assert any("WEBHOOK_HTTP_LOOPBACK" in reason for reason in production.unsafe_reasons())
    with pytest.raises(UnsafeSettings, match="WEBHOOK_HTTP_LOOPBACK"):
        build_context(production)
    assert Settings(security=secrets).unsafe_reasons() == []  # type: ignore[arg-type]
