#!/usr/bin/env python3
"""A small local identity provider for the entra token sources' tests
(lib/auth/oauth.c): Entra ID's v2.0 token endpoint (OAuth 2.0 client
credentials, RFC 6749 section 4.4, with a client secret or a federated
client assertion, RFC 7523), the instance metadata endpoint of managed
identity and App Service's local identity endpoint, on loopback, plain
http (or https with --tls-cert).  Tokens are RS256 JWTs signed by a key the tests generate, which the
test server (tdssrv/fedauth.py) validates.

A certificate's assertion (Entra ID's certificate credentials) is
verified as Entra ID does: the registered certificate found by the
header's x5t#S256 or x5t, the signature (PS256 or RS256) checked with its
public key, aud the endpoint itself, iss = sub the client id, a jti never
seen before, exp in the future and near.

It misbehaves on demand, chosen per request so that one instance serves a
whole suite: by the tenant in the path of a token request, or the client_id
of a managed-identity request (MODES below).  Prints "READY <port>" once
listening.  Secrets are never logged."""

import argparse
import base64
import hashlib
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SQL = 'https://database.windows.net/'
GRAPH = 'https://graph.microsoft.com/'
BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

# tenant (client credentials) or client_id (managed identity) -> behaviour
MODES = {
    'nosuch-tenant': 'aadsts:400:invalid_request:90002:Tenant not found.',
    'expired-secret': 'aadsts:401:invalid_client:7000222:The provided client '
                      'secret keys are expired.',
    'user-password': 'aadsts:400:invalid_grant:50126:Error validating '
                     'credentials due to invalid username or password.',
    'slow': 'slow',
    'garbage': 'garbage',
    'http500': 'http500',
    'huge': 'huge',
    'redirect': 'redirect',
    'no-token': 'no-token',
    'expired-token': 'expired-token',
    'wrong-aud': 'wrong-aud',
    'unmapped': 'unmapped',
    'echo-secret': 'echo-secret',
    'no-identity': 'no-identity',
    'stale-assertion': 'aadsts:400:invalid_client:700024:Client assertion '
                       'is not within its valid time range.',
    # one token, then every valid request refused as Entra ID refuses a
    # client that asks too often (the process's token cache, token_cache.h);
    # -short: a token within the cache's renewal margin of its expiry
    'once-kept': 'once',
    'once-drop': 'once',
    'once-short': 'once-short',
}
LOOP = ('aadsts:400:invalid_request:50196:The server terminated an operation '
        'because it encountered a client request loop.')


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def signed_by_certificate(assertion):
    """Whether the assertion names a certificate (x5t, x5t#S256): the
    application's own, not a federated token."""
    try:
        hdr = json.loads(b64url_decode(assertion.split('.')[0]))
    except (ValueError, TypeError):
        return False
    return isinstance(hdr, dict) and ('x5t' in hdr or 'x5t#S256' in hdr)


def cert_assertion_fault(a, assertion, endpoint):
    """None when the assertion is one Entra ID accepts for a.client_id at
    endpoint, else (AADSTS code, description)."""
    try:
        h64, c64, s64 = assertion.split('.')
        hdr = json.loads(b64url_decode(h64))
        claims = json.loads(b64url_decode(c64))
        sig = b64url_decode(s64)
    except (ValueError, TypeError):
        return (50027, 'JWT token is invalid or malformed.')
    cert = None
    for c in a.certs:
        der = c.public_bytes(serialization.Encoding.DER)
        if (hdr.get('x5t#S256') == b64url(hashlib.sha256(der).digest()) or
                hdr.get('x5t') == b64url(hashlib.sha1(der).digest())):
            cert = c
    if cert is None:
        return (700027, 'The certificate with identifier used to sign the '
                'client assertion is not registered on application.')
    signing = (h64 + '.' + c64).encode()
    pad = {'PS256': padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                salt_length=32),
           'RS256': padding.PKCS1v15()}.get(hdr.get('alg'))
    if pad is None:
        return (5002738, 'Invalid JWT token. Unsupported alg.')
    try:
        cert.public_key().verify(sig, signing, pad, hashes.SHA256())
    except InvalidSignature:
        return (700027, 'Client assertion failed signature validation.')
    now = time.time()
    if claims.get('aud') != endpoint:
        return (700212, 'No matching federated identity record found for '
                'presented assertion audience.')
    if claims.get('iss') != a.client_id or claims.get('sub') != a.client_id:
        return (700021, 'Client assertion application identifier doesn\'t '
                'match \'client_id\' parameter.')
    exp, nbf = claims.get('exp', 0), claims.get('nbf', 0)
    if not (nbf - 300 <= now < exp) or exp - nbf > 3600:
        return (700024, 'Client assertion is not within its valid time '
                'range.')
    jti = claims.get('jti')
    if not jti or jti in a.jtis:
        return (700226, 'The client assertion was already used (jti).')
    a.jtis.add(jti)
    return None


