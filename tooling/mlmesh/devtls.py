"""Local TLS for ``mlmesh up --tls``: a CA, a server certificate (localhost,
127.0.0.1, ::1 and the compose service names) and a client certificate, made
with the ``cryptography`` package under ``<state dir>/tls`` (keys mode 0600).
The marker ``enabled`` tells clients (the CLI, the demo, the launcher's own
health probes) to use them; ``mlmesh up`` without ``--tls`` removes it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from mlmesh.tls import ClientTls, ServerTls

NAMES = ("localhost", "ingest", "inference")
IPS = ("127.0.0.1", "::1")
DAYS = 365


def tls_dir(state_dir: Path) -> Path:
    return state_dir / "tls"


def _write(path: Path, data: bytes, private: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _issue(subject: str, issuer_name: object, issuer_key: object, key: object, ca: bool,
           server: bool) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(name if issuer_name is None else issuer_name)  # type: ignore[arg-type]
         .public_key(key.public_key())  # type: ignore[attr-defined]
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=DAYS))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in NAMES] +
            [x509.IPAddress(ipaddress.ip_address(i)) for i in IPS]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())  # type: ignore[arg-type]


def ensure_dev_tls(state_dir: Path) -> tuple[ServerTls, ClientTls]:
    """The local CA and certificates (made once, kept while valid) and the
    ``enabled`` marker clients follow."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    d = tls_dir(state_dir)
    paths = {n: d / n for n in ("ca.pem", "server.pem", "server-key.pem", "client.pem",
                                "client-key.pem")}
    server = ServerTls(paths["server.pem"], paths["server-key.pem"], paths["ca.pem"])
    client = ClientTls(paths["ca.pem"], paths["client.pem"], paths["client-key.pem"])
    if not all(p.is_file() for p in paths.values()):
        d.mkdir(parents=True, exist_ok=True)

        def pem_key(k: object) -> bytes:
            return k.private_bytes(  # type: ignore[attr-defined,no-any-return]
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())

        def pem_cert(c: object) -> bytes:
            return c.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined,no-any-return]

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _issue("mlmesh local CA", None, None, ca_key, ca=True, server=False)
        srv_key, cli_key = ec.generate_private_key(ec.SECP256R1()), \
            ec.generate_private_key(ec.SECP256R1())
        srv = _issue("mlmesh local server", ca.subject, ca_key, srv_key,  # type: ignore[attr-defined]
                     ca=False, server=True)
        cli = _issue("mlmesh local client", ca.subject, ca_key, cli_key,  # type: ignore[attr-defined]
                     ca=False, server=False)
        _write(paths["ca.pem"], pem_cert(ca))
        _write(d / "ca-key.pem", pem_key(ca_key), private=True)
        _write(paths["server.pem"], pem_cert(srv))
        _write(paths["server-key.pem"], pem_key(srv_key), private=True)
        _write(paths["client.pem"], pem_cert(cli))
        _write(paths["client-key.pem"], pem_key(cli_key), private=True)
    (d / "enabled").touch()
    return server, client


def disable_dev_tls(state_dir: Path) -> None:
    (tls_dir(state_dir) / "enabled").unlink(missing_ok=True)


def dev_client_tls(state_dir: Path) -> ClientTls | None:
    d = tls_dir(state_dir)
    if not (d / "enabled").exists():
        return None
    return ClientTls(d / "ca.pem", d / "client.pem", d / "client-key.pem")
