"""The test server lying about security (--lie MODE).

A server that an attacker (or a broken proxy) could put in the client's
way, for tests/integration/check_liars.c: each mode tells one lie about
encryption, mutual authentication or the protocol version, and everything
else is the honest server (S: the names of its modules it needs).  What
the client sent is kept beside the server's log (--log) so that the tests
can assert that nothing secret left the client:

  received.bin   every byte read from the socket, as it came (TLS records
                 stay encrypted: a password found here went in clear);
  messages.bin   every TDS message the server read, after TLS: one byte
                 packet type, four bytes big-endian length, the payload.

Modes:
  enc-not-sup     PRELOGIN answers ENCRYPT_NOT_SUP (2.2.6.5) to any client,
                  though the server has a certificate; a TLS-first (TDS
                  8.0 strict) client gets that answer in clear instead of a
                  ServerHello.
  enc-off         PRELOGIN answers ENCRYPT_OFF and, as that answer means,
                  encrypts only LOGIN7: the reply to it and all that
                  follows go in clear (a TLS-first client: as enc-not-sup).
  no-final-token  an impostor without the service key: the login is
                  accepted (LOGINACK) right after LOGIN7, with no final
                  Kerberos (AP-REP) or SPNEGO token -- nor any NTLM
                  CHALLENGE: the server never proves itself.
  early-loginack  LOGINACK in the same reply as a token that needs an
                  answer: NTLM's CHALLENGE, or SPNEGO request-mic with
                  the Kerberos AP-REP, before the exchange is over; to a
                  SQL login, an SSPI token no mechanism asked for.
  mic-forged      SPNEGO accept-completed with the real AP-REP but a
                  mechListMIC of random bytes (RFC 4178 5).
  mic-mismatch    the same with a genuine MIC from the service key over
                  another mechanism list (NTLMSSP added: a downgrade).
  tds-downgrade   an honest login whose LOGINACK says TDS 7.3 (2.2.7.14).
  accept-incomplete
                  SPNEGO accept-incomplete with the real AP-REP; the
                  client's mechListMIC is read, and LOGINACK follows with
                  no final accept-completed: the exchange never ended.
  keeps-open      the same, but every token of the client (its MIC) is
                  answered accept-incomplete again, without a token.
  spnego-no-token SPNEGO accept-incomplete with no responseToken at all
                  (no AP-REP) while the client's context is open; any
                  answer of the client gets LOGINACK.
  spnego-other-mech
                  SPNEGO accept-completed choosing NTLMSSP, a mechanism
                  the client did not offer, around the real AP-REP, and
                  LOGINACK with it.
"""

import os
import socket
import struct
import time
import types

from . import acceptors, log, sqldb, wire

# The honest server's names this module speaks through, one namespace
S = types.SimpleNamespace(
    log=log.log, SQLiteDB=sqldb.SQLiteDB, MECH_KRB5=acceptors.MECH_KRB5,
    gss_acceptor_creds=acceptors.gss_acceptor_creds,
    ntlm_offer=acceptors.ntlm_offer,
    **{n: getattr(wire, n) for n in (
        'Closed', 'DONE_FINAL', 'ENCRYPT_NOT_SUP', 'ENCRYPT_OFF', 'PKT_LOGIN7',
        'PKT_PRELOGIN', 'PKT_REPLY', 'PKT_SSPI', 'TDS74', 'build_prelogin_response',
        'negotiate', 'parse_prelogin', 'tok_done', 'tok_envchange',
        'tok_loginack', 'tok_sspi')})

MODES = ('enc-not-sup', 'enc-off', 'no-final-token', 'early-loginack',
         'mic-forged', 'mic-mismatch', 'tds-downgrade', 'accept-incomplete',
         'keeps-open', 'spnego-no-token', 'spnego-other-mech')
# the modes that lie inside the SSPI exchange of a Kerberos SPNEGO login
SPNEGO_LIES = ('mic-forged', 'mic-mismatch', 'accept-incomplete',
               'keeps-open', 'spnego-no-token', 'spnego-other-mech')

