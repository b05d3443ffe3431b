"""TLS for the mesh's front doors (gRPC and HTTP) and their clients.

A server serves TLS when it has a certificate and its key (PEM files), and
mutual TLS when it also has a client CA: a client must then present a
certificate that CA signed. Settings (mesh-wide): ``MLMESH_TLS_CERT``,
``MLMESH_TLS_KEY``, ``MLMESH_TLS_CLIENT_CA``; clients: ``MLMESH_CLIENT_TLS_CA``
(the CA that signed the servers), ``MLMESH_CLIENT_TLS_CERT`` / ``_KEY`` (their
own, for mutual TLS). Only paths travel in settings; key files stay on disk.
"""

from __future__ import annotations

import ipaddress
import json
import re
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


# A call that fails UNAVAILABLE (its replica died under it, before the
# channel saw the connection go) is made again, on the next replica: up to 3
# attempts, 0.1-1 s apart. The mesh's calls are safe to repeat in effect:
# ingest's events carry their ids (de-duplicated downstream), a Predict its
# request id.
REPLICA_RETRY = json.dumps({"methodConfig": [{"name": [{}], "retryPolicy": {
    "maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})


def channel_target(address: str) -> tuple[str, list[tuple[str, int | str]]]:
    """gRPC's target and channel options for ``address``: one ``host:port`` (or
    any target gRPC knows, such as ``dns:///name:port``) as it is; a
    comma-separated list of replicas' ``ip:port`` as a static address list
    that the channel balances round-robin, call by call, skipping a replica
    whose connection is down, and a call that failed UNAVAILABLE is made
    again on the next (:data:`REPLICA_RETRY`). A list of host names is refused: gRPC resolves
    a list of IP addresses only (for a name with several addresses, give
    ``dns:///name:port``, which is balanced the same way)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    if re.match(r"^(ipv4|ipv6|dns|unix|unix-abstract|vsock|xds|google-c2p):", address):
        return address, []  # a target in gRPC's own syntax: as given
    if len(parts) <= 1:
        return (parts[0] if parts else address), []
    families = set()
    for part in parts:
        host, sep, port = part.rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")
        if not sep or not port.isdigit():
            raise ValueError(f"replica list {address!r}: {part!r} has no port")
        try:
            version = ipaddress.ip_address(host.strip("[]")).version
        except ValueError:
            raise ValueError(f"replica list {address!r}: {part!r} is not ip:port (a list "
                             "takes IP addresses; for a DNS name use dns:///name:port)"
                             ) from None
        if version == 6 and not bracketed:
            raise ValueError(f"replica list {address!r}: write an IPv6 address as [ip]:port")
        families.add(version)
    if len(families) > 1:
        raise ValueError(f"replica list {address!r} mixes IPv4 and IPv6 addresses")
    scheme = "ipv4" if families == {4} else "ipv6"
    # TLS checks the servers' certificate against the channel's authority:
    # the first replica's, not the whole list (every replica of a service
    # serves the same certificate)
    return f"{scheme}:{','.join(parts)}", [("grpc.lb_policy_name", "round_robin"),
                                           ("grpc.service_config", REPLICA_RETRY),
                                           ("grpc.default_authority", parts[0])]


def open_channel(address: str, tls: ClientTls | None,
                 options: list[tuple[str, int | str]] | None = None) -> grpc.Channel:
    """A gRPC channel to ``address`` (one server, or replicas: :func:`channel_target`):
    TLS when ``tls`` is given, else plaintext."""
    target, balanced = channel_target(address)
    opts = [*(options or []), *balanced]
    if tls is None:
        return grpc.insecure_channel(target, options=opts)
    return grpc.secure_channel(target, tls.grpc_credentials(), options=opts)
