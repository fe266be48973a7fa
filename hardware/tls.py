"""TLS links with client certificates: the certificate says which terminal is on the line.

CJIS asks for encryption in transit and strong authentication. A ``tls:`` link is mutual TLS:
the switch presents its server certificate and accepts only clients whose certificate a lab CA
signed; the client certificate's common name is the terminal id (``link.identity``), and the
switch refuses a sign-on for any other terminal. A client without a certificate, or with one
from another CA, fails the handshake and never reaches the switch.

Endpoint strings::

    tls:5021:interface=127.0.0.1:certKey=lab/pki/server.pem:caCerts=lab/pki/ca.pem
    tls:host=127.0.0.1:port=5021:certKey=lab/pki/T01.pem:caCerts=lab/pki/ca.pem

``tls_profile=fips|modern|legacy`` (``fips`` by default) sets the protocol versions and suites
(``PROFILES``): ``fips`` is TLS 1.2+ with AES-GCM suites only, as the CJIS Security Policy asks
(FIPS 140-2 approved encryption: ChaCha20 is refused); ``legacy`` warns.
``certKey`` is one PEM file holding the private key and the certificate; ``caCerts`` a PEM file
of the CA certificates to trust; a client may add ``hostname=`` (default: ``host``) to check
the server's name. ``write_lab_pki`` makes a lab CA, a server certificate (``localhost``,
127.0.0.1, ::1) and one client certificate per terminal with the ``cryptography`` package.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.logger import Logger
from zope.interface import implementer

from hardware.link import FramedProtocol, LinkHandler
from hardware.registry import EndpointError, LinkOptions

__all__ = [
    "ADAPTER",
    "PROFILES",
    "TlsAdapter",
    "apply_profile",
    "make_ca",
    "make_certificate",
    "write_lab_pki",
]

log = Logger()


def _parts(address: str) -> tuple[list[str], dict[str, str]]:
    positional, named = [], {}
    for part in address.split(":")[1:]:
        name, eq, value = part.partition("=")
        if eq:
            named[name] = value
        else:
            positional.append(part)
    return positional, named


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise EndpointError(f"tls: cannot read {what} {path!r}: {e.strerror}") from None


def _exists(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise EndpointError(f"tls: cannot read {what} {path!r}")
    return path


FIPS_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
)
FIPS_TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"

PROFILES = {
    "fips": "TLS 1.2 and 1.3, AES-GCM only (FIPS 140-2 approved; CJIS Security Policy 5.10.1.2)",
    "modern": "TLS 1.2 and 1.3, OpenSSL's default suites (ChaCha20-Poly1305 included)",
    "legacy": "TLS 1.0 and up, OpenSSL's default suites: for old terminals only",
}
"""``tls_profile=`` values; ``fips`` is the default."""


def apply_profile(ctx: Any, profile: str) -> None:
    """Set the protocol versions and suites of a ``tls_profile`` on a pyOpenSSL context."""
    from OpenSSL import SSL

    if profile not in PROFILES:
        raise EndpointError(
            f"tls: tls_profile must be one of {', '.join(PROFILES)}, not {profile!r}"
        )
    if profile == "legacy":
        log.warn(
            "tls_profile=legacy accepts TLS 1.0/1.1 and suites CJIS does not approve: "
            "for old terminals in a lab only"
        )
        ctx.set_min_proto_version(SSL.TLS1_VERSION)
        ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        return
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    if profile == "fips":
        ctx.set_cipher_list(FIPS_TLS12_CIPHERS.encode())
        ctx.set_tls13_ciphersuites(FIPS_TLS13_SUITES.encode())


def _context(cert_key: str | None, ca_certs: str, *, server: bool, profile: str = "fips") -> Any:
    """A pyOpenSSL context from PEM files (pyOpenSSL >= 24 warns on Twisted's X509 objects, and
    the tests treat warnings as errors, so the context is built here from paths)."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    apply_profile(ctx, profile)
    try:
        if cert_key is not None:
            ctx.use_certificate_chain_file(_exists(cert_key, "certKey"))
            ctx.use_privatekey_file(cert_key)
            ctx.check_privatekey()
        ctx.load_verify_locations(_exists(ca_certs, "caCerts"))
    except SSL.Error as e:
        raise EndpointError(
            f"tls: bad certificate files {cert_key!r} / {ca_certs!r}: {e}"
        ) from None
    mode = SSL.VERIFY_PEER
    if server:
        mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        ctx.set_session_id(b"lems")
    ctx.set_verify(mode, lambda conn, cert, errno, depth, ok: bool(ok))
    return ctx


