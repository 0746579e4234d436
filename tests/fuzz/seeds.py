#!/usr/bin/env python3
"""Turns the public byte vectors (one line of hex per file, TDS messages
with their packet headers) into seed inputs for each fuzz target, in the
input format of that target (tests/fuzz/README.md).

    seeds.py VECTORS_DIR OUT_DIR

writes OUT_DIR/<target>/<vector name>[.<variant>].  Which vector feeds
which target is decided from the file name (the vectors' README describes
each); vectors that are no target's input (client requests) are left out.
"""
import os
import sys


def payload(msg):
    """The packets' payloads, concatenated (stops at a bad header)."""
    out, off = b'', 0
    while off + 8 <= len(msg):
        n = int.from_bytes(msg[off + 2:off + 4], 'big')
        if n < 8:
            break
        out += msg[off + 8:off + n]
        off += n
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    seeds = {}

    def add(target, name, data):
        seeds.setdefault(target, []).append((name, data))

    for f in sorted(os.listdir(src)):
        if not f.endswith('.hex'):
            continue
        with open(os.path.join(src, f)) as fh:
            data = bytes.fromhex(''.join(fh.read().split()))
        base = f[:-4]
        client = ('request' in base or 'client' in base or
                  base.startswith('mstds_v39_1') and base[10:12] in
                  ('10', '11', '12', '13', '14', '16') or
                  base.endswith(('-featureext-sessionrecovery',
                                 '-featureext-azuresqlsupport')))
        if 'ssrp' in base or base.startswith('mcsqlr'):
            if not client:
                add('ssrp', base, data)
            continue
        if base == 'pytds_ntlm_challenge':
            add('ntlm', base, b'\x00' + data)
            continue
        if client:
            continue
        prelogin = 'prelogin' in base or 'pre-login' in base or \
            base.endswith('_01_server_reply') and base.startswith('pb_')
        login = 'login_resp' in base or 'login-response' in base or \
            'featureextack' in base or \
            base.startswith('pb_') and base.endswith('_02_server_reply')
        if prelogin:
            add('prelogin', base, data)
            add('session', base + '.prelogin', b'\x06\x00' + data)
            continue
        if login:
            add('login', base, data)
            add('session', base + '.login', b'\x05\x00' + data)
        rpc = 'rpc' in base
        add('session', base + '.raw', (b'\x07' if rpc else b'\x04') + b'\x00'
            + data)
        add('session', base + '.read', (b'\x0f' if rpc else b'\x0c') + b'\x00'
            + data)
        p = payload(data)
        for flags in (0x00, 0x01, 0x02 | 3 << 2, 0x03):
            add('tokens', '%s.%02x' % (base, flags), bytes([flags]) + p)
    for target, items in seeds.items():
        d = os.path.join(dst, target)
        os.makedirs(d, exist_ok=True)
        for name, data in items:
            with open(os.path.join(d, name), 'wb') as fh:
                fh.write(data)
    print('fuzz: seeds from %s: %s' % (src, ', '.join(
        '%s %d' % (t, len(v)) for t, v in sorted(seeds.items()))))


if __name__ == '__main__':
    main()
