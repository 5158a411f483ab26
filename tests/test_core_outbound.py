"""The one rule for addresses the app calls at a URL someone typed (webhooks,
a team's Alertmanager, rotation feeds)."""

import ipaddress

import pytest

from oncall.core.outbound import is_private, refused


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # shared address space
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:0a00:0001::",  # 6to4 of 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_it_calls_private_addresses_private(address):
    assert is_private(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_not_private(address):
    assert not is_private(ipaddress.ip_address(address))


def test_a_host_is_refused_for_one_private_address_or_none_unless_allowed(settings):
    public, private = ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.1")
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert not refused([public])
    assert refused([public, private])
    assert refused([])
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert not refused([public, private])
    assert refused([])