# DER (X.690) of the OIDs we deal in
DER_OID_KRB5 = bytes.fromhex('06092a864886f712010202')
DER_OID_NTLMSSP = bytes.fromhex('060a2b06010401823702020a')
NEG_ACCEPT_COMPLETED, NEG_ACCEPT_INCOMPLETE, NEG_REQUEST_MIC = 0, 1, 3


def add_arguments(ap):
    ap.add_argument('--lie', choices=MODES, help='lie about security, '
                    'for the tests (tests/server/tdssrv/liar.py)')


def configure(cfg, args):
    """Called by main() once cfg is built."""
    cfg.lie = args.lie
    cfg.lie_dir = os.path.dirname(os.path.abspath(args.log)) \
        if args.log else None
    if cfg.lie == 'tds-downgrade':
        cfg.misbehave = 'tds73'     # the honest login's LOGINACK says 7.3


# --------------------------------------------------------------- recording

class Recorder:
    """The client's socket, keeping every byte read in received.bin."""

    def __init__(self, sock, path):
        self.sock = sock
        self.f = open(path, 'ab') if path else None

    def recv(self, n, flags=0):
        data = self.sock.recv(n, flags)
        if self.f and data and not flags & socket.MSG_PEEK:
            self.f.write(data)
            self.f.flush()
        return data

    def __getattr__(self, name):    # sendall, setsockopt, shutdown, ...
        return getattr(self.sock, name)

    def close(self):
        if self.f:
            self.f.close()
            self.f = None
        self.sock.close()


def record_messages(sess, path):
    """sess.c.read_message, keeping each message in messages.bin."""
    if not path:
        return
    read = sess.c.read_message

    def recorded():
        typ, msg = read()
        with open(path, 'ab') as f:
            f.write(struct.pack('>BI', typ or 0, len(msg)) + bytes(msg))
        return typ, msg
    sess.c.read_message = recorded