class _Crl:
    """The lab's CRL (``crl.pem`` beside ``caCerts``), added to the context's store when it
    changes, so a revocation applies from the next handshake without a restart."""

    def __init__(self, ctx: Any, ca_certs: str) -> None:
        self.ctx = ctx
        self.path = Path(ca_certs).with_name("crl.pem")
        self.seen: float = -1.0

    def refresh(self) -> None:
        from OpenSSL import crypto

        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime == self.seen:
            return
        from cryptography import x509

        try:
            crl = x509.load_pem_x509_crl(self.path.read_bytes())
        except (OSError, ValueError) as e:
            log.error("tls: cannot read the CRL {path}: {e}", path=str(self.path), e=e)
            return
        store = self.ctx.get_cert_store()
        store.add_crl(crl)
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
        self.seen = mtime


@implementer(IOpenSSLServerConnectionCreator)
class _ServerContext:
    """Server connections for the listening side."""

    def __init__(self, ctx: Any, ca_certs: str = "") -> None:
        self.ctx = ctx
        self.crl = _Crl(ctx, ca_certs) if ca_certs else None
        if self.crl is not None:
            self.crl.refresh()

    def serverConnectionForTLS(self, tlsProtocol: Any) -> Any:
        from OpenSSL import SSL

        if self.crl is not None:
            self.crl.refresh()
        conn = SSL.Connection(self.ctx, None)
        conn.set_app_data(tlsProtocol)
        return conn


@implementer(IOpenSSLClientConnectionCreator)
class _ClientCreator:
    """Client connections that check the server's name (DNS name or IP) after the handshake."""

    def __init__(self, ctx: Any, hostname: str) -> None:
        from OpenSSL import SSL

        self.ctx = ctx
        self.hostname = hostname
        try:
            ipaddress.ip_address(hostname)
            self.is_ip = True
        except ValueError:
            self.is_ip = False
        ctx.set_info_callback(self._info)
        self._done = SSL.SSL_CB_HANDSHAKE_DONE
        self._start = SSL.SSL_CB_HANDSHAKE_START

    def _info(self, connection: Any, where: int, ret: int) -> None:
        if where & self._start and not self.is_ip:
            connection.set_tlsext_host_name(self.hostname.encode("idna"))
        elif where & self._done:
            from service_identity import CertificateError, VerificationError
            from service_identity.cryptography import (
                verify_certificate_hostname,
                verify_certificate_ip_address,
            )
            from twisted.python.failure import Failure

            try:
                cert = connection.get_peer_certificate(as_cryptography=True)
                if cert is None:
                    raise CertificateError("no server certificate")
                if self.is_ip:
                    verify_certificate_ip_address(cert, self.hostname)
                else:
                    verify_certificate_hostname(cert, self.hostname)
            except (VerificationError, CertificateError):
                connection.get_app_data().failVerification(Failure())

    def clientConnectionForTLS(self, tlsProtocol: Any) -> Any:
        from OpenSSL import SSL

        conn = SSL.Connection(self.ctx, None)
        conn.set_app_data(tlsProtocol)
        return conn


class TlsAdapter:
    """The ``tls:`` link kind (mutual TLS over TCP)."""

    requires = (("OpenSSL", "pyOpenSSL"), ("service_identity", "service-identity"))
    summary = "TLS with client certificates: the certificate names the terminal"

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[Any]:
        from twisted.internet import endpoints

        from hardware.endpoints import STREAM

        positional, named = _parts(address)
        port = named.pop("port", positional[0] if positional else "")
        if not port.isdigit():
            raise EndpointError(f"tls: needs a port: tls:5021:certKey=…:caCerts=…, not {address!r}")
        if "certKey" not in named or "caCerts" not in named:
            raise EndpointError(
                "tls: a listening TLS link needs certKey= (server key and "
                "certificate) and caCerts= (the CA that signs terminals)"
            )
        ca_certs = named.pop("caCerts")
        context = _ServerContext(
            _context(
                named.pop("certKey"),
                ca_certs,
                server=True,
                profile=named.pop("tls_profile", "fips"),
            ),
            ca_certs,
        )
        ep = endpoints.SSL4ServerEndpoint(
            reactor,
            int(port),
            context,
            backlog=int(named.pop("backlog", 50)),
            interface=named.pop("interface", ""),
        )
        if named:
            raise EndpointError(f"tls: unknown option(s) {', '.join(sorted(named))}")
        listening: Deferred[Any] = ep.listen(
            STREAM.factory(reactor, handler_factory, options, "tls")
        )
        return listening

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[FramedProtocol]:
        from twisted.internet import endpoints

        from hardware.endpoints import STREAM

        connected: Deferred[FramedProtocol] = endpoints.connectProtocol(
            self.client_endpoint(reactor, address),
            STREAM.protocol(reactor, handler, options, "tls"),
        )
        return connected

    def client_endpoint(self, reactor: IReactorTime, address: str) -> IStreamClientEndpoint:
        """The Twisted endpoint ``connect`` uses (``hardware.reconnect`` connects it again
        and again): TCP wrapped in TLS with the lab CA and the client's certificate."""
        from twisted.internet import endpoints

        positional, named = _parts(address)
        host = named.pop("host", positional[0] if positional else "127.0.0.1")
        port = named.pop("port", positional[1] if len(positional) > 1 else "")
        if not port.isdigit():
            raise EndpointError(f"tls: needs host= and port=, not {address!r}")
        if "caCerts" not in named:
            raise EndpointError("tls: a TLS client needs caCerts= (the CA of the switch)")
        ctx = _context(
            named.pop("certKey", None),
            named.pop("caCerts"),
            server=False,
            profile=named.pop("tls_profile", "fips"),
        )
        hostname = named.pop("hostname", host)
        if named:
            raise EndpointError(f"tls: unknown option(s) {', '.join(sorted(named))}")
        ep: IStreamClientEndpoint = endpoints.wrapClientTLS(
            _ClientCreator(ctx, hostname), endpoints.TCP4ClientEndpoint(reactor, host, int(port))
        )
        return ep


