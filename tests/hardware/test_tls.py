"""TLS links with client certificates, against Python's own ssl module as the client: the
certificate names the terminal; no certificate, a certificate from another CA, or a certificate
for another terminal is refused."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings

import pytest
from support import demo_lab, wait

from hardware import endpoints
from hardware.registry import EndpointError
from hardware.tls import write_lab_pki


@pytest.fixture
def pki(tmp_path):
    return write_lab_pki(tmp_path / "pki", ["T01", "T04"])


def context(pki, cert: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki / "ca.pem"))
    if cert is not None:
        ctx.load_cert_chain(str(cert))
    return ctx


async def switch_on_tls(tmp_path, reactor, pki):
    from lems.switch import Switch

    switch = Switch(demo_lab(tmp_path / "lab"), reactor)
    switch.start()
    port = await wait(
        switch.listen(
            f"tls:0:interface=127.0.0.1:certKey={pki / 'server.pem'}:caCerts={pki / 'ca.pem'}"
        )
    )
    return switch, port.getHost().port


async def exchange(port: int, ctx: ssl.SSLContext, line: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
    )
    try:
        writer.write(line)
        await writer.drain()
        out = b""
        while True:  # everything the switch says until it has been quiet for 0.5 s
            try:
                chunk = await asyncio.wait_for(reader.read(4096), 0.5)
            except TimeoutError:
                return out
            if not chunk:
                return out
            out += chunk
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_certificate_names_the_terminal(tmp_path, reactor, pki):
    switch, port = await switch_on_tls(tmp_path, reactor, pki)
    try:
        out = await exchange(port, context(pki, pki / "T01.pem"), b"LOGON.T01.OP01.train-01\n")
        assert b"SIGN-ON ACCEPTED TERMINAL/T01" in out
        out = await exchange(port, context(pki, pki / "T04.pem"), b"LOGON.T01.OP01.train-01\n")
        assert b"CODE/SIGN-ON" in out
        assert b"CERTIFICATE IDENTIFIES TERMINAL T04, NOT T01" in out
    finally:
        await wait(switch.stop())


async def test_no_certificate_or_a_foreign_one_is_refused(tmp_path, reactor, pki):
    other = write_lab_pki(tmp_path / "other", ["T01"])
    switch, port = await switch_on_tls(tmp_path, reactor, pki)
    try:
        for cert in (None, other / "T01.pem"):
            with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
                out = await exchange(port, context(pki, cert), b"LOGON.T01.OP01.train-01\n")
                # TLS 1.3 reports the refusal after the handshake: the link just ends
                assert not out
                raise ConnectionError("closed without an answer")
        assert switch.stats["logons"] == 0
    finally:
        await wait(switch.stop())


async def test_bad_tls_strings_are_refused(reactor, tmp_path, pki):
    with pytest.raises(EndpointError, match="certKey"):
        endpoints.listen(reactor, "tls:0", lambda: None)
    with pytest.raises(EndpointError, match="cannot read"):
        endpoints.listen(
            reactor, f"tls:0:certKey={tmp_path}/none.pem:caCerts={pki}/ca.pem", lambda: None
        )


def test_lems_init_tls_writes_a_lab_pki(tmp_path):
    import subprocess
    import sys

    from cryptography import x509

    out = subprocess.run(
        [sys.executable, "-m", "lems.cli", "init", str(tmp_path / "lab"), "--tls"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    pki = tmp_path / "lab" / "pki"
    assert "tls:5021" in out.stdout
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    t01 = x509.load_pem_x509_certificates((pki / "T01.pem").read_bytes())[0]
    assert t01.subject.rfc4514_string() == "CN=T01" and t01.issuer == ca.subject
    assert (pki / "T01.pem").stat().st_mode & 0o077 == 0  # private keys: owner only


async def handshake(port: int, ctx: ssl.SSLContext) -> tuple[str, str]:
    """(protocol version, cipher) the switch agreed to with this client."""
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
    )
    try:
        obj = writer.get_extra_info("ssl_object")
        return obj.version(), obj.cipher()[0]
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@pytest.mark.parametrize("profile", ["fips", "modern", "legacy", None])
async def test_tls_profiles(tmp_path, reactor, pki, profile):
    """fips (the default): AES-GCM only, a ChaCha20-only client is refused; modern takes
    ChaCha20; TLS 1.1 only under legacy."""
    from lems.switch import Switch

    switch = Switch(demo_lab(tmp_path / "lab"), reactor)
    switch.start()
    extra = f":tls_profile={profile}" if profile else ""
    port = (
        (
            await wait(
                switch.listen(
                    f"tls:0:interface=127.0.0.1:certKey={pki / 'server.pem'}"
                    f":caCerts={pki / 'ca.pem'}" + extra
                )
            )
        )
        .getHost()
        .port
    )
    try:
        _version, cipher = await handshake(port, context(pki, pki / "T01.pem"))
        if profile in ("fips", None):
            assert "GCM" in cipher, cipher
        chacha = context(pki, pki / "T01.pem")
        chacha.maximum_version = ssl.TLSVersion.TLSv1_2
        chacha.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
        if profile in ("fips", None):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await handshake(port, chacha)
        else:
            assert "CHACHA20" in (await handshake(port, chacha))[1]
        old = context(pki, pki / "T01.pem")
        with warnings.catch_warnings():  # a deprecated version is what this client is for
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        with contextlib.suppress(ssl.SSLError):
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
        if profile == "legacy":
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                # the client's own OpenSSL may refuse TLS 1.1 before the switch is asked
                assert (await handshake(port, old))[0] == "TLSv1.1"
        else:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await handshake(port, old)
    finally:
        await wait(switch.stop())


async def test_unknown_tls_profile_is_refused(reactor, pki):
    with pytest.raises(EndpointError, match="tls_profile must be one of fips, modern, legacy"):
        endpoints.listen(
            reactor,
            f"tls:0:certKey={pki}/server.pem:caCerts={pki}/ca.pem:tls_profile=weak",
            lambda: None,
        )


async def test_rsa_certificates_san_identity_and_a_revoked_terminal(tmp_path, reactor):
    """lems init --tls --key rsa; the terminal named by the certificate's subjectAltName signs
    on; after lems pki revoke T01 (while the switch runs) T01's handshake fails, T04's not."""
    import subprocess
    import sys

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "init",
            str(tmp_path / "lab"),
            "--tls",
            "--key",
            "rsa",
            "--training-passwords",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    pki = tmp_path / "lab" / "pki"
    cert = x509.load_pem_x509_certificate((pki / "T01.pem").read_bytes())
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["T01"]

    from lems.lab import load_lab
    from lems.switch import Switch

    switch = Switch(load_lab(tmp_path / "lab"), reactor)
    switch.start()
    port = (
        (
            await wait(
                switch.listen(
                    f"tls:0:interface=127.0.0.1:certKey={pki}/server.pem:caCerts={pki}/ca.pem"
                )
            )
        )
        .getHost()
        .port
    )
    try:
        out = await exchange(port, context(pki, pki / "T01.pem"), b"LOGON.T01.OP01.train-01\n")
        assert b"SIGN-ON ACCEPTED TERMINAL/T01" in out
        r = subprocess.run(
            [sys.executable, "-m", "lems.cli", "pki", "revoke", str(tmp_path / "lab"), "T01"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            out = await exchange(port, context(pki, pki / "T01.pem"), b"LOGON.T01.OP01.train-01\n")
            assert not out  # TLS 1.3: the refusal comes after the client's handshake ends
            raise ConnectionError("closed without an answer")
        out = await exchange(port, context(pki, pki / "T04.pem"), b"LOGON.T04.OP04.train-04\n")
        assert b"SIGN-ON ACCEPTED TERMINAL/T04" in out or b"CODE/SIGN-ON" in out
    finally:
        await wait(switch.stop())


async def test_require_tls_refuses_the_terminal_on_any_other_link(tmp_path, reactor, pki):
    from lems.switch import Switch
    from terminals.client import TerminalClient

    lab = demo_lab(
        tmp_path / "lab",
        edit=lambda text: text.replace('id = "T01"', 'id = "T01"\nrequire_tls = true', 1),
    )
    assert lab.terminals["T01"].require_tls
    switch = Switch(lab, reactor)
    switch.start()
    try:
        tls = (
            (
                await wait(
                    switch.listen(
                        f"tls:0:interface=127.0.0.1:certKey={pki / 'server.pem'}:"
                        f"caCerts={pki / 'ca.pem'}"
                    )
                )
            )
            .getHost()
            .port
        )
        tcp = (await wait(switch.listen("tcp:0:interface=127.0.0.1"))).getHost().port
        plain = TerminalClient(reactor)
        await wait(plain.connect(f"tcp:host=127.0.0.1:port={tcp}"))
        refused = await wait(plain.logon("T01", "OP01", "train-01"))
        assert refused.key == "REJ" and "ONLY OVER TLS" in refused.body
        plain.close()
        out = await exchange(tls, context(pki, pki / "T01.pem"), b"LOGON.T01.OP01.train-01\n")
        assert b"SIGN-ON ACCEPTED TERMINAL/T01" in out
    finally:
        await wait(switch.stop())
