"""Microsoft Entra ID access tokens, as Azure SQL takes them (MS-TDS
federated authentication): PRELOGIN's FEDAUTHREQUIRED answer (and a
NONCEOPT on demand), the LOGIN7 FEDAUTH feature (2.2.6.4) with the token
in it (security token) or, for the ADAL library, FEDAUTHINFO (2.2.7.12:
the STS URL and the SPN) answered by the Federated Authentication Token
message (2.2.6.3, packet 0x08); the token validated as an RS256 JWT against a public key
the tests generate (signature, audience, issuer and tenant, exp and nbf),
its principal (upn, else oid) mapped to a login, and the login errors Azure
SQL answers: 18456 state 233 "Token is expired.", state 1 otherwise, with
'<token-identified principal>' as the user.  The token is never logged."""

import base64
import json
import os
import struct
import time

from .log import log

PRINCIPAL = '<token-identified principal>'
LIB_SECURITY_TOKEN = 0x01
LIB_ADAL = 0x02
PKT_FEDAUTH = 0x08
SKEW = 300  # seconds of clock skew allowed on exp and nbf, as Entra ID


def add_arguments(ap):
    ap.add_argument('--entra-key', metavar='PEM',
                    help='accept Entra ID access tokens (FEDAUTH, security '
                         'token) signed RS256 by the key whose public key '
                         'is in PEM')
    ap.add_argument('--entra-tenant', metavar='TID',
                    help='the tenant the tokens must come from (tid, and iss '
                         'https://sts.windows.net/TID/ or '
                         'https://login.microsoftonline.com/TID/v2.0)')
    ap.add_argument('--entra-audience', default='https://database.windows.net/',
                    help='the audience (aud) tokens must name')
    ap.add_argument('--entra-user', action='append', default=[],
                    metavar='PRINCIPAL=LOGIN',
                    help='a token principal (upn or oid) -> login (repeatable)')
    ap.add_argument('--entra-nonce', action='store_true',
                    help='send NONCEOPT in the PRELOGIN answer; FEDAUTH must '
                         'echo it')
    ap.add_argument('--fedauth-sts', metavar='URL',
                    help='the STS URL FEDAUTHINFO names (ADAL library); '
                         'default https://login.microsoftonline.com/ and '
                         'the --entra-tenant (or common)')
    ap.add_argument('--fedauth-spn', metavar='SPN',
                    help='the SPN FEDAUTHINFO names (default: '
                         '--entra-audience)')
    ap.add_argument('--fedauth-info',
                    choices=('malformed', 'none', 'twice', 'to-token',
                             'with-ack'),
                    help='misbehave (ADAL library): a FEDAUTHINFO whose '
                         'data lies outside it, none (the login accepted '
                         'at once), two of them, one in the LOGINACK '
                         'message (with-ack, no token asked); or one sent '
                         'to a security-token login (to-token)')
    ap.add_argument('--entra-ack', choices=('none', 'data'),
                    help='misbehave: accept the token but leave FEDAUTH out '
                         'of FEATUREEXTACK (none), or acknowledge it with '
                         'data a security token never gets (data)')


def configure(cfg, args):
    cfg.entra_key = None
    cfg.entra_nonce = args.entra_nonce
    cfg.entra_tenant = args.entra_tenant
    cfg.entra_audience = args.entra_audience
    cfg.entra_users = {}
    cfg.entra_ack = args.entra_ack
    cfg.fedauth_sts = args.fedauth_sts or (
        'https://login.microsoftonline.com/%s' % (args.entra_tenant or 'common'))
    cfg.fedauth_spn = args.fedauth_spn or args.entra_audience
    cfg.fedauth_info = args.fedauth_info
    for spec in args.entra_user:
        who, sep, login = spec.partition('=')
        if not sep:
            raise SystemExit('--entra-user wants PRINCIPAL=LOGIN')
        cfg.entra_users[who] = login
    if args.entra_key:
        from cryptography.hazmat.primitives import serialization
        with open(args.entra_key, 'rb') as f:
            cfg.entra_key = serialization.load_pem_public_key(f.read())


