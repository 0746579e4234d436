#!/usr/bin/env python3
"""mkcerts.py OUTDIR -- throwaway certificates for the TLS tests.

Writes into OUTDIR (EC P-256 keys, PEM):
  ca.pem ca.key                test CA
  server.pem server.key        CN=localhost, SAN DNS:localhost, IP:127.0.0.1,
                               IP:::1, signed by the CA, valid now-1d..now+10y
  expired.pem expired.key      same names, signed by the CA, 2020-01-01..2021-01-01
  wrongname.pem wrongname.key  signed by the CA, only DNS:wrong.example
  selfsigned.pem selfsigned.key  localhost names, self-signed
  otherca.pem (otherca.key)    an unrelated CA
  otherleaf.pem otherleaf.key  localhost names, signed by the unrelated CA
  notyet.pem notyet.key        localhost names, signed by the CA, valid from
                               now+10y
  clientonly.pem clientonly.key  localhost names, signed by the CA, extended
                               key usage clientAuth only (not for servers)
  revoked.pem revoked.key      localhost names, signed by the CA, revoked by
  ca-crl.pem                   the CA and its CRL (which lists revoked.pem)
  partial.pem partial.key      signed by the CA, only DNS:db*.wrong.example
                               (a partial wildcard, which must not match)
Idempotent: existing files are kept when all of them are present.
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ['ca.pem', 'ca.key', 'server.pem', 'server.key', 'expired.pem',
         'expired.key', 'wrongname.pem', 'wrongname.key', 'selfsigned.pem',
         'selfsigned.key', 'otherca.pem', 'otherca.key', 'otherleaf.pem',
         'otherleaf.key', 'notyet.pem', 'notyet.key', 'clientonly.pem',
         'clientonly.key', 'revoked.pem',
         'revoked.key', 'ca-crl.pem', 'partial.pem', 'partial.key']


def key():
    return ec.generate_private_key(ec.SECP256R1())


def sign(builder, k):
    """builder signed by k, its ECDSA signature of one shape: r and s each
    32 bytes without a leading zero (DER 30 44 02 20 .. 02 20 ..).  The
    signature is random, its integers 31 to 33 bytes long; Wine's crypt32
    refused some of the other shapes (every TLS check of one Windows run
    failed with TRUST_E_CERT_SIGNATURE), so the shape is not left to
    chance: about one signature in four has it."""
    while True:
        signed = builder.sign(k, hashes.SHA256())
        sig = signed.signature
        if sig[1] == 0x44 and sig[2:4] == b'\x02\x20' and sig[36:38] == b'\x02\x20':
            return signed


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'tdsclient tests'),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write(outdir, base, cert, k):
    with open(os.path.join(outdir, base + '.pem'), 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(outdir, base + '.key'), 'wb') as f:
        f.write(k.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    os.chmod(os.path.join(outdir, base + '.key'), 0o600)


def make_ca(cn, now):
    k = key()
    n = name(cn)
    b = (x509.CertificateBuilder().subject_name(n).issuer_name(n)
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True,
                                         True, False, False), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), False))
    return sign(b, k), k


def make_leaf(cn, sans, issuer_cert, issuer_key, start, end,
              eku=ExtendedKeyUsageOID.SERVER_AUTH):
    k = key()
    b = (x509.CertificateBuilder().subject_name(name(cn))
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
         .add_extension(x509.ExtendedKeyUsage([eku]), False)
         .add_extension(x509.SubjectAlternativeName(sans), False))
    if issuer_cert is None:
        b = b.issuer_name(name(cn))
        return sign(b, k), k
    b = (b.issuer_name(issuer_cert.subject)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             issuer_key.public_key()), False))
    return sign(b, issuer_key), k


def main():
    if len(sys.argv) != 2:
        sys.stderr.write('usage: mkcerts.py OUTDIR\n')
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    if all(os.path.exists(os.path.join(outdir, f)) for f in FILES):
        return 0
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    local = [x509.DNSName('localhost'),
             x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
             x509.IPAddress(ipaddress.ip_address('::1'))]
    ca, ca_k = make_ca('tdsclient test CA', now)
    write(outdir, 'ca', ca, ca_k)
    day = datetime.timedelta(days=1)
    c, k = make_leaf('localhost', local, ca, ca_k, now - day, now + 3650 * day)
    write(outdir, 'server', c, k)
    utc = datetime.timezone.utc
    c, k = make_leaf('localhost', local, ca, ca_k,
                     datetime.datetime(2020, 1, 1, tzinfo=utc),
                     datetime.datetime(2021, 1, 1, tzinfo=utc))
    write(outdir, 'expired', c, k)
    c, k = make_leaf('wrong.example', [x509.DNSName('wrong.example')], ca, ca_k,
                     now - day, now + 3650 * day)
    write(outdir, 'wrongname', c, k)
    c, k = make_leaf('db1.wrong.example', [x509.DNSName('db*.wrong.example')],
                     ca, ca_k, now - day, now + 3650 * day)
    write(outdir, 'partial', c, k)
    c, k = make_leaf('localhost', local, None, None, now - day, now + 3650 * day)
    write(outdir, 'selfsigned', c, k)
    other, other_k = make_ca('some other CA', now)
    write(outdir, 'otherca', other, other_k)
    c, k = make_leaf('localhost', local, other, other_k, now - day, now + 3650 * day)
    write(outdir, 'otherleaf', c, k)
    c, k = make_leaf('localhost', local, ca, ca_k, now + 3650 * day,
                     now + 7300 * day)
    write(outdir, 'notyet', c, k)
    c, k = make_leaf('localhost', local, ca, ca_k, now - day, now + 3650 * day,
                     eku=ExtendedKeyUsageOID.CLIENT_AUTH)
    write(outdir, 'clientonly', c, k)
    c, k = make_leaf('localhost', local, ca, ca_k, now - day, now + 3650 * day)
    write(outdir, 'revoked', c, k)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(now - day).next_update(now + 3650 * day)
           .add_revoked_certificate(
               x509.RevokedCertificateBuilder().serial_number(c.serial_number)
               .revocation_date(now - day).build()))
    crl = sign(crl, ca_k)
    with open(os.path.join(outdir, 'ca-crl.pem'), 'wb') as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
        f.write(crl.public_bytes(serialization.Encoding.PEM))
    return 0


if __name__ == '__main__':
    sys.exit(main())
