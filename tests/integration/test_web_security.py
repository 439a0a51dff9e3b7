"""/metrics over TLS with basic auth (exporter-toolkit web config), on the real exporter process."""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.error

import bcrypt
import pytest

from tests.kit.certs import make_pki
from tests.kit.processes import http_get

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def client_context(pki, with_cert=False):
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if with_cert:
        ctx.load_cert_chain(pki["client_crt"], pki["client_key"])
    return ctx


def start(exporter_factory, qbt, password_file, web_config, context):
    return exporter_factory(
        [
            "--qbittorrent.url",
            qbt.url,
            "--qbittorrent.password-file",
            str(password_file),
            "--web.config-file",
            str(web_config),
        ],
        scheme="https",
        ssl_context=context,
    )


def test_tls_and_basic_auth(tmp_path, qbt, password_file, exporter_factory):
    pki = make_pki(tmp_path / "pki")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode().replace("$2b$", "$2y$")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {pki['server_crt']}\n  key_file: {pki['server_key']}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    ctx = client_context(pki)
    e = start(exporter_factory, qbt, password_file, web, ctx)

    status, body = http_get(e.url + "/metrics", context=ctx, headers=basic("prometheus", PASSWORD))
    assert status == 200 and "qbittorrent_up" in body
    for headers in (
        {},
        basic("prometheus", "wrong"),
        basic("nobody", PASSWORD),
        {"Authorization": "Basic !!!"},
    ):
        status, body = http_get(e.url + "/metrics", context=ctx, headers=headers)
        assert status == 401 and body == "Unauthorized\n", headers  # no detail
    assert http_get(e.url + "/readyz", context=ctx)[0] == 401
    assert http_get(e.url + "/", context=ctx)[0] == 401
    assert http_get(e.url + "/healthz", context=ctx)[0] == 200  # liveness needs no credentials
    with pytest.raises((OSError, http.client.HTTPException)):  # plain HTTP is not served
        http_get(e.url.replace("https", "http") + "/metrics", timeout=3)
    with pytest.raises(urllib.error.URLError):  # and a client that does not trust the CA refuses it
        http_get(e.url + "/metrics", context=ssl.create_default_context(), timeout=3)
    assert PASSWORD not in e.log() and hashed not in e.log()


def test_client_certificates_required(tmp_path, qbt, password_file, exporter_factory):
    pki = make_pki(tmp_path / "pki")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {pki['server_crt']}\n  key_file: {pki['server_key']}\n"
        f"  client_ca_file: {pki['ca']}\n  client_auth_type: RequireAndVerifyClientCert\n"
    )
    e = start(exporter_factory, qbt, password_file, web, client_context(pki, with_cert=True))
    assert http_get(e.url + "/metrics", context=client_context(pki, with_cert=True))[0] == 200
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        http_get(e.url + "/metrics", context=client_context(pki), timeout=3)


@pytest.mark.parametrize(
    "content,field",
    [
        ("basic_auth_users:\n  u: plaintext-password\n", "basic_auth_users.u"),
        ("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n", "cert_file"),
        ("tls_server_config:\n  key_file: x\n", "cert_file"),
        ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n", "cert_file"),
        ("tsl_server_config: {}\n", "web.config-file: <key 1>: unknown key; did you mean tls_server_config?"),
    ],
    ids=["plain-password", "missing-cert", "no-cert-key", "bad-auth-type", "typo"],
)
def test_bad_web_config_is_rejected_at_start(tmp_path, content, field):
    import subprocess
    import sys

    web = tmp_path / "web.yml"
    web.write_text(content)
    r = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "check-config", "--web.config-file", str(web)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 1 and field in r.stderr, r.stderr
    assert "plaintext-password" not in r.stderr
