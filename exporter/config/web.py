"""The exporter-toolkit web config file (`--web.config-file`): TLS and basic auth for /metrics.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_ca_file: ca.crt            # optional: ask clients for certificates
      client_auth_type: RequireAndVerifyClientCert
      min_version: TLS12                # optional
    basic_auth_users:
      prometheus: $2b$12$...            # bcrypt hash

Parsed (and the certificates loaded) when the settings are built, so check-config catches every error.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

from ..http.server import WebConfig
from .files import load_yaml
from .values import ConfigError, unknown_key

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


def load_web_config(path: str) -> WebConfig:
    name = "web.config-file"
    data = load_yaml(path, name)
    known = ("tls_server_config", "basic_auth_users", "http_server_config")
    for position, key in enumerate(data, 1):
        if key not in known:
            raise unknown_key(f"{name}:", key, position, known)
    base = Path(path).resolve().parent
    tls = _tls_context(data.get("tls_server_config"), base) if data.get("tls_server_config") else None
    users: dict[str, bytes] = {}
    raw_users = data.get("basic_auth_users") or {}
    if not isinstance(raw_users, dict):
        raise ConfigError(f"{name}: basic_auth_users", "must map user names to bcrypt hashes")
    for user, hashed in raw_users.items():
        users[str(user)] = _bcrypt_hash(hashed, f"{name}: basic_auth_users.{user}")
    return WebConfig(tls=tls, users=users)


# $2y$ (htpasswd), $2b$ or $2a$; a cost of 04-31; 22 characters of salt and 31 of digest in bcrypt's
# base64 alphabet, whose last characters carry only 2 and 4 bits (any other letter there cannot have
# been written by bcrypt).
_BCRYPT = re.compile(
    r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{30}[.CGKOSWaeimquy26]"
)


def _bcrypt_hash(value: Any, where: str) -> bytes:
    """The hash as bcrypt checks it ($2y$ read as $2b$). Checked whole here, so that a bad one fails
    check-config instead of refusing every request of that user. Never echo the value: a user may
    have put a plain password here by mistake."""
    if not isinstance(value, str) or not _BCRYPT.fullmatch(value):
        raise ConfigError(
            where, "must be a bcrypt hash ($2y$<cost>$ and 53 characters, as htpasswd -B writes)"
        )
    return value.replace("$2y$", "$2b$", 1).encode()


def _tls_context(cfg: Any, base: Path) -> ssl.SSLContext:
    where = "web.config-file: tls_server_config"
    if not isinstance(cfg, dict):
        raise ConfigError(where, "must be a mapping")
    known = {
        "cert_file",
        "key_file",
        "client_ca_file",
        "client_auth_type",
        "min_version",
        "max_version",
        "cipher_suites",
        "prefer_server_cipher_suites",
        "curve_preferences",
    }
    for key in cfg:
        if key not in known:
            raise ConfigError(f"{where}.{key}", "unknown key")
    for key in ("cert_file", "key_file"):
        if not cfg.get(key):
            raise ConfigError(f"{where}.{key}", "is required")

    def resolve(p: str) -> str:
        return str((base / p) if not Path(p).is_absolute() else Path(p))

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _tls_version(cfg.get("min_version", "TLS12"), f"{where}.min_version")
    if "max_version" in cfg:
        ctx.maximum_version = _tls_version(cfg["max_version"], f"{where}.max_version")
        if ctx.maximum_version < ctx.minimum_version:
            raise ConfigError(f"{where}.max_version", "must not be below min_version")
    try:
        ctx.load_cert_chain(resolve(cfg["cert_file"]), resolve(cfg["key_file"]))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}.cert_file", f"cannot load certificate/key: {exc}") from None
    auth_type = cfg.get(
        "client_auth_type", "NoClientCert" if not cfg.get("client_ca_file") else "RequireAndVerifyClientCert"
    )
    if auth_type not in CLIENT_AUTH_TYPES:
        raise ConfigError(f"{where}.client_auth_type", f"must be one of {', '.join(CLIENT_AUTH_TYPES)}")
    if cfg.get("client_ca_file"):
        try:
            ctx.load_verify_locations(resolve(cfg["client_ca_file"]))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.client_ca_file", f"cannot load: {exc}") from None
    elif auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        raise ConfigError(f"{where}.client_ca_file", f"is required for client_auth_type {auth_type}")
    ctx.verify_mode = CLIENT_AUTH_TYPES[auth_type]
    return ctx


def _tls_version(value: Any, where: str) -> ssl.TLSVersion:
    """TLS10..TLS13, as exporter-toolkit spells them; anything else is an error, never a default."""
    if not isinstance(value, str) or value not in TLS_VERSIONS:
        raise ConfigError(where, f"must be one of {', '.join(TLS_VERSIONS)}")
    return TLS_VERSIONS[value]
