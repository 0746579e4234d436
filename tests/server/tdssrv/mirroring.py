"""Database mirroring, as seen by a client (MS-TDS 2.2.7.9, ENVCHANGE type
13, "Database Mirroring partner").

--mirror-partner NAME: after every login, an ENVCHANGE 13 names NAME as
the database's mirroring partner (the principal tells the client where
the mirror is, for the client to fail over to next time).
--mirror-role mirror: this instance is the mirror, whose database is in
RESTORING state: every login the server authenticated is refused as SQL
Server refuses one to a mirror database, with 4060 ("Cannot open database
... requested by the login") then 18456 (state 1, as a client always
sees it).  A wrong password is still 18456 alone, checked first, as the
server does."""

import struct

from .log import log

TOK_ENVCHANGE = 0xE3


def add_arguments(ap):
    ap.add_argument('--mirror-partner', metavar='NAME',
                    help='after login, name NAME as the mirroring partner '
                         '(ENVCHANGE 13)')
    ap.add_argument('--mirror-role', choices=('principal', 'mirror'),
                    default='principal',
                    help='mirror: refuse every authenticated login with '
                         '4060 + 18456, as a mirror database does')


def configure(cfg, args):
    cfg.mirror_partner = args.mirror_partner
    cfg.mirror_role = args.mirror_role


def refusal(sess, user, database):
    """The errors that refuse the login at a mirror, or None."""
    if sess.cfg.mirror_role != 'mirror':
        return None
    db = database or sess.cfg.database
    log('connection %d login to %r refused: this instance is the mirror'
        % (sess.spid, db))
    return (sess.err(4060, 11, 'Cannot open database "%s" requested by the '
                     'login. The login failed.' % db) +
            sess.err(18456, 14, "Login failed for user '%s'." % user))


def envchange(sess):
    """ENVCHANGE 13 (B_VARCHAR new value, empty old value), or b''."""
    name = sess.cfg.mirror_partner
    if not name:
        return b''
    enc = name.encode('utf-16-le')
    body = (bytes([13, len(name)]) + enc + b'\x00')
    log('connection %d mirroring partner %r' % (sess.spid, name))
    return struct.pack('<BH', TOK_ENVCHANGE, len(body)) + body