ADAPTER = TlsAdapter()


# ---------------------------------------------------------------------- certificates

KEY_TYPES = ("ec", "rsa")
"""Certificate keys ``lems init --tls --key`` makes: ECDSA P-256 or RSA 2048 (both FIPS 186)."""


def new_key(kind: str = "ec") -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise EndpointError(f"key type must be ec or rsa, not {kind!r}")


def make_ca(
    name: str = "LEMS TRAINING LAB CA", days: int = 3650, key_type: str = "ec"
) -> tuple[Any, Any]:
    """A new CA: (private key, certificate), both ``cryptography`` objects."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = new_key(key_type)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LEMS simulator"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_certificate(
    ca_key: Any,
    ca_cert: Any,
    common_name: str,
    *,
    server: bool = False,
    names: Iterable[str] = (),
    days: int = 825,
    key_type: str = "ec",
) -> tuple[Any, Any]:
    """A key and certificate signed by the CA: for a terminal (client, CN = terminal id, and the
    id as its subjectAltName DNS name too) or the switch (server; ``names`` are DNS names or IP
    addresses for the subjectAltName)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = new_key(key_type)
    if not server and not names:
        names = (common_name,)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    alt: list[Any] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(key: Any, cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    out = b""
    if key is not None:
        out += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    pem: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return out + pem


def write_lab_pki(
    directory: Path | str,
    terminals: Iterable[str],
    server_names: Iterable[str] = ("localhost", "127.0.0.1", "::1"),
    key_type: str = "ec",
) -> Path:
    """Write ``ca.pem`` (certificate), ``ca-key.pem``, ``server.pem`` and ``<terminal>.pem``
    (key + certificate each) into ``directory``; private keys are readable by the owner only."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = make_ca(key_type=key_type)

    def write(name: str, data: bytes, private: bool = True) -> None:
        path = directory / name
        path.write_bytes(data)
        if private:
            path.chmod(0o600)

    write("ca.pem", _pem(None, ca_cert), private=False)
    write("ca-key.pem", _pem(ca_key, ca_cert))
    write(
        "server.pem",
        _pem(
            *make_certificate(
                ca_key, ca_cert, "lems-switch", server=True, names=server_names, key_type=key_type
            )
        ),
    )
    for t in terminals:
        write(f"{t}.pem", _pem(*make_certificate(ca_key, ca_cert, t, key_type=key_type)))
    return directory


def revoke(directory: Path | str, terminal: str) -> Path:
    """Add the certificate ``<terminal>.pem`` of the lab PKI in ``directory`` to the lab's CRL
    (``crl.pem``, signed by the lab CA); a ``tls:`` listener whose ``caCerts`` sits beside it
    refuses that certificate from its next handshake on."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    directory = Path(directory)
    pem = _read(str(directory / f"{terminal}.pem"), "certificate")
    cert = x509.load_pem_x509_certificate(pem)
    ca_pem = _read(str(directory / "ca-key.pem"), "CA key")
    ca_key = serialization.load_pem_private_key(ca_pem, None)
    if not isinstance(ca_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise EndpointError(
            f"tls: the CA key in {directory} is neither EC nor RSA "
            f"({type(ca_key).__name__}); lems init makes one of those"
        )
    ca_cert = x509.load_pem_x509_certificate(_read(str(directory / "ca.pem"), "CA certificate"))
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=30))
    )
    crl_path = directory / "crl.pem"
    serials = {cert.serial_number}
    if crl_path.exists():
        old = x509.load_pem_x509_crl(crl_path.read_bytes())
        serials |= {r.serial_number for r in old}
    for serial in sorted(serials):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    tmp = crl_path.with_suffix(".tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.replace(crl_path)
    return crl_path
