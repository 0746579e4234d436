"""Authentication acceptors: GSSAPI (Kerberos, SPNEGO) and NTLM
(gss-ntlmssp) helpers, principal to login mapping."""

import os
import re
import struct

from .log import log


MSG_18452 = ('Login failed. The login is from an untrusted domain and cannot '
             'be used with Integrated authentication.')


MECH_KRB5 = '1.2.840.113554.1.2.2'
MECH_SPNEGO = '1.3.6.1.5.5.2'
MECH_NTLMSSP = '1.3.6.1.4.1.311.2.2.10'


def gss_acceptor_creds(cfg, token):
    """Acceptor credentials for the first token of an integrated login.
    Kerberos only (no --ntlm-users): every principal of the keytab and the
    default mechanisms (raw krb5 as FreeTDS sends it, and SPNEGO), as ever.
    With NTLM: raw NTLMSSP gets gss-ntlmssp alone; anything else gets
    krb5 (if --keytab), NTLMSSP and SPNEGO over them.  gss-ntlmssp is never
    given a credential store (gss_acquire_cred_from with a keytab store and
    the NTLMSSP mechanism corrupts memory in gss-ntlmssp 1.2.0): the keytab
    reaches krb5 through KRB5_KTNAME, read again at every accept."""
    from gssapi.raw import acquire_cred, acquire_cred_from, OID
    if not cfg.ntlm:
        return acquire_cred_from({b'keytab': cfg.keytab.encode()},
                                 usage='accept').creds
    if token.startswith(b'NTLMSSP\x00'):
        mechs = [MECH_NTLMSSP]
    else:
        mechs = ([MECH_KRB5] if cfg.keytab else []) + [MECH_NTLMSSP, MECH_SPNEGO]
    return acquire_cred(None, mechs=[OID.from_int_seq(m) for m in mechs],
                        usage='accept').creds


# DER OIDs as they appear in a SPNEGO NegTokenInit's mechTypes
DER_NTLMSSP = bytes.fromhex('060a2b0601040182370202' '0a')
DER_KRB5S = (bytes.fromhex('06092a864886f712010202'),
             bytes.fromhex('06092a864882f712010202'))   # MS's misencoded krb5


def ntlm_offer(tok):
    """True when the first SSPI token asks for NTLM only: a raw NTLMSSP
    NEGOTIATE, or a SPNEGO NegTokenInit listing NTLMSSP and no Kerberos."""
    if tok.startswith(b'NTLMSSP\x00'):
        return True
    if tok[:1] == b'\x60' and OID_SPNEGO in tok[:16]:
        return DER_NTLMSSP in tok and not any(k in tok for k in DER_KRB5S)
    return False


def ntlm_v1_response(tok):
    """'NTLMv1 response' / 'anonymous NTLM' when tok holds (raw or inside
    SPNEGO) an NTLMSSP AUTHENTICATE whose NtChallengeResponse is not NTLMv2
    (24 bytes: NTLMv1 or NTLMv1 with extended session security; 0 bytes:
    anonymous), else ''.  Measured: gss-ntlmssp 1.2.0's acceptor takes a
    24-byte response with any password for a user it knows (pytds'
    NtlmAuth), even with LM_COMPAT_LEVEL=5; the test server refuses it."""
    i = tok.find(b'NTLMSSP\x00\x03\x00\x00\x00')
    if i < 0 or len(tok) < i + 28:
        return ''
    nt_len = struct.unpack_from('<H', tok, i + 20)[0]
    if nt_len == 24:
        return 'NTLMv1 response'
    if nt_len == 0:
        return 'anonymous NTLM'
    return ''


def ntlm_error_name(text):
    """What gss-ntlmssp 1.2.0's acceptor means by its minor code, an errno
    (raw NTLMSSP: the errno itself; through SPNEGO the minor is remapped,
    e.g. 100005, and only the message text tells): measured, see README."""
    if 'Invalid argument' in text:
        return ' (NTLM: EINVAL, the response does not verify: wrong password)'
    if 'Permission denied' in text:
        return ' (NTLM: EACCES, user not in the NTLM user file)'
    return ' (NTLM)'


def mech_name(oid):
    dotted = getattr(oid, 'dotted_form', str(oid))
    return {'1.2.840.113554.1.2.2': 'krb5', '1.3.6.1.5.5.2': 'spnego',
            '1.3.6.1.4.1.311.2.2.10': 'ntlmssp'}.get(dotted, dotted)


