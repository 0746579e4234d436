"""Extended Protection for Authentication (doc/channel-binding.md): the
channel bindings SQL Server checks on integrated logins, off / allowed /
required.  The binding is RFC 5929's tls-unique of this server's own TLS
session (the first Finished of the handshake; TLS 1.2 and older only),
given to the acceptor as a gss_channel_bindings_struct whose application
data is 'tls-unique:' and the bytes: MIT krb5 checks the authenticator's
Bnd, gss-ntlmssp the AUTHENTICATE's MsvAvChannelBindings.  A refusal is
what SQL Server sends (18452, state 1); the reason goes to the log as SQL
Server's own log says it (error 17806, state 46)."""

import hashlib
import struct

from .log import log

MODES = ('off', 'allowed', 'required')

# MS-NLMP 2.2.2.1
AV_EOL, AV_CHANNEL_BINDINGS = 0, 10
AUTHENTICATE = b'NTLMSSP\x00\x03\x00\x00\x00'


def add_arguments(ap):
    ap.add_argument('--extended-protection', choices=MODES, default='off',
                    help='check the channel bindings of integrated logins '
                         'as SQL Server does (doc/channel-binding.md)')


def configure(cfg, args):
    cfg.epa = args.extended_protection


def tls_unique(sess):
    """This session's tls-unique, or (None, why)."""
    tls = getattr(sess, 'tls_obj', None)
    if tls is None:
        return None, 'no TLS'
    obj = getattr(tls, 'sslobj', tls)
    if obj.version() not in ('TLSv1', 'TLSv1.1', 'TLSv1.2'):
        return None, '%s has no tls-unique' % obj.version()
    return obj.get_channel_binding('tls-unique'), ''


def ntlm_bindings(tok):
    """The AUTHENTICATE's MsvAvChannelBindings (raw or inside SPNEGO):
    None when tok holds no AUTHENTICATE, b'' when it has no such pair or
    an all-zero one (a client that bound nothing)."""
    at = tok.find(AUTHENTICATE)
    if at < 0:
        return None
    m = tok[at:]
    try:
        ln, _, off = struct.unpack_from('<HHI', m, 20)
        resp = m[off:off + ln]
        pos = 16 + 28   # NTProofStr, then the blob's fixed part (2.2.2.7)
        while pos + 4 <= len(resp):
            avid, avlen = struct.unpack_from('<HH', resp, pos)
            if avid == AV_EOL:
                break
            if avid == AV_CHANNEL_BINDINGS:
                v = resp[pos + 4:pos + 4 + avlen]
                return b'' if not v.strip(b'\x00') else v
            pos += 4 + avlen
    except struct.error:
        pass
    return b''


def bindings_for(sess, token):
    """What the acceptor gets for this round: (ChannelBindings or None,
    refusal reason or None)."""
    mode = sess.cfg.epa
    if mode == 'off':
        return None, None
    cb, why = tls_unique(sess)
    ntlm = ntlm_bindings(token)
    if cb is None:
        # nothing to check against: a client cannot have bound this channel.
        # SQL Server's SSPI judges it with the last token (NTLM's
        # AUTHENTICATE), not before
        if ntlm is None and b'NTLMSSP\x00' in token:
            return None, None
        if mode == 'required':
            return None, 'none sent (%s: no channel to bind)' % why
        return None, None
    if ntlm == b'':
        # gss-ntlmssp fails any AUTHENTICATE without the pair when it is
        # given bindings; 'allowed' lets an unbound client through
        if mode == 'required':
            return None, 'none sent (the AUTHENTICATE has no ' \
                'MsvAvChannelBindings)'
        return None, None
    app = b'tls-unique:' + cb
    if ntlm and ntlm != hashlib.md5(b'\0' * 16 + struct.pack('<I', len(app))
                                    + app).digest():
        # gss-ntlmssp would refuse it too, but with the errno it gives a
        # wrong password: the server names the cause itself
        return None, 'they do not match (MsvAvChannelBindings)'
    from gssapi.raw import ChannelBindings
    return ChannelBindings(application_data=app), None


def check_bound(sess, res, bound_given):
    """After an accept that completed: refusal reason or None.  MIT's krb5
    acceptor accepts a missing binding and says so by not setting
    GSS_C_CHANNEL_BOUND_FLAG."""
    if sess.cfg.epa != 'required' or not bound_given:
        return None
    from gssapi.raw import RequirementFlag
    if RequirementFlag.channel_bound not in res.flags:
        return 'none sent (the initiator sent no channel bindings)'
    return None


def log_refusal(sess, reason):
    log('connection %d SSPI handshake failed with error code 0x80090346, '
        'state 46 (error 17806): the channel bindings from this client are '
        'missing or do not match the established TLS channel: %s; Extended '
        'Protection %s' % (sess.spid, reason, sess.cfg.epa))