class Authority:
    def __init__(self, args):
        with open(args.key, 'rb') as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        self.tenant = args.tenant
        self.client_id = args.client_id
        with open(args.secret_file) as f:
            self.secret = f.read().strip()
        self.assertion = None
        if args.assertion_file:
            with open(args.assertion_file) as f:
                self.assertion = f.read().strip()
        self.certs = []  # the application's registered certificates
        for path in args.client_cert:
            with open(path, 'rb') as f:
                self.certs.append(x509.load_pem_x509_certificate(f.read()))
        self.jtis = set()
        self.issued = set()  # the 'once' tenants that had their token
        self.identity_header = args.identity_header
        self.principals = dict(p.split('=', 1) for p in args.principal)
        self.slow = args.slow

    def token(self, who, mode, aud=SQL):
        now = int(time.time())
        exp = (now - 600 if mode == 'expired-token' else
               now + 200 if mode == 'once-short' else now + 3600)
        claims = {
            'aud': GRAPH if mode == 'wrong-aud' else aud,
            'iss': 'https://sts.windows.net/%s/' % self.tenant,
            'iat': now - 60, 'nbf': now - 60, 'exp': exp,
            'tid': self.tenant, 'appid': who,
            'oid': ('00000000-dead-4000-8000-000000000000'
                    if mode == 'unmapped' else self.principals[who]),
            'ver': '1.0',
        }
        hdr = {'alg': 'RS256', 'typ': 'JWT', 'kid': 'test'}
        signing = (b64url(json.dumps(hdr).encode()) + '.' +
                   b64url(json.dumps(claims).encode()))
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(),
                            hashes.SHA256())
        return signing + '.' + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # the path only: no query, no body
        sys.stderr.write('authority: %s %s\n' % (
            self.command, self.path.split('?')[0]))

    def send(self, status, body, ctype='application/json'):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def aadsts(self, spec, extra=''):
        _, status, error, code, text = spec.split(':', 4)
        self.send(int(status), {
            'error': error,
            'error_description': 'AADSTS%s: %s%s Trace ID: 0\r\n' % (
                code, text, extra),
            'error_codes': [int(code)], 'trace_id': '0',
        })

    def misbehave(self, mode):
        """True when mode answered already (or slept first)."""
        a = self.server.authority
        if mode.startswith('aadsts:'):
            self.aadsts(mode)
        elif mode == 'slow':
            time.sleep(a.slow)
            return False
        elif mode == 'garbage':
            self.send(200, b'<html><body>Welcome to nginx!</body></html>',
                      'text/html')
        elif mode == 'http500':
            self.send(502, b'Bad Gateway\n', 'text/plain')
        elif mode == 'redirect':  # to the real tenant: never followed
            data = b'moved\n'
            self.send_response(307)
            self.send_header('Location', '/%s/oauth2/v2.0/token' % a.tenant)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif mode == 'huge':  # past the clients' 1 MiB cap on an answer
            self.send(200, b'x' * (2 << 20), 'text/plain')
        elif mode == 'no-token':
            self.send(200, {'token_type': 'Bearer', 'expires_in': 3599})
        elif mode == 'no-identity':
            self.send(400, {'error': 'invalid_request',
                            'error_description': 'Identity not found'})
        else:
            return False
        return True

    def do_POST(self):
        a = self.server.authority
        n = int(self.headers.get('Content-Length') or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(),
                                     keep_blank_values=True)
        f = {k: v[0] for k, v in form.items()}
        parts = self.path.split('/')
        if len(parts) != 5 or parts[2:] != ['oauth2', 'v2.0', 'token']:
            return self.send(404, b'not found\n', 'text/plain')
        tenant = parts[1]
        mode = MODES.get(tenant, '')
        if mode == 'echo-secret':
            return self.send(401, {
                'error': 'invalid_client',
                'error_description': 'AADSTS7000215: the secret %s is wrong' % (
                    f.get('client_secret')), 'error_codes': [7000215]})
        if self.misbehave(mode):
            return
        if tenant != a.tenant and tenant not in MODES:
            return self.aadsts(MODES['nosuch-tenant'])
        if f.get('grant_type') != 'client_credentials':
            return self.send(400, {'error': 'unsupported_grant_type'})
        if f.get('client_id') != a.client_id:
            return self.aadsts(
                'aadsts:400:unauthorized_client:700016:Application with '
                'identifier \'%s\' was not found in the directory.' %
                f.get('client_id', ''))
        if 'client_assertion' in f and signed_by_certificate(
                f['client_assertion']):
            scheme = 'https' if self.server.tls else 'http'
            fault = (f.get('client_assertion_type') != BEARER and
                     (50027, 'Invalid client_assertion_type.') or
                     cert_assertion_fault(a, f['client_assertion'],
                                          '%s://%s%s' % (
                                              scheme, self.headers['Host'],
                                              self.path)))
            if fault:
                return self.aadsts('aadsts:401:invalid_client:%d:%s' % fault)
        elif 'client_assertion' in f:  # workload identity's federated token
            if (f.get('client_assertion_type') != BEARER or
                    f['client_assertion'] != a.assertion):
                return self.aadsts('aadsts:400:invalid_client:700213:No '
                                   'matching federated identity record found.')
        elif f.get('client_secret') != a.secret:
            return self.aadsts('aadsts:401:invalid_client:7000215:Invalid '
                               'client secret provided.')
        if f.get('scope') != SQL + '.default':
            return self.aadsts('aadsts:400:invalid_resource:500011:The '
                               'resource principal was not found.')
        if mode.startswith('once'):
            if tenant in a.issued:
                return self.aadsts(LOOP)
            a.issued.add(tenant)
        self.send(200, {'token_type': 'Bearer', 'expires_in': 3599,
                        'ext_expires_in': 3599,
                        'access_token': a.token(a.client_id, mode)})

    def do_GET(self):
        a = self.server.authority
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == '/metadata/identity/oauth2/token':
            if (self.headers.get('Metadata') != 'true' or
                    q.get('api-version') != '2018-02-01'):
                return self.send(400, {'error': 'invalid_request',
                                       'error_description': 'Required '
                                       'metadata header not specified'})
        elif url.path == '/msi/token':
            if self.headers.get('X-IDENTITY-HEADER') != a.identity_header:
                return self.send(401, {'statusCode': 401,
                                       'message': 'Unauthorized request'})
        else:
            return self.send(404, b'not found\n', 'text/plain')
        who = q.get('client_id', 'system')
        mode = MODES.get(who, '')
        if self.misbehave(mode):
            return
        if who not in a.principals:
            who = 'system'
        if q.get('resource') != SQL:
            return self.send(400, {'error': 'invalid_resource',
                                   'error_description': 'unknown resource'})
        now = int(time.time())
        self.send(200, {'access_token': a.token(who, mode),
                        'expires_in': '3599', 'expires_on': str(now + 3599),
                        'not_before': str(now), 'resource': SQL,
                        'token_type': 'Bearer'})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--key', required=True, help='the signing key (PEM)')
    ap.add_argument('--tenant', required=True)
    ap.add_argument('--client-id', required=True,
                    help='the service principal (client credentials)')
    ap.add_argument('--secret-file', required=True,
                    help='a file holding its client secret')
    ap.add_argument('--assertion-file',
                    help='the federated token a workload identity presents')
    ap.add_argument('--client-cert', action='append', default=[],
                    metavar='PEM',
                    help='a certificate registered for the service '
                         'principal (repeatable)')
    ap.add_argument('--identity-header', default='',
                    help="App Service's IDENTITY_HEADER")
    ap.add_argument('--principal', action='append', default=[],
                    metavar='CLIENT=OID',
                    help='the oid of a client id\'s tokens (repeatable; '
                         '"system": the system-assigned identity)')
    ap.add_argument('--slow', type=float, default=8,
                    help='seconds the "slow" mode waits')
    ap.add_argument('--tls-cert', help='serve https with this certificate')
    ap.add_argument('--tls-key', help='... and its key')
    args = ap.parse_args()
    srv = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    srv.daemon_threads = True
    srv.tls = bool(args.tls_cert)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.authority = Authority(args)
    print('READY %d' % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    main()
