"""The session up to the login: PRELOGIN, TLS (TDS 7.x in PRELOGIN
packets, TDS 8.0 first), LOGIN7, integrated logins (a mixin of
Session)."""

import os
import socket
import ssl
import struct
import time

from .acceptors import (MSG_18452, gss_acceptor_creds, gss_token_kind,
                        krb5_error_name, map_principal, mech_name,
                        ntlm_error_name, ntlm_offer, ntlm_v1_response)
from . import epa, fedauth, liar, mirroring, routing
from .log import log
from .shm import ShmSock
from .sqldb import SQLiteDB
from .wire import (BioTLS, COLLATION, Closed, DONE_ERROR, DONE_FINAL,
                   ENCRYPT_NOT_SUP, PKT_LOGIN7, PKT_PRELOGIN, PKT_REPLY,
                   PKT_SQLBATCH, PKT_SSPI, ST_EOM, TDS73B, TDS74,
                   TOK_ENVCHANGE, TOK_FEATUREEXTACK, TOK_LOGINACK,
                   build_prelogin_response, negotiate, parse_prelogin,
                   tok_done, tok_envchange, tok_loginack, tok_sspi)


class LoginMixin:
    """Session up to the login (PRELOGIN, TLS, LOGIN7)."""

    def serve(self):
        cfg = self.cfg
        if cfg.lie:  # --lie MODE: a lying server serves instead (liar.py)
            return liar.serve(self)
        mis = cfg.misbehave
        first = self.sock.recv(1, socket.MSG_PEEK)
        if not first:
            raise Closed('closed before PRELOGIN')
        strict = False
        if first[0] == 0x16 and cfg.tds7_only:
            # A server older than SQL Server 2022 reads a ClientHello as a
            # TDS packet of unknown type 0x16 and drops the connection.
            raise Closed('pre-TDS 8.0 server: packet type 0x16 is unknown')
        if first[0] == 0x16:
            if cfg.ctx_strict is None:
                raise Closed('TLS-first (TDS 8.0) connection but no certificate')
            tls = (self.sock.wrap_tls(cfg.ctx_strict)
                   if isinstance(self.sock, ShmSock) else
                   cfg.ctx_strict.wrap_socket(self.sock, server_side=True))
            self.c.tr = tls
            self.sock = tls
            self.tls_obj = tls  # its channel binding (epa.py)
            strict = True
            log('connection %d: TDS 8.0 strict TLS %s alpn=%s' % (
                self.spid, tls.version(), tls.selected_alpn_protocol()))
        elif cfg.strict:
            raise Closed('strict server: first byte 0x%02x is not a TLS handshake'
                         % first[0])

        typ, payload = self.c.read_message()
        if typ != PKT_PRELOGIN:
            raise Closed('expected PRELOGIN, got packet type 0x%02x' % typ)
        opts = parse_prelogin(payload)
        log('connection %d PRELOGIN options %s' % (
            self.spid, {k: v.hex() for k, v in opts.items()}))

        if mis == 'close-after-prelogin':
            self.sock.shutdown(socket.SHUT_RDWR)
            return
        if mis == 'reset-after-prelogin':
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack('ii', 1, 0))
            return
        if mis == 'hang-after-prelogin':
            while self.sock.recv(4096):
                pass
            return
        if mis == 'garbage-prelogin':
            self.sock.sendall(struct.pack('>BBHHBB', PKT_REPLY, ST_EOM, 4,
                                          self.spid, 1, 0))
            time.sleep(0.5)
            return

        client_enc = opts.get(1, b'\x02')[0] & 0x0F if 1 in opts else ENCRYPT_NOT_SUP
        if strict:
            answer, mode = ENCRYPT_NOT_SUP, 'none'
        else:
            answer, mode = negotiate(cfg.encryption, client_enc,
                                     cfg.ctx7 is not None)
        if mis == 'bad-encryption':
            answer = 0x07  # no such ENCRYPTION value in MS-TDS 2.2.6.5
        # entra: FEDAUTHREQUIRED 0x01 (and a nonce) when tokens are accepted
        fa_answer, fa_nonce = fedauth.prelogin_answer(self, opts)
        resp = build_prelogin_response(answer, 6 in opts and opts[6][:1] == b'\x01',
                                       fa_answer, fa_nonce)
        self.c.send_message(PKT_SQLBATCH if mis == 'wrong-packet-type'
                            else PKT_REPLY, resp)
        log('connection %d encryption client=%d answer=%d mode=%s' % (
            self.spid, client_enc, answer, mode))
        if mode == 'refuse':
            time.sleep(0.2)
            return

        typ, status, payload = self.c.read_packet()
        if typ == PKT_PRELOGIN and mode in ('full', 'login') and cfg.ctx7:
            self.tls7_handshake(payload)
            typ, status, payload = self.c.read_packet()
        elif mode in ('full',):
            raise Closed('client did not start the TLS handshake (type 0x%02x)'
                         % typ)
        elif mode == 'login':
            # client said OFF but sends LOGIN7 in clear: SQL Server would
            # refuse; we do too
            raise Closed('LOGIN7 without the required TLS (login-only mode)')
        parts = [payload]
        while not status & ST_EOM:
            typ2, status, payload = self.c.read_packet()
            parts.append(payload)
        if typ != PKT_LOGIN7:
            raise Closed('expected LOGIN7, got packet type 0x%02x' % typ)
        login = b''.join(parts)
        if mode == 'login':
            self.c.tr = self.sock      # back to plain text after LOGIN7
        if not self.do_login(login):
            time.sleep(0.1)
            return
        self.loop()

    def tls7_handshake(self, first_payload):
        cfg = self.cfg
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = cfg.ctx7.wrap_bio(inc, out, server_side=True)
        inc.write(first_payload)
        while True:
            done = False
            try:
                sslobj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                data = out.read()
                if data:
                    self.c.send_message(PKT_PRELOGIN, data)
                raise
            data = out.read()
            if data:
                self.c.send_message(PKT_PRELOGIN, data)
            if done:
                break
            # next handshake bytes: a PRELOGIN packet, or (TLS 1.3 clients
            # that finish early) a raw TLS record
            peek = (bytes(self.c.buf[self.c.rpos:self.c.rpos + 1]) or
                    self.sock.recv(1, socket.MSG_PEEK))
            if not peek:
                raise Closed('client closed during TLS handshake')
            if peek[0] == PKT_PRELOGIN:
                _, _, payload = self.c.read_packet()
                inc.write(payload)
            else:
                hdr = self.c.read_exact(5)
                ln = struct.unpack('>H', hdr[3:5])[0]
                inc.write(hdr + self.c.read_exact(ln))
        log('connection %d TLS %s %s' % (self.spid, sslobj.version(),
                                         sslobj.cipher()[0]))
        self.tls_obj = sslobj  # its channel binding (epa.py)
        tr = BioTLS(self.sock, sslobj, inc, out)
        if self.c.buffered():         # raw records already read
            inc.write(self.c.take_buffered())
        self.c.tr = tr

    # -------------------------------------------------------------- LOGIN7
    def do_login(self, p):
        cfg = self.cfg
        self.c.spid = self.spid
        if len(p) < 94:
            raise Closed('LOGIN7 too short')
        (length, tdsver, pktsize, progver, pid, connid, of1, of2, tf, of3,
         tz, lcid) = struct.unpack_from('<IIIIIIBBBBiI', p, 0)

        def field(off, raw=False):
            o, n = struct.unpack_from('<HH', p, off)
            if raw:
                return p[o:o + n]
            return p[o:o + 2 * n]
        host = field(36).decode('utf-16-le', 'replace')
        user = field(40).decode('utf-16-le', 'replace')
        pw_raw = field(44)
        app = field(48).decode('utf-16-le', 'replace')
        database = field(68).decode('utf-16-le', 'replace')
        sspi = field(78, raw=True)
        if struct.unpack_from('<H', p, 80)[0] == 0xFFFF and len(p) >= 94:
            # cbSSPILong (2.2.6.4): the real length when cbSSPI is 0xFFFF
            o = struct.unpack_from('<H', p, 78)[0]
            sspi = p[o:o + struct.unpack_from('<I', p, 90)[0]]
        password = bytes(
            (((b ^ 0xA5) << 4) & 0xF0) | (((b ^ 0xA5) >> 4) & 0x0F)
            for b in pw_raw).decode('utf-16-le', 'replace')
        features = {}
        fext = bool(of3 & 0x10)
        if fext:
            o, n = struct.unpack_from('<HH', p, 56)
            if n >= 4 and o + 4 <= len(p):
                fo = struct.unpack_from('<I', p, o)[0]
                while fo < len(p) and p[fo] != 0xFF:
                    fid = p[fo]
                    fl = struct.unpack_from('<I', p, fo + 1)[0]
                    features[fid] = p[fo + 5:fo + 5 + fl]
                    fo += 5 + fl
        log('connection %d LOGIN7 tds=0x%08x packet=%d user=%r host=%r app=%r '
            'db=%r integrated=%s sspi=%d features=%s' % (
                self.spid, tdsver, pktsize, user, host, app, database,
                bool(of2 & 0x80), len(sspi), sorted(features)))

        sspi_out = b''
        if of2 & 0x80:
            ntlm = ntlm_offer(sspi)
            if not cfg.integrated or (ntlm and not cfg.ntlm):
                # Integrated logins refused, or NTLM refused by policy: the
                # SSPI handshake fails at once, no CHALLENGE (a client can
                # tell this from credentials refused after AUTHENTICATE).
                log('connection %d integrated login refused (%s): 18452' % (
                    self.spid, 'NTLM not enabled' if ntlm
                    else 'integrated logins not enabled'))
                self.reply(self.err(18452, 14, MSG_18452) + tok_done(DONE_ERROR))
                return False
            res = self.gss_login(sspi)
            if res is None:
                return False
            user, sspi_out = res
        elif 0x02 in features:  # entra: an access token (fedauth.py)
            try:
                user, refusal = fedauth.login(self, features[0x02])
            except ValueError as e:
                raise Closed('FEDAUTH: %s' % e)
            if refusal:
                number, state, text = refusal
                self.reply(self.err(number, 14, text, state)
                           + tok_done(DONE_ERROR))
                return False
        elif cfg.users.get(user) != password:
            log('connection %d login failed for %r' % (self.spid, user))
            self.reply(self.err(18456, 14, "Login failed for user '%s'." % user)
                       + tok_done(DONE_ERROR))
            return False
        refused = mirroring.refusal(self, user, database)
        if refused:
            self.reply(refused + tok_done(DONE_ERROR))
            return False
        db = cfg.database
        if database:
            db = self.known_db(database)
            if db is None:
                self.reply(self.err(4060, 11, 'Cannot open database "%s" '
                                    'requested by the login. The login failed.'
                                    % database) +
                           self.err(18456, 14, "Login failed for user '%s'." % user)
                           + tok_done(DONE_ERROR))
                return False
        self.user = user
        self.database = db
        self.db = SQLiteDB(cfg.db)
        self.db.watch = self.attention_seen
        size = pktsize or 4096
        size = max(512, min(32767, size))
        out = [tok_sspi(sspi_out)] if sspi_out else []
        if getattr(self, 'fedauth_prefix', b''):  # fedauth.py misbehaving
            out.append(self.fedauth_prefix)
        out += [tok_envchange(1, db, 'master'),
               self.info(5701, "Changed database context to '%s'." % db, 2),
               tok_envchange(7, COLLATION, b''),
               tok_envchange(2, 'us_english', ''),
               self.info(5703, 'Changed language setting to us_english.'),
               tok_loginack(TDS73B if cfg.misbehave == 'tds73' else TDS74),
               tok_envchange(4, str(size), '4096')]
        if cfg.misbehave == 'no-loginack':
            out = [o for o in out if o[0] != TOK_LOGINACK]
        elif cfg.misbehave == 'bad-packet-size':
            out[-1] = tok_envchange(4, '12', '4096')
        out.append(routing.token(self, tf))
        out.append(mirroring.envchange(self))
        if fext:
            ack = b''
            if 0x02 in features:  # entra: FEDAUTH (fedauth.py)
                ack += fedauth.feature_ack(cfg)
            if 0x0A in features:
                ack += bytes([0x0A]) + struct.pack('<I', 1) + b'\x01'
            out.append(bytes([TOK_FEATUREEXTACK]) + ack + b'\xff')
        out.append(tok_done(DONE_FINAL))
        self.reply(b''.join(out))
        self.c.packet_size = size
        log('connection %d logged in as %r db=%r packet size %d' % (
            self.spid, user, db, size))
        return True

    def gss_login(self, token):
        """Integrated login: accept the GSSAPI exchange that starts with
        LOGIN7's SSPI field.  Returns (login name, final output token or b'')
        or None after answering the failure (then the caller closes)."""
        from gssapi.raw import accept_sec_context, display_name
        from gssapi.exceptions import GSSError
        cfg = self.cfg
        ctx = None
        try:
            # Acquired for every login, so a keytab replaced between two
            # connections (the stale-kvno scenario) is read again.
            creds = gss_acceptor_creds(cfg, token)
            rounds = 0
            bound = False
            while True:
                rounds += 1
                v1 = ntlm_v1_response(token)
                if v1:
                    log('connection %d integrated login failed: %s refused '
                        '(NTLMv2 only: gss-ntlmssp 1.2.0 accepts an '
                        'NTLMv1 response whatever the password)'
                        % (self.spid, v1))
                    self.reply(self.err(18452, 14, MSG_18452)
                               + tok_done(DONE_ERROR))
                    return None
                # [trace] tests/integration/trace.sh greps the client's
                # protocol trace for the tokens' bytes: it names this file
                if os.environ.get('TDSSRV_SSPI_DUMP'):
                    with open(os.environ['TDSSRV_SSPI_DUMP'], 'a') as f:
                        f.write(token.hex() + '\n')
                # Extended Protection (epa.py): this round's bindings, or
                # the login refused for lack of them
                cbs, refusal = epa.bindings_for(self, token)
                if refusal:
                    epa.log_refusal(self, refusal)
                    self.reply(self.err(18452, 14, MSG_18452)
                               + tok_done(DONE_ERROR))
                    return None
                bound = bound or cbs is not None
                res = accept_sec_context(token, creds, ctx,
                                         channel_bindings=cbs)
                ctx = res.context
                log('connection %d SSPI round %d: in %d bytes%s, out %d bytes, '
                    'mech %s, %s' % (self.spid, rounds, len(token),
                                     gss_token_kind(token),
                                     len(res.token or b''), mech_name(res.mech),
                                     'continue' if res.more_steps else 'complete'))
                if not res.more_steps:
                    break
                # Another round: a REPLY holding only the SSPI token; the
                # client answers with packet type 0x11, the raw token.
                self.reply(tok_sspi(res.token or b''))
                typ, token = self.c.read_message()
                if typ == PKT_LOGIN7:
                    # pytds and tiberius send it in a LOGIN7-type packet;
                    # SQL Server accepts either type
                    log('connection %d SSPI token in a packet of type 0x10 '
                        '(LOGIN7), accepted as SQL Server does' % self.spid)
                elif typ != PKT_SSPI:
                    raise Closed('expected an SSPI packet (0x11), got 0x%02x'
                                 % typ)
        except GSSError as e:
            etok = getattr(e, 'token', None) or b''
            if e.maj_code & 0x00ff0000 == 0x00040000:  # GSS_S_BAD_BINDINGS
                epa.log_refusal(self, 'they do not match (the acceptor '
                                'says so)')
            log('connection %d integrated login failed: GSS major 0x%08x '
                'minor %d%s [%s]; error token %d bytes%s' % (
                    self.spid, e.maj_code, e.min_code,
                    krb5_error_name(e.min_code) or
                    (ntlm_error_name(str(e)) if b'NTLMSSP\x00' in token else ''),
                    ' '.join(str(e).split()), len(etok), gss_token_kind(etok)))
            # SQL Server forwards the acceptor's error token (a KRB-ERROR,
            # or SPNEGO's reject wrapping it) before the login error.
            self.reply((tok_sspi(etok) if etok else b'') +
                       self.err(18452, 14, MSG_18452) + tok_done(DONE_ERROR))
            return None
        refusal = epa.check_bound(self, res, bound)
        if refusal:
            epa.log_refusal(self, refusal)
            self.reply(self.err(18452, 14, MSG_18452) + tok_done(DONE_ERROR))
            return None
        # gss-ntlmssp's initiator name is 'DOMAIN\\user' with a trailing NUL
        principal = display_name(res.initiator_name, name_type=False).name \
            .decode('utf-8', 'replace').rstrip('\x00')
        login = map_principal(cfg.maps, principal)
        log('connection %d authenticated %s (mech %s, %d round(s)) -> login %r'
            % (self.spid, principal, mech_name(res.mech), rounds, login))
        if login is None:
            # SQL Server names the Windows account (TDSC\bob); the Kerberos
            # principal is what the client can recognise here.
            self.reply(self.err(18456, 14, "Login failed for user '%s'."
                                % principal) + tok_done(DONE_ERROR))
            return None
        return login, res.token or b''