def prelogin_answer(sess, opts):
    """(B_FEDAUTHREQUIRED answer, nonce or None) for a client's PRELOGIN
    options: 0x01 when tokens are accepted and the client asked."""
    cfg = sess.cfg
    asked = 6 in opts and opts[6][:1] == b'\x01'
    sess.fedauth_required = 1 if asked and cfg.entra_key else 0
    sess.fedauth_nonce = (os.urandom(32) if asked and cfg.entra_key
                          and cfg.entra_nonce else None)
    return sess.fedauth_required, sess.fedauth_nonce


def feature_ack(cfg):
    """The FEDAUTH entry of FEATUREEXTACK (2.2.7.11): no data for a
    security token unless the client's PRELOGIN sent a nonce (ours never
    do)."""
    if cfg.entra_ack == 'none':
        return b''
    data = b'\x00' * 5 if cfg.entra_ack == 'data' else b''
    return bytes([0x02]) + struct.pack('<I', len(data)) + data


def _b64url(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def _refuse(sess, why, state=1, suffix=''):
    log('connection %d token refused: %s' % (sess.spid, why))
    return None, (18456, state,
                  "Login failed for user '%s'.%s" % (PRINCIPAL, suffix))


def _validate(sess, token):
    """(login, None) or (None, (number, state, text))."""
    cfg = sess.cfg
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    parts = token.split('.')
    if len(parts) != 3:
        return _refuse(sess, 'not a JWT (%d parts)' % len(parts))
    try:
        hdr = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        sig = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError):
        return _refuse(sess, 'not a JWT (base64url / JSON)')
    if hdr.get('alg') != 'RS256':
        return _refuse(sess, 'alg %r is not RS256' % hdr.get('alg'))
    try:
        cfg.entra_key.verify(sig, (parts[0] + '.' + parts[1]).encode(),
                             padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return _refuse(sess, 'signature does not verify with the tenant key')
    aud = claims.get('aud')
    auds = aud if isinstance(aud, list) else [aud]
    want = cfg.entra_audience.rstrip('/')
    if not any(isinstance(a, str) and a.rstrip('/') == want for a in auds):
        return _refuse(sess, 'audience %r' % (aud,))
    tid = claims.get('tid')
    if cfg.entra_tenant and (tid != cfg.entra_tenant or claims.get('iss') not in (
            'https://sts.windows.net/%s/' % tid,
            'https://login.microsoftonline.com/%s/v2.0' % tid)):
        return _refuse(sess, 'tenant %r / issuer %r' % (tid, claims.get('iss')))
    now = time.time()
    if not isinstance(claims.get('exp'), (int, float)):
        return _refuse(sess, 'no exp')
    if claims['exp'] + SKEW < now:
        return _refuse(sess, 'expired', 233, ' Token is expired.')
    if isinstance(claims.get('nbf'), (int, float)) and claims['nbf'] - SKEW > now:
        return _refuse(sess, 'not valid yet')
    for key in ('upn', 'oid'):
        who = claims.get(key)
        if isinstance(who, str) and who in cfg.entra_users:
            return cfg.entra_users[who], None
    return _refuse(sess, 'principal upn=%r oid=%r has no login' % (
        claims.get('upn'), claims.get('oid')))


def fedauthinfo(opts):
    """The FEDAUTHINFO token (2.2.7.12): opts is [(id, bytes)]; the data
    offsets count from CountOfInfoIDs."""
    head = struct.pack('<I', len(opts))
    data = b''
    start = 4 + 9 * len(opts)
    for oid, d in opts:
        head += struct.pack('<BII', oid, len(d), start + len(data))
        data += d
    body = head + data
    return bytes([0xEE]) + struct.pack('<I', len(body)) + body


def _adal(sess, data):
    """The ADAL library: FEDAUTHINFO out, the token message in."""
    from .wire import Closed
    cfg = sess.cfg
    if len(data) != 2 or data[1] not in (0x01, 0x02, 0x03):
        raise ValueError('ADAL FEDAUTH feature data %s' % data.hex())
    log('connection %d FEDAUTH ADAL, workflow 0x%02x' % (sess.spid, data[1]))
    sts = cfg.fedauth_sts.encode('utf-16-le')
    spn = cfg.fedauth_spn.encode('utf-16-le')
    tok = fedauthinfo([(0x01, sts), (0x02, spn)])
    if cfg.fedauth_info in ('none', 'with-ack'):
        sess.fedauth_prefix = tok if cfg.fedauth_info == 'with-ack' else b''
        return cfg.entra_users.get(next(iter(cfg.entra_users), ''),
                                   'nobody'), None
    if cfg.fedauth_info == 'malformed':  # the SPN's data beyond the token
        tok = tok[:5 + 4 + 9 + 1] + struct.pack('<I', len(spn) + 1000) + \
            tok[5 + 4 + 9 + 5:]
    if cfg.fedauth_info == 'twice':
        tok += tok
    sess.reply(tok)
    log('connection %d FEDAUTHINFO sent: STS %s SPN %s' % (
        sess.spid, cfg.fedauth_sts, cfg.fedauth_spn))
    typ, msg = sess.c.read_message()
    if typ != PKT_FEDAUTH:
        raise Closed('expected the federated authentication token (packet '
                     '0x08), got 0x%02x' % typ)
    msg = bytes(msg)
    if len(msg) < 8:
        raise ValueError('FEDAUTH token message of %d bytes' % len(msg))
    dlen, n = struct.unpack_from('<II', msg, 0)
    if dlen != len(msg) - 4:
        raise ValueError('DataLen %d, but %d bytes follow' % (dlen, len(msg) - 4))
    return n, msg[8:8 + n], msg[8 + n:]


def login(sess, data):
    """Reads LOGIN7's FEDAUTH feature data (2.2.6.4) and, for the ADAL
    library, sends FEDAUTHINFO and reads the token's message.  Returns
    (login, None) or (None, (number, state, text)) for the login error to
    answer; raises ValueError for data that breaks the protocol."""
    if not sess.cfg.entra_key:
        return _refuse(sess, 'federated authentication not enabled')
    if len(data) < 2:
        raise ValueError('FEDAUTH feature data of %d bytes' % len(data))
    lib, echo = data[0] >> 1, data[0] & 1
    if lib not in (LIB_SECURITY_TOKEN, LIB_ADAL):
        raise ValueError('bFedAuthLibrary 0x%02x is not a security token '
                         'nor ADAL' % lib)
    if echo != getattr(sess, 'fedauth_required', 0):
        raise ValueError('fFedAuthEcho %d, but PRELOGIN answered %d' % (
            echo, getattr(sess, 'fedauth_required', 0)))
    if lib == LIB_SECURITY_TOKEN and sess.cfg.fedauth_info == 'to-token':
        sess.reply(fedauthinfo([(0x01, sess.cfg.fedauth_sts.encode(
            'utf-16-le')), (0x02, sess.cfg.fedauth_spn.encode('utf-16-le'))]))
        sess.c.read_message()  # the client closes
        raise ValueError('the client sent more after FEDAUTHINFO')
    if lib == LIB_ADAL:
        got = _adal(sess, data)
        if got[1] is None:
            return got  # --fedauth-info none
        n, token, rest = got
    elif len(data) < 5:
        raise ValueError('FEDAUTH feature data of %d bytes' % len(data))
    else:
        n = struct.unpack_from('<I', data, 1)[0]
        token = data[5:5 + n]
        rest = data[5 + n:]
    if n == 0 or len(token) != n or n % 2:
        raise ValueError('FedAuthToken of %d bytes' % n)
    nonce = getattr(sess, 'fedauth_nonce', None)
    if nonce is not None and rest != nonce:
        raise ValueError('the nonce is not the one PRELOGIN sent')
    if nonce is None and rest:
        raise ValueError('%d bytes after the token, no nonce was sent' % len(rest))
    log('connection %d FEDAUTH %s, %d bytes, echo=%d nonce=%s' % (
        sess.spid, 'ADAL token' if lib == LIB_ADAL else 'security token', n,
        echo, nonce is not None))
    return _validate(sess, token.decode('utf-16-le', 'replace'))