# --------------------------------------------------------------------- DER

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_read(b, i):
    """(tag, body start, body end) of the TLV at b[i]."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], 'big')
        i += k
    return tag, i, i + n


def spnego_mech_token(tok):
    """The mechToken of a NegTokenInit (RFC 4178 4.2.1), or None."""
    try:
        tag, i, end = der_read(tok, 0)             # [APPLICATION 0]
        if tag != 0x60:
            return None
        i = der_read(tok, i)[2]                    # past thisMech's OID
        tag, i, end = der_read(tok, i)             # [0] negTokenInit
        tag, i, end = der_read(tok, i)             # SEQUENCE
        while i < end:
            tag, bi, be = der_read(tok, i)
            if tag == 0xA2:                        # [2] mechToken
                _, oi, oe = der_read(tok, bi)      # OCTET STRING
                return bytes(tok[oi:oe])
            i = be
    except IndexError:
        pass
    return None


def neg_token_resp(state, token=None, mic=None, mech=DER_OID_KRB5):
    body = tlv(0xA0, tlv(0x0A, bytes([state])))
    if mech:
        body += tlv(0xA1, mech)
    if token:
        body += tlv(0xA2, tlv(0x04, token))
    if mic is not None:
        body += tlv(0xA3, tlv(0x04, mic))
    return tlv(0xA1, tlv(0x30, body))


def krb5_accept(cfg, inner):
    """The real acceptor's answer (AP-REP) to the client's krb5 token, from
    the service keytab: (output token, context)."""
    from gssapi.raw import OID, acquire_cred_from, accept_sec_context
    creds = acquire_cred_from({b'keytab': cfg.keytab.encode()},
                              mechs=[OID.from_int_seq(S.MECH_KRB5)],
                              usage='accept').creds
    res = accept_sec_context(inner, creds)
    return res.token or b'', res.context


# ------------------------------------------------------------------ replies

def accept_as_impostor(sess, sspi=b''):
    """The login reply of a server that takes anyone: LOGINACK (after the
    SSPI token given, if any), and a session ready for requests."""
    cfg = sess.cfg
    out = [S.tok_sspi(sspi)] if sspi else []
    out += [S.tok_envchange(1, cfg.database, 'master'),
            S.tok_loginack(S.TDS74),
            S.tok_envchange(4, '4096', '4096'),
            S.tok_done(S.DONE_FINAL)]
    sess.reply(b''.join(out))
    sess.user = 'impostor'
    sess.database = cfg.database
    sess.db = S.SQLiteDB(cfg.db)
    sess.db.watch = sess.attention_seen
    S.log('connection %d liar (%s): accepted the login' % (sess.spid, cfg.lie))


def lie_about_tls_first(sess):
    """A TLS-first (strict) client: the PRELOGIN lie in clear, no TLS."""
    cfg = sess.cfg
    sess.sock.settimeout(5)
    sess.sock.recv(65536)       # the ClientHello (recorded), unanswered
    answer = S.ENCRYPT_OFF if cfg.lie == 'enc-off' else S.ENCRYPT_NOT_SUP
    sess.c.send_message(S.PKT_REPLY, S.build_prelogin_response(answer, False))
    S.log('connection %d liar (%s): answered a TLS ClientHello with a clear '
          'PRELOGIN (encryption %d)' % (sess.spid, cfg.lie, answer))
    try:
        while sess.sock.recv(65536):
            pass
    except OSError:
        pass


def lie_in_login(sess, login):
    """The modes that lie in the login response."""
    cfg = sess.cfg
    of2 = login[25] if len(login) > 25 else 0
    o, n = struct.unpack_from('<HH', login, 78)
    sspi = bytes(login[o:o + n])
    if not of2 & 0x80:
        if cfg.lie == 'early-loginack':
            # a SQL login answered with an SSPI token (an NTLM CHALLENGE's
            # first bytes) and LOGINACK: no mechanism is there to take it
            accept_as_impostor(sess, b'NTLMSSP\x00\x02\x00\x00\x00' +
                               bytes(40))
            return True
        raise S.Closed('liar mode %s wants an integrated login' % cfg.lie)
    ntlm = sspi.startswith(b'NTLMSSP\x00') or S.ntlm_offer(sspi)
    if cfg.lie == 'no-final-token':
        accept_as_impostor(sess)
        return True
    if cfg.lie == 'early-loginack':
        if ntlm:
            # the real acceptor's CHALLENGE (raw or in SPNEGO), and the
            # LOGINACK with it: the client's AUTHENTICATE is never awaited
            from gssapi.raw import accept_sec_context
            res = accept_sec_context(sspi, S.gss_acceptor_creds(cfg, sspi))
            accept_as_impostor(sess, res.token)
            return True
        inner = spnego_mech_token(sspi)
        if inner is None:
            raise S.Closed('liar: early-loginack for Kerberos needs SPNEGO')
        ap_rep, _ = krb5_accept(cfg, inner)
        accept_as_impostor(sess, neg_token_resp(NEG_REQUEST_MIC, ap_rep))
        return True
    # the SPNEGO lies: Kerberos through SPNEGO
    inner = spnego_mech_token(sspi)
    if inner is None or ntlm:
        raise S.Closed('liar: %s needs Kerberos through SPNEGO' % cfg.lie)
    ap_rep, ctx = krb5_accept(cfg, inner)
    if cfg.lie in ('accept-incomplete', 'keeps-open', 'spnego-no-token'):
        first = neg_token_resp(NEG_ACCEPT_INCOMPLETE,
                               None if cfg.lie == 'spnego-no-token'
                               else ap_rep)
        sess.reply(S.tok_sspi(first))
        for _ in range(32):
            typ, _tok = sess.c.read_message()   # the client's answer
            if typ != S.PKT_SSPI:
                raise S.Closed('liar: expected SSPI, got 0x%02x' % typ)
            if cfg.lie != 'keeps-open':
                break
            sess.reply(S.tok_sspi(neg_token_resp(NEG_ACCEPT_INCOMPLETE,
                                                 mech=None)))
        else:
            raise S.Closed('liar: the client kept answering')
        accept_as_impostor(sess)
        return True
    if cfg.lie == 'spnego-other-mech':
        accept_as_impostor(sess, neg_token_resp(
            NEG_ACCEPT_COMPLETED, ap_rep, mech=DER_OID_NTLMSSP))
        return True
    if cfg.lie == 'mic-forged':
        # an RFC 4121 MIC token's header (TOK_ID 04 04, acceptor subkey
        # flags, filler, sequence number) and a random checksum
        mic = bytes.fromhex('0404 05 ffffffffff 0000000000000000') + \
            os.urandom(12)
    else:
        from gssapi.raw import get_mic
        other = tlv(0x30, DER_OID_NTLMSSP + DER_OID_KRB5)
        mic = get_mic(ctx, other)
    accept_as_impostor(sess, neg_token_resp(NEG_ACCEPT_COMPLETED, ap_rep, mic))
    return True


# -------------------------------------------------------------------- serve

def serve(sess):
    """Session.serve of a lying server (tdsserver.py calls it instead)."""
    cfg = sess.cfg
    d = cfg.lie_dir
    rec = Recorder(sess.sock, os.path.join(d, 'received.bin') if d else None)
    sess.sock = sess.c.sock = sess.c.tr = rec
    record_messages(sess, os.path.join(d, 'messages.bin') if d else None)
    first = rec.recv(1, socket.MSG_PEEK)
    if not first:
        raise S.Closed('closed before PRELOGIN')
    if first[0] == 0x16:
        if cfg.lie not in ('enc-not-sup', 'enc-off'):
            raise S.Closed('liar mode %s does not do TLS first' % cfg.lie)
        lie_about_tls_first(sess)
        return
    typ, payload = sess.c.read_message()
    if typ != S.PKT_PRELOGIN:
        raise S.Closed('expected PRELOGIN, got packet type 0x%02x' % typ)
    opts = S.parse_prelogin(payload)
    client_enc = opts[1][0] & 0x0F if opts.get(1) else S.ENCRYPT_NOT_SUP
    if cfg.lie == 'enc-not-sup':
        answer, mode = S.ENCRYPT_NOT_SUP, 'none'
    elif cfg.lie == 'enc-off':
        answer, mode = S.ENCRYPT_OFF, 'login'
    else:
        answer, mode = S.negotiate(cfg.encryption, client_enc,
                                   cfg.ctx7 is not None)
    sess.c.send_message(S.PKT_REPLY, S.build_prelogin_response(answer, False))
    S.log('connection %d liar (%s): client encryption %d, answered %d' % (
        sess.spid, cfg.lie, client_enc, answer))
    if mode == 'refuse':
        time.sleep(0.2)
        return
    # The client's next packet: a TLS handshake (in PRELOGIN packets), or
    # LOGIN7 in clear -- whatever the lie told it.
    peek = rec.recv(1, socket.MSG_PEEK)
    if not peek:
        raise S.Closed('client closed after PRELOGIN')
    if peek[0] == S.PKT_PRELOGIN and cfg.ctx7:
        _, _, hello = sess.c.read_packet()
        sess.tls7_handshake(hello)
    typ, login = sess.c.read_message()
    if typ != S.PKT_LOGIN7:
        raise S.Closed('expected LOGIN7, got packet type 0x%02x' % typ)
    if mode == 'login':
        sess.c.tr = rec            # login-only: the rest in clear
    if cfg.lie in ('no-final-token', 'early-loginack') + SPNEGO_LIES:
        if not lie_in_login(sess, login):
            return
    elif not sess.do_login(bytes(login)):
        time.sleep(0.1)
        return
    sess.loop()
