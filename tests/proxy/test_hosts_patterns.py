"""Host normalisation, address classification and pattern matching (sans-IO)."""

from __future__ import annotations

import ipaddress

import pytest

from codex_admin.proxy import HostError, PatternError, compile_pattern, is_non_public
from codex_admin.proxy import normalize_host as norm
from codex_admin.proxy.patterns import PatternSet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Example.COM  ", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("example.com...:443", "example.com"),
        ("[::1]", "::1"),
        ("[::1]:443", "::1"),
        ("::1", "::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("[fe80::1%25lo0]", "fe80::1%lo0"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("example\u3002com", "example.com"),  # ideographic full stop maps to "."
        ("１２７.０.０.１", "127.0.0.1"),  # full-width digits are still loopback
        ("10.0.0.1", "10.0.0.1"),
        ("_dmarc.example.com", "_dmarc.example.com"),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert norm(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "127.0.0.01",
        "1.2.3.4.5",
        "example.0x10",
        "",
        "   ",
        ".",
        "user@example.com",
        "exa mple.com",
        "example.com/path",
        "exa%2ample.com",
        "[::1",
        "fe80::1%",
        "a" * 64 + ".com",
        "-bad.example.com",
    ],
)
def test_normalize_host_refuses(raw: str) -> None:
    with pytest.raises(HostError):
        norm(raw)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "192.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.1",
        "240.0.0.1",
        "0.1.2.3",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "fec0::1",  # site-local (A10)
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "2001:db8::1",
    ],
)
def test_non_public(address: str) -> None:
    assert is_non_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2606:4700::1111",
    ],
)
def test_public(address: str) -> None:
    assert not is_non_public(ipaddress.ip_address(address))


def _matches(pattern: str, host: str) -> bool:
    return compile_pattern(pattern, allow_global=True).matches(norm(host))


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("example.com", "example.com", True),
        ("example.com", "EXAMPLE.COM.", True),
        ("example.com", "api.example.com", False),
        ("example.com", "notexample.com", False),
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "evilexample.com", False),
        ("**.example.com", "example.com", True),
        ("**.example.com", "api.example.com", True),
        ("**.example.com", "evilexample.com", False),
        ("**.example.com", "example.com.evil.net", False),
        ("region*.example.com", "region1.example.com", True),
        ("region*.example.com", "region.example.com", True),
        ("region*.example.com", "region1.evil.example.com", False),  # label-bounded (A16)
        ("region*.example.com", "xregion1.example.com", False),
        ("api?.example.com", "api1.example.com", True),
        ("*", "anything.example", True),
        ("[::1]", "::1", True),
        ("::1", "[::1]:80", True),
        ("[fe80::1%25lo0]", "fe80::1%lo0", True),
        ("[fe80::1%25lo0]", "fe80::1", False),
        ("[fe80::1%25lo0]", "fe80::1%lo1", False),
        ("bücher.example", "xn--bcher-kva.example", True),
        ("xn--bcher-kva.example", "bücher.example", True),
        ("*.bücher.example", "www.xn--bcher-kva.example", True),
        ("Example.COM.", "example.com", True),
    ],
)
def test_pattern_matching(pattern: str, host: str, expected: bool) -> None:
    assert _matches(pattern, host) is expected


@pytest.mark.parametrize("pattern", ["*", "[*]", "**.[*]"])
def test_global_wildcard_only_in_allow_lists(pattern: str) -> None:
    assert compile_pattern(pattern, allow_global=True).is_global
    with pytest.raises(PatternError, match="global wildcard"):
        compile_pattern(pattern, allow_global=False)


@pytest.mark.parametrize("pattern", ["[abc].example.com", "exa[mp]le.com", "*.", "0x7f.1", "a b"])
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern, allow_global=True)


def test_pattern_set_dedupes_and_finds_explicit_literals() -> None:
    patterns = PatternSet.build(
        ["Example.com", "example.com.", "*.x.org", "10.0.0.1"], allow_global=True
    )
    assert patterns.texts() == ["example.com", "*.x.org", "10.0.0.1"]
    assert patterns.explicit("10.0.0.1") is not None
    assert patterns.explicit("a.x.org") is None
