"""The outbound gate, judged by loopback HTTP receivers: what reaches a socket and what never does."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
import httpx
import pytest

from lib import outbound, outbound_clients
from lib.outbound import OutboundRefusedError, check_apprise_url, check_url
from tests.stands import Stand, self_signed

TLS_HOST = "secure.test"


@pytest.fixture(autouse=True)
def _seismo_address(settings):
    settings.SEISMO_HOST = "127.0.0.1"
    settings.SEISMO_PORT = 8000
    settings.OUTBOUND_ALLOWLIST = []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9000/",
        "http://0.0.0.0/",
        "http://127.1/",
        "http://2130706433/",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused_by_default(url):
    with pytest.raises(OutboundRefusedError, match="OUTBOUND_ALLOWLIST"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
        "http://[::ffff:10.0.0.1]/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    ],
)
def test_ipv4_embedded_in_ipv6_is_judged_as_the_ipv4_address_it_reaches(url):
    with pytest.raises(OutboundRefusedError, match="OUTBOUND_ALLOWLIST"):
        check_url(url)


def test_public_addresses_are_allowed_including_embedded_public_ipv4():
    assert check_url("https://93.184.215.14/hook") == "https://93.184.215.14/hook"
    assert check_url("https://[64:ff9b::5db8:d70e]/hook")  # NAT64 of 93.184.215.14


def test_an_allowlisted_cidr_or_host_opens_private_targets(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    assert check_url("http://127.0.0.1:9000/x")
    assert check_url("http://[::ffff:127.0.0.1]:9000/x")
    settings.OUTBOUND_ALLOWLIST = ["internal.example"]
    assert check_url("http://internal.example/x")  # allowed by name, not resolved


def test_load_tests_may_target_this_instance_but_not_other_local_ports():
    assert check_url("http://127.0.0.1:8000/api/", allow_self=True)
    assert check_url("http://localhost:8000/", allow_self=True)
    with pytest.raises(OutboundRefusedError):
        check_url("http://127.0.0.1:5432/", allow_self=True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "invalid URL"),
        ("http://name.invalid/", "cannot resolve"),
    ],
)
def test_malformed_or_unresolvable_urls_are_refused_with_a_reason(url, reason):
    with pytest.raises(OutboundRefusedError, match=reason):
        check_url(url)


def test_the_sync_client_connects_to_the_address_it_vetted_not_a_second_dns_answer(
    settings, outbound_pair, rebinding_dns
):
    allowed, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    with outbound_clients.http_client() as client:
        response = client.post(f"http://rebind.test:{allowed.port}/hook", content=b"{}")
        assert response.status_code == 200
        # The next request resolves again, meets the rebound answer and is refused before connecting.
        with pytest.raises(httpx.ConnectError, match=r"resolves to 127\.0\.0\.2"):
            client.post(f"http://rebind.test:{allowed.port}/hook", content=b"{}")
    assert refused.requests == []
    assert allowed.requests == [("/hook", f"rebind.test:{allowed.port}")]  # Host header kept


def test_the_aiohttp_connector_connects_to_the_address_it_vetted_not_a_second_dns_answer(
    settings, outbound_pair, rebinding_dns
):
    allowed, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]

    async def go() -> list[int]:
        statuses = []
        async with aiohttp.ClientSession(connector=outbound_clients.aiohttp_connector(force_close=True)) as session:
            for _ in range(3):
                async with session.get(f"http://rebind.test:{allowed.port}/x") as response:
                    statuses.append(response.status)
        return statuses

    assert asyncio.run(go()) == [200, 200, 200]
    assert refused.requests == []
    assert allowed.requests == [("/x", f"rebind.test:{allowed.port}")] * 3


def test_a_redirect_to_a_refused_address_never_reaches_it_with_either_client(settings, outbound_pair):
    _, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    redirecting = Stand("127.0.0.1", redirect_to=f"{refused.url}/latest/meta-data/")
    try:
        with outbound_clients.http_client() as client:  # no redirects by default: the 302 is the answer
            assert client.get(redirecting.url).status_code == 302
        with outbound_clients.http_client(follow_redirects=True) as client, pytest.raises(httpx.ConnectError) as caught:
            client.get(redirecting.url)
        assert "OUTBOUND_ALLOWLIST" in outbound.refusal_reason(caught.value)

        async def follow() -> BaseException:
            async with aiohttp.ClientSession(connector=outbound_clients.aiohttp_connector()) as session:
                try:
                    async with session.get(redirecting.url):
                        pass
                except aiohttp.ClientError as exc:
                    return exc
            raise AssertionError("the redirect was followed")

        assert "OUTBOUND_ALLOWLIST" in outbound.refusal_reason(asyncio.run(follow()))
    finally:
        redirecting.close()
    assert len(redirecting.requests) == 3
    assert refused.requests == []


def test_a_redirect_to_an_allowed_address_is_followed_when_asked(settings, outbound_pair):
    allowed, _ = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    redirecting = Stand("127.0.0.1", redirect_to=f"{allowed.url}/next")
    try:
        with outbound_clients.http_client(follow_redirects=True) as client:
            assert client.get(redirecting.url).status_code == 200
    finally:
        redirecting.close()
    assert allowed.requests == [("/next", f"127.0.0.1:{allowed.port}")]


def test_ip_literal_targets_are_vetted_at_connect_by_both_clients(outbound_pair):
    _, refused = outbound_pair
    with outbound_clients.http_client() as client, pytest.raises(httpx.ConnectError, match="OUTBOUND_ALLOWLIST"):
        client.get(f"{refused.url}/")

    async def go() -> None:
        async with (
            aiohttp.ClientSession(connector=outbound_clients.aiohttp_connector()) as session,
            session.get(f"http://[::ffff:127.0.0.2]:{refused.port}/"),
        ):
            pass

    with pytest.raises(aiohttp.ClientError) as caught:
        asyncio.run(go())
    assert "(IPv4 127.0.0.2) is a private or local address" in outbound.refusal_reason(caught.value)
    assert refused.requests == []


def test_the_async_httpx_client_is_gated_too(settings, outbound_pair, rebinding_dns):
    allowed, refused = outbound_pair
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]

    async def go() -> int:
        async with outbound_clients.async_http_client() as client:
            status = (await client.get(f"http://rebind.test:{allowed.port}/a")).status_code
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{refused.url}/b")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://rebind.test:{allowed.port}/c")
            return status

    assert asyncio.run(go()) == 200
    assert [path for path, _ in allowed.requests] == ["/a"]
    assert refused.requests == []


@pytest.mark.parametrize(
    "url", ["json://127.0.0.2:8080/", "jsons://example.com/", "mailto://user:pw@127.0.0.2", "ntfy://10.0.0.1/topic"]
)
def test_apprise_urls_with_a_host_of_their_own_are_refused(url):
    with pytest.raises(OutboundRefusedError, match="webhook"):
        check_apprise_url(url)


def test_apprise_urls_to_fixed_service_hosts_are_accepted():
    assert check_apprise_url("discord://1234/abcd")
    assert check_apprise_url("tgram://123456789:abcdefg/12315544/")
    with pytest.raises(OutboundRefusedError):
        check_apprise_url("not a url")


@pytest.fixture
def tls_stand(tmp_path, monkeypatch):
    """A TLS receiver on 127.0.0.1 whose certificate names only ``secure.test``, which a stub
    resolver answers with 127.0.0.1; and a client context trusting that certificate alone."""
    cert_path, key_path = self_signed(tmp_path, days=1, hostname=TLS_HOST, ca=True)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    real = socket.getaddrinfo

    def stub(host, port, *args, **kwargs):
        if host == TLS_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stub)
    stand = Stand("127.0.0.1", tls=server_context)
    client_context = ssl.create_default_context(cadata=cert_path.read_text())
    yield stand, client_context
    stand.close()


def test_tls_goes_to_the_vetted_address_with_the_hostname_as_sni_host_and_certificate_name(settings, tls_stand):
    stand, trust = tls_stand
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    with outbound_clients.http_client(verify=trust) as client:
        response = client.get(f"https://{TLS_HOST}:{stand.port}/health")
    assert response.status_code == 200 and response.text == "ok"
    # Verified against the hostname (the certificate names nothing else), asked for by name.
    assert stand.server_names == [TLS_HOST]
    assert stand.requests == [("/health", f"{TLS_HOST}:{stand.port}")]


def test_tls_through_the_load_test_connector_keeps_the_hostname_too(settings, tls_stand):
    stand, trust = tls_stand
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]

    async def go() -> int:
        connector = outbound_clients.aiohttp_connector(ssl=trust)
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"https://{TLS_HOST}:{stand.port}/x") as response,
        ):
            return response.status

    assert asyncio.run(go()) == 200
    assert stand.server_names == [TLS_HOST]
    assert stand.requests == [("/x", f"{TLS_HOST}:{stand.port}")]


def test_tls_to_a_hostname_resolving_to_a_refused_address_never_connects(settings, tls_stand):
    stand, trust = tls_stand  # secure.test → 127.0.0.1, not allowlisted here
    with outbound_clients.http_client(verify=trust) as client, pytest.raises(httpx.ConnectError, match=r"127\.0\.0\.1"):
        client.get(f"https://{TLS_HOST}:{stand.port}/health")
    assert stand.server_names == [] and stand.requests == []
