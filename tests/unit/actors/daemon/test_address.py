"""Reading --connect and --listen addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiway.actors.daemon.address import Address, is_loopback, parse_connect, parse_listen
from aiway.actors.daemon.errors import AddressError

DEFAULT = Path("/run/user/1/aiway/aiway.sock")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, Address.unix(DEFAULT)),
        ("", Address.unix(DEFAULT)),
        ("/tmp/x.sock", Address.unix(Path("/tmp/x.sock"))),
        ("./x.sock", Address.unix(Path("./x.sock"))),
        ("unix:relative.sock", Address.unix(Path("relative.sock"))),
        ("localhost:7700", Address.tcp("localhost", 7700)),
        ("tcp://10.0.0.2:80", Address.tcp("10.0.0.2", 80)),
        ("[::1]:9000", Address.tcp("::1", 9000)),
    ],
)
def test_connect_addresses(text: str | None, expected: Address) -> None:
    assert parse_connect(text, DEFAULT) == expected


def test_connect_expands_the_home_directory() -> None:
    address = parse_connect("~/a.sock", DEFAULT)
    assert address.path is not None and not str(address.path).startswith("~")


@pytest.mark.parametrize("text", ["nohost", ":80", "host:", "host:99999", "[::1]9000"])
def test_bad_connect_addresses_name_the_flag(text: str) -> None:
    with pytest.raises(AddressError, match="--connect"):
        parse_connect(text, DEFAULT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7700", Address.tcp("127.0.0.1", 7700)),
        (":7700", Address.tcp("127.0.0.1", 7700)),
        ("0.0.0.0:1", Address.tcp("0.0.0.0", 1)),
        ("[::1]:0", Address.tcp("::1", 0)),
    ],
)
def test_listen_defaults_to_loopback(text: str, expected: Address) -> None:
    assert parse_listen(text) == expected


def test_bad_listen_port() -> None:
    with pytest.raises(AddressError, match="--listen 'x:y'"):
        parse_listen("x:y")


def test_addresses_print_with_their_kind() -> None:
    assert str(Address.unix(DEFAULT)) == f"unix:{DEFAULT}"
    assert str(Address.tcp("::1", 5)) == "tcp:[::1]:5"
    assert str(Address.tcp("127.0.0.1", 5)) == "tcp:127.0.0.1:5"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("a.b", False)],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
