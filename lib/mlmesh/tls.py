"""TLS for the mesh's front doors (gRPC and HTTP) and their clients.

A server serves TLS when it has a certificate and its key (PEM files), and
mutual TLS when it also has a client CA: a client must then present a
certificate that CA signed. Settings (mesh-wide): ``MLMESH_TLS_CERT``,
``MLMESH_TLS_KEY``, ``MLMESH_TLS_CLIENT_CA``; clients: ``MLMESH_CLIENT_TLS_CA``
(the CA that signed the servers), ``MLMESH_CLIENT_TLS_CERT`` / ``_KEY`` (their
own, for mutual TLS). Only paths travel in settings; key files stay on disk.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class ServerTls:
    cert: Path
    key: Path
    client_ca: Path | None = None

    @classmethod
    def of(cls, cert: Path | None, key: Path | None,
           client_ca: Path | None = None) -> ServerTls | None:
        """None when neither file is given; an error when only one is."""
        if cert is None and key is None:
            if client_ca is not None:
                raise ValueError("a TLS client CA needs a server certificate and key too")
            return None
        if cert is None or key is None:
            raise ValueError("TLS needs both a certificate and its key (MLMESH_TLS_CERT, "
                             "MLMESH_TLS_KEY)")
        for p in (cert, key, client_ca):
            if p is not None and not p.is_file():
                raise ValueError(f"TLS file {p} does not exist")
        return cls(cert, key, client_ca)

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes() if self.client_ca else None,
            require_client_auth=self.mutual)

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_ca is not None:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


@dataclass(frozen=True)
class ClientTls:
    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=self.key.read_bytes() if self.key else None,
            certificate_chain=self.cert.read_bytes() if self.cert else None)

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if self.cert is not None and self.key is not None:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


def open_channel(address: str, tls: ClientTls | None,
                 options: list[tuple[str, int | str]] | None = None) -> grpc.Channel:
    """A gRPC channel to ``address``: TLS when ``tls`` is given, else plaintext."""
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.grpc_credentials(), options=options)
