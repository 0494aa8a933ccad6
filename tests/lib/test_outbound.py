import pytest

from lib.outbound import OutboundRefusedError, check_url


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
    ],
)
def test_private_loopback_and_link_local_targets_are_refused_by_default(url):
    with pytest.raises(OutboundRefusedError, match="OUTBOUND_ALLOWLIST"):
        check_url(url)


def test_public_addresses_are_allowed():
    assert check_url("https://93.184.215.14/hook") == "https://93.184.215.14/hook"


def test_an_allowlisted_cidr_or_host_opens_private_targets(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    assert check_url("http://127.0.0.1:9000/x")
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
