"""The web config file's bcrypt hashes and TLS versions are checked whole at parse time: a bad one is a
one-line error naming the field (check-config exits 1), never a silent default or a dropped request."""

from __future__ import annotations

import ssl

import bcrypt
import pytest

from exporter.cli import main
from exporter.config import ConfigError, build_settings
from exporter.config.web import load_web_config
from exporter.http.server import ServerLimits
from tests.kit.certs import make_pki

GOOD = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()  # $2b$04$ + 22 salt + 31 digest characters
USER_FIELD = "web.config-file: basic_auth_users.u"


def web_file(tmp_path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return str(path)


def users_file(tmp_path, hashed: str) -> str:
    return web_file(tmp_path, f"basic_auth_users:\n  u: '{hashed}'\n")


@pytest.mark.parametrize(
    "hashed",
    [
        GOOD[:-1],
        GOOD + "a",
        GOOD[:-1] + "!",
        GOOD[:28] + "z" + GOOD[29:],  # last salt character with bits bcrypt never sets: bcrypt raises
        GOOD[:-1] + "z",  # same for the digest: no password could ever match
        "$2b$03$" + GOOD[7:],
        "$2b$99$" + GOOD[7:],
        "$2x$04$" + GOOD[7:],
        "plaintext-password",
    ],
    ids=[
        "short",
        "long",
        "bad-char",
        "salt-bits",
        "digest-bits",
        "cost-3",
        "cost-99",
        "prefix",
        "plaintext",
    ],
)
def test_a_malformed_bcrypt_hash_is_an_error_naming_the_user_without_echoing_it(tmp_path, hashed):
    with pytest.raises(ConfigError) as err:
        load_web_config(users_file(tmp_path, hashed))
    assert err.value.path == USER_FIELD
    assert hashed not in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("prefix", ["$2y$", "$2b$", "$2a$"])
def test_well_formed_hashes_are_accepted_and_checked_as_2b(tmp_path, prefix):
    hashed = prefix + GOOD[4:]
    users = load_web_config(users_file(tmp_path, hashed)).users
    expected = GOOD.encode() if prefix != "$2a$" else hashed.encode()
    assert users == {"u": expected}
    assert bcrypt.checkpw(b"pw", users["u"])


def tls_file(tmp_path, extra: str) -> str:
    pki = make_pki(tmp_path / "pki")
    return web_file(
        tmp_path,
        f"tls_server_config:\n  cert_file: {pki['server_crt']}\n  key_file: {pki['server_key']}\n{extra}",
    )


@pytest.mark.parametrize(
    "extra,field",
    [
        ("  min_version: TLS99\n", "min_version"),
        ("  max_version: TLS99\n", "max_version"),
        ("  min_version: 12\n", "min_version"),
        ("  min_version: TLS13\n  max_version: TLS12\n", "max_version"),
    ],
    ids=["min-TLS99", "max-TLS99", "min-number", "max-below-min"],
)
def test_an_unknown_or_inverted_tls_version_is_an_error_naming_the_field(tmp_path, extra, field):
    with pytest.raises(ConfigError) as err:
        load_web_config(tls_file(tmp_path, extra))
    assert err.value.path == f"web.config-file: tls_server_config.{field}"


def test_tls_versions_are_applied(tmp_path):
    ctx = load_web_config(tls_file(tmp_path, "  min_version: TLS12\n  max_version: TLS12\n")).tls
    assert ctx is not None
    assert (ctx.minimum_version, ctx.maximum_version) == (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    default = load_web_config(tls_file(tmp_path, "")).tls
    assert default is not None and default.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda tmp: users_file(tmp, GOOD[:28] + "z" + GOOD[29:]), USER_FIELD),
        (lambda tmp: tls_file(tmp, "  min_version: TLS99\n"), "tls_server_config.min_version"),
    ],
    ids=["malformed-hash", "TLS99"],
)
def test_check_config_exits_1_with_one_line_and_no_traceback(tmp_path, capsys, make, field):
    code = main(["check-config", "--web.config-file", make(tmp_path)])
    out = capsys.readouterr()
    assert code == 1
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], out.err
    assert "Traceback" not in out.err and GOOD[7:28] not in out.err and "config OK" not in out.out


def test_the_server_timeouts_are_options_in_seconds():
    s = build_settings({"web.header-timeout": "5s"}, {"QBITTORRENT_MONITOR_WEB_IDLE_TIMEOUT": "2m"})
    assert (s.web_header_timeout, s.web_idle_timeout) == (5.0, 120.0)
    defaults = build_settings({}, {})
    assert (defaults.web_header_timeout, defaults.web_idle_timeout) == (10.0, 90.0)
    server = ServerLimits()  # what a WebServer built without settings uses
    assert (server.header_timeout, server.idle_timeout) == (10.0, 90.0)
    for name, value in (("web.header-timeout", "0"), ("web.idle-timeout", "soon")):
        with pytest.raises(ConfigError) as err:
            build_settings({name: value}, {})
        assert err.value.path == f"--{name}"