# The krb5 error table (krb5/krb5_err.et) starts at this minor code; only the
# codes an acceptor meets in the tests are named.
KRB5_ERR_BASE = 0x96C73A00
KRB5_ERR_NAMES = {
    31: 'KRB5KRB_AP_ERR_BAD_INTEGRITY', 32: 'KRB5KRB_AP_ERR_TKT_EXPIRED',
    33: 'KRB5KRB_AP_ERR_TKT_NYV', 34: 'KRB5KRB_AP_ERR_REPEAT',
    35: 'KRB5KRB_AP_ERR_NOT_US', 36: 'KRB5KRB_AP_ERR_BADMATCH',
    37: 'KRB5KRB_AP_ERR_SKEW', 41: 'KRB5KRB_AP_ERR_MODIFIED',
    44: 'KRB5KRB_AP_ERR_BADKEYVER', 45: 'KRB5KRB_AP_ERR_NOKEY',
    46: 'KRB5KRB_AP_ERR_MUT_FAIL', 50: 'KRB5KRB_AP_ERR_INAPP_CKSUM',
}


def krb5_error_name(minor):
    """' KRB5KRB_AP_ERR_...' for a krb5 minor code.  Through SPNEGO the
    minor is remapped (e.g. 100005): the message text still tells."""
    name = KRB5_ERR_NAMES.get(minor - KRB5_ERR_BASE)
    if name:
        return ' ' + name
    if 0 <= minor - KRB5_ERR_BASE < 256:
        return ' krb5 error %d' % (minor - KRB5_ERR_BASE)
    return ''


OID_KRB5 = bytes.fromhex('06092a864886f712010202')
OID_SPNEGO = bytes.fromhex('06062b0601050502')


def gss_token_kind(tok):
    """A short description of a GSS token for the log (never its content)."""
    if not tok:
        return ''
    if tok[:1] == b'\xa1':
        return ' (SPNEGO NegTokenResp)'
    if tok[:1] == b'\x60':
        # RFC 2743 framing: 0x60, DER length, mech OID, mech token (krb5:
        # 2-byte token id first)
        n = tok[1] & 0x7F if len(tok) > 1 and tok[1] & 0x80 else 0
        body = tok[2 + n:]
        if body.startswith(OID_SPNEGO):
            return ' (SPNEGO NegTokenInit)'
        if body.startswith(OID_KRB5):
            tid = body[len(OID_KRB5):len(OID_KRB5) + 2]
            return {b'\x03\x00': ' (krb5 KRB-ERROR)', b'\x02\x00': ' (krb5 AP-REP)',
                    b'\x01\x00': ' (krb5 AP-REQ)'}.get(tid, ' (krb5)')
        return ' (GSS framed, other mechanism)'
    if tok.startswith(b'NTLMSSP\x00'):
        return ' (NTLMSSP)'
    return ' (unknown)'


def parse_map(spec):
    """--map PRINCIPAL=LOGIN -> (regex, login template)."""
    pat, sep, login = spec.rpartition('=')
    if not sep or not pat or not login:
        raise ValueError(spec)
    rx = re.compile('^' + re.escape(pat).replace(r'\*', '(.*)') + '$')
    return rx, login


def map_principal(maps, principal):
    """The login an authenticated principal maps to, or None.  The first
    matching rule wins.  LOGIN '*' alone is the principal itself; otherwise
    a '*' in LOGIN is what the '*' of PRINCIPAL matched."""
    for rx, login in maps:
        m = rx.match(principal)
        if not m:
            continue
        if login == '*':
            return principal
        if '*' in login and m.groups():
            return login.replace('*', m.group(1))
        return login
    return None


def setup_ntlm(ap, cfg):
    """gss-ntlmssp's acceptor reads its users from NTLM_USER_FILE and puts
    its NetBIOS computer and domain names into the CHALLENGE's target info
    (which NTLMv2 needs): NETBIOS_COMPUTER_NAME is the --server-name,
    NETBIOS_DOMAIN_NAME the domain of the file's first user (both unless
    already set in the environment)."""
    domain = None
    try:
        with open(cfg.ntlm_users, encoding='utf-8') as f:
            for line in f:
                parts = line.strip().split(':')
                if len(parts) >= 3 and not line.startswith('#'):
                    domain = parts[0]
                    break
    except OSError as e:
        ap.error('--ntlm-users: %s' % e)
    if domain is None:
        ap.error('--ntlm-users %s: no DOMAIN:user:password line'
                 % cfg.ntlm_users)
    from gssapi.raw import indicate_mechs
    if MECH_NTLMSSP not in {m.dotted_form for m in indicate_mechs()}:
        ap.error('--ntlm-users needs gss-ntlmssp (the NTLMSSP mechanism is '
                 'not registered with GSSAPI)')
    os.environ['NTLM_USER_FILE'] = cfg.ntlm_users
    os.environ.setdefault('NETBIOS_COMPUTER_NAME', cfg.server_name.upper())
    os.environ.setdefault('NETBIOS_DOMAIN_NAME', domain.upper() or 'WORKGROUP')
    log('NTLM enabled: users %s, computer %s, domain %s' % (
        cfg.ntlm_users, os.environ['NETBIOS_COMPUTER_NAME'],
        os.environ['NETBIOS_DOMAIN_NAME']))
