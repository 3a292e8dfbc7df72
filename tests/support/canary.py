"""A loopback "canary" HTTP(S) server that records every connection and request it receives.

Egress tests point hostile URLs at it (directly, via a fake DNS answer, or via a redirect) and assert that
nothing arrived. Use as ``async with running_canary() as canary: ...``; ``canary.connections`` counts TCP
accepts (so even a refused TLS handshake shows up) and ``canary.requests`` holds parsed requests.
"""

from __future__ import annotations

import datetime
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Recorded:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


Responder = Callable[[Recorded], bytes]


def ok(body: bytes = b"canary") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


def redirect(location: str, status: int = 302) -> bytes:
    return f"HTTP/1.1 {status} Found\r\nLocation: {location}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode()


@dataclass
class Canary:
    port: int
    respond: Responder
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[Recorded] = field(default_factory=list)
    sni_names: list[str | None] = field(default_factory=list)

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def untouched(self) -> bool:
        return self.connections == 0 and not self.requests

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        self.connections += 1
        try:
            with anyio.fail_after(5):
                if self.ssl_context is not None:
                    stream = await TLSStream.wrap(
                        stream, server_side=True, ssl_context=self.ssl_context, standard_compatible=False
                    )
                request = await _read_request(stream)
                self.requests.append(request)
                await stream.send(self.respond(request))
        except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, TimeoutError, ValueError):
            pass  # boundary: a client that hangs up or fails TLS is part of what the tests provoke
        finally:
            await stream.aclose()


async def _read_request(stream: anyio.abc.ByteStream) -> Recorded:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise ValueError("request head too large")
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += await stream.receive()
    return Recorded(method=method, target=target, headers=headers, body=body)


@asynccontextmanager
async def running_canary(
    respond: Responder | None = None, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Canary]:
    """Serve on 127.0.0.1:<ephemeral>; by default every request gets `200 canary` and the connection closes."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    canary = Canary(port=port, respond=respond or (lambda _request: ok()), ssl_context=ssl_context)
    if ssl_context is not None:

        def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            canary.sni_names.append(name)

        ssl_context.sni_callback = record_sni
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, canary.handle)
        try:
            yield canary
        finally:
            tg.cancel_scope.cancel()


@dataclass(frozen=True)
class TlsPair:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts only the throwaway CA


def make_tls_pair(hostname: str) -> TlsPair:
    """A throwaway CA and a certificate for `hostname` (a DNS name, not an IP: verification must use the name)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Plugboard test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:  # load_cert_chain only reads files
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            leaf_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    return TlsPair(server=server, client=client)
