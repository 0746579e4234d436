"""Routing after login (MS-TDS 2.2.7.9, ENVCHANGE type 20), as Azure SQL's
gateway and an availability group's read-only routing do: the login is
accepted (LOGINACK), then an ENVCHANGE routing names the server and port
the client must log in to instead; the client closes this connection.

--route-to HOST,PORT routes every login (the gateway); with
--route-read-only, only logins whose LOGIN7 TypeFlags carry fReadOnlyIntent
(2.2.6.4, bit 0x20: ApplicationIntent=ReadOnly), as read-only routing does.
The misbehaviours a client must refuse: --route-protocol N (not 0, TCP),
--route-malformed (the server name's length one character short of
the routing data), and
--misbehave route, which routes every login back to this server itself (a
loop).  An empty name or port 0 are --route-to ',1433' and 'host,0'."""

import struct

from .log import log

READ_ONLY_INTENT = 0x20  # LOGIN7 TypeFlags fReadOnlyIntent
TOK_ENVCHANGE = 0xE3


def add_arguments(ap):
    ap.add_argument('--route-to', metavar='HOST,PORT',
                    help='after a successful login, route the client to '
                         'HOST,PORT (ENVCHANGE routing), as a gateway does')
    ap.add_argument('--route-read-only', action='store_true',
                    help='with --route-to: route only logins with '
                         'ApplicationIntent=ReadOnly (fReadOnlyIntent)')
    ap.add_argument('--route-protocol', type=int, default=0,
                    help='the protocol byte of the routing data (0 = TCP)')
    ap.add_argument('--route-malformed', action='store_true',
                    help='routing data whose server name is one character '
                         'longer than its length says')


def configure(cfg, args):
    cfg.route_to = None
    if args.route_to:
        host, _, port = args.route_to.rpartition(',')
        cfg.route_to = (host, int(port))
    cfg.route_read_only = args.route_read_only
    cfg.route_protocol = args.route_protocol
    cfg.route_malformed = args.route_malformed


def envchange(protocol, host, port, malformed=False):
    """The ENVCHANGE routing token: type 20, RoutingData as US_VARBYTE
    (protocol, port, AlternateServer as US_VARCHAR), old value 0x0000."""
    name = host.encode('utf-16-le')
    chars = len(name) // 2 - (1 if malformed and name else 0)
    val = bytes([protocol]) + struct.pack('<HH', port, chars) + name
    body = bytes([20]) + struct.pack('<H', len(val)) + val + b'\x00\x00'
    return struct.pack('<BH', TOK_ENVCHANGE, len(body)) + body


def token(sess, type_flags):
    """The routing token for a login just accepted, or b''."""
    cfg = sess.cfg
    if cfg.misbehave == 'route':
        target = (cfg.host, cfg.port)
    elif cfg.route_to:
        target = cfg.route_to
    else:
        return b''
    read_only = bool(type_flags & READ_ONLY_INTENT)
    if cfg.route_read_only and not read_only:
        log('connection %d read-write intent: not routed' % sess.spid)
        return b''
    log('connection %d routed to %s,%d (read-only intent %s)' % (
        sess.spid, target[0], target[1], read_only))
    return envchange(cfg.route_protocol, target[0], target[1],
                     cfg.route_malformed)
