#!/usr/bin/env python3
"""mutate.py -- mutation testing of the code that decides (tests/mutation).

Applies each mutant of a list (mutants.txt beside this script) to a
scratch copy of the source tree, one at a time: rebuild (incrementally,
one configured build reused), run the test programs the mutant names with a
time limit, restore the file.  A mutant is

  killed    a named test failed (or outlived the time limit),
  survived  every named test passed: no test notices the change,
  invalid   its original text is not found exactly once in the file (the
            code moved on: refresh the mutant), or the mutated tree does
            not build.

and the kill rate is killed / (killed + survived).  Not part of make check:
`make mutation` runs it (MUTATION_ARGS=... passes options).

Usage: mutate.py [--src DIR] [--work DIR] [--only ID,...] [--file PATH]
                 [--timeout SEC] [--jobs N] [--configure-args ARGS] [--list]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Mutant:
    def __init__(self, mid, line):
        self.id = mid
        self.line = line
        self.file = None
        self.old = None
        self.new = None
        self.why = None
        self.tests = []
        self.env = {}

    def check(self):
        for k in ('file', 'old', 'new', 'why'):
            if getattr(self, k) is None:
                raise ValueError('mutant %s (line %d): no %s' % (
                    self.id, self.line, k))
        if not self.tests:
            raise ValueError('mutant %s (line %d): no tests' % (
                self.id, self.line))
        if self.old == self.new:
            raise ValueError('mutant %s: replacement equals the original'
                             % self.id)


def unescape(s):
    # {NL} stands for a newline (C text has its own backslashes)
    return s.replace('{NL}', '\n')


def parse_list(path):
    """mutants.txt: blocks of `key: value` lines.  `[id]` opens a mutant;
    `file:`, `old:`, `new:` (the exact original text and its replacement,
    single line, {NL} for a newline), `why:` (the reason the change matters)
    and `tests:` (test programs, space-separated) follow.  `defaults:`
    lines before any mutant set the tests of the mutants that have none,
    per file: `defaults: lib/x.c tests/unit/check_y`."""
    mutants, defaults, cur, seen = [], {}, None, set()
    with open(path, encoding='utf-8') as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip('\n')
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            m = re.match(r'^\[([A-Za-z0-9_.-]+)\]\s*$', line)
            if m:
                if m.group(1) in seen:
                    raise ValueError('line %d: duplicate mutant id %s'
                                     % (n, m.group(1)))
                seen.add(m.group(1))
                cur = Mutant(m.group(1), n)
                mutants.append(cur)
                continue
            m = re.match(r'^(file|old|new|why|tests|env|defaults):\s?(.*)$',
                         line)
            if not m:
                raise ValueError('line %d: cannot read %r' % (n, line))
            key, val = m.group(1), m.group(2)
            if key == 'defaults':
                parts = val.split()
                defaults[parts[0]] = parts[1:]
                continue
            if cur is None:
                raise ValueError('line %d: %s outside a mutant' % (n, key))
            if key == 'tests':
                cur.tests = val.split()
            elif key == 'env':
                cur.env.update(kv.split('=', 1) for kv in val.split())
            elif key in ('old', 'new'):
                setattr(cur, key, unescape(val))
            else:
                setattr(cur, key, val)
    for m in mutants:
        if not m.tests and m.file in defaults:
            m.tests = list(defaults[m.file])
        m.check()
    return mutants


def run(cmd, cwd, timeout=None, log=None, env=None):
    """(returncode or 'timeout', seconds).  env: added to ours."""
    t0 = time.time()
    full = dict(os.environ, **env) if env else None
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=log or subprocess.DEVNULL,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           start_new_session=True, env=full)
        return p.returncode, time.time() - t0
    except subprocess.TimeoutExpired:
        return 'timeout', time.time() - t0


def copy_tree(src, dst):
    ignore = shutil.ignore_patterns('.git', '_build*', 'autom4te.cache',
                                    '*.o', '*.lo', '.libs', '.deps')
    if os.path.isdir(dst):
        # refresh: sources may have changed since the last run
        for root, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d not in (
                '.git', 'autom4te.cache', '.libs', '.deps')
                and not d.startswith('_build')]
            rel = os.path.relpath(root, src)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for fn in files:
                s, d = os.path.join(root, fn), os.path.join(dst, rel, fn)
                if fn.endswith(('.o', '.lo')):
                    continue
                if (not os.path.exists(d) or
                        open(s, 'rb').read() != open(d, 'rb').read()):
                    # a plain copy: its mtime is now, so make rebuilds
                    shutil.copy(s, d)
        return
    shutil.copytree(src, dst, ignore=ignore, symlinks=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--src', default=os.path.dirname(os.path.dirname(HERE)),
                    help='source tree (default: this checkout)')
    ap.add_argument('--list', dest='listfile',
                    default=os.path.join(HERE, 'mutants.txt'))
    ap.add_argument('--work', help='scratch folder, kept between runs '
                    '(default: $TMPDIR/tdsc-mutation-<uid>)')
    ap.add_argument('--only', help='comma-separated mutant ids')
    ap.add_argument('--file', help='only the mutants of this source file')
    ap.add_argument('--timeout', type=int, default=300,
                    help='seconds per mutant for its tests (default 300)')
    ap.add_argument('--jobs', type=int, default=1)
    ap.add_argument('--configure-args', default='--enable-werror')
    ap.add_argument('--show', action='store_true',
                    help='print the mutants and exit')
    ap.add_argument('--results', help='also write the results here (TSV)')
    ap.add_argument('--skip-baseline', action='store_true',
                    help='trust that the tests pass unmutated')
    a = ap.parse_args(argv)

    mutants = parse_list(a.listfile)
    if a.only:
        # in the order given
        want = a.only.split(',')
        by_id = {m.id: m for m in mutants}
        mutants = [by_id[i] for i in want if i in by_id]
    if a.file:
        mutants = [m for m in mutants if m.file == a.file]
    if a.show:
        bad = 0
        for m in mutants:
            try:
                n = open(os.path.join(a.src, m.file), encoding='utf-8') \
                    .read().count(m.old)
            except OSError:
                n = 0
            bad += n != 1
            print('%-28s %-26s %s%s' % (m.id, m.file, m.why, '' if n == 1
                                        else ' [TEXT FOUND %d TIMES]' % n))
        print('%d mutants, %d whose text is not found exactly once'
              % (len(mutants), bad))
        return 0

    work = a.work or os.path.join(tempfile.gettempdir(),
                                  'tdsc-mutation-%d' % os.getuid())
    tree = os.path.join(work, 'src')
    build = os.path.join(work, 'build')
    os.makedirs(work, exist_ok=True)
    blog = open(os.path.join(work, 'build.log'), 'w')
    print('scratch tree %s' % tree, flush=True)
    copy_tree(a.src, tree)
    make = ['make', '-s', '-j%d' % a.jobs]
    if not os.path.exists(os.path.join(build, 'Makefile')):
        rc, _ = run(['autoreconf', '-fi'], tree, log=blog)
        os.makedirs(build, exist_ok=True)
        if rc == 0:
            rc, _ = run(['sh', '-c', '"%s/configure" -q %s' % (
                tree, a.configure_args)], build, log=blog)
        if rc != 0:
            print('the unmutated tree does not configure: see %s/build.log'
                  % work)
            return 2
    # The baseline: every test any mutant names must pass unmutated, or
    # "killed" would mean nothing.
    progs = sorted({t for m in mutants for t in m.tests})
    rc, secs = run(make + ['all'] + [p for p in progs if '/check_' in p
                                     and not p.endswith(('.sh', '.py'))],
                   build, log=blog)
    if rc == 0:
        # check_DATA (the test certificates), which check-TESTS assumes
        rc, _ = run(make + ['check', 'TESTS=', 'check_PROGRAMS='], build,
                    log=blog)
    if rc != 0:
        print('the unmutated tree does not build: see %s/build.log' % work)
        return 2
    base_fail = []
    for p in ([] if a.skip_baseline else progs):
        rc, secs = check(make, build, [p], a.timeout, work, 'baseline')
        print('baseline %-40s %s (%.0f s)' % (p, 'ok' if rc == 0 else
                                              'FAILS', secs), flush=True)
        if rc != 0:
            base_fail.append(p)
    if base_fail:
        print('these tests fail without any mutant, fix them first: %s'
              % ' '.join(base_fail))
        return 2

    # the mutants that unit tests judge first: their verdicts come fast
    if not a.only:
        mutants.sort(key=lambda m: any('/integration/' in t for t in m.tests))
    res = []
    for i, m in enumerate(mutants, 1):
        path = os.path.join(tree, m.file)
        try:
            orig = open(path, encoding='utf-8').read()
        except OSError:
            orig = None
        count = orig.count(m.old) if orig is not None else 0
        t0 = time.time()
        if count != 1:
            verdict = 'invalid'
            detail = ('text not found' if count == 0 else
                      'text found %d times' % count)
        else:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(orig.replace(m.old, m.new))
            try:
                progs = [t for t in m.tests
                         if not t.endswith(('.sh', '.py'))]
                # only what the tests need: the libraries come with them
                rc, _ = run(make + (progs or ['all']), build, log=blog)
                if rc != 0:
                    verdict, detail = 'invalid', 'does not build'
                else:
                    rc, _ = check(make, build, m.tests, a.timeout, work, m.id,
                                  m.env)
                    if rc == 'timeout':
                        verdict, detail = 'killed', 'time limit'
                    elif rc != 0:
                        verdict, detail = 'killed', 'a test failed'
                    else:
                        verdict, detail = 'survived', 'every test passed'
            finally:
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(orig)
        res.append((m, verdict, detail))
        print('[%3d/%d] %-8s %-30s %s (%s, %.0f s)' % (
            i, len(mutants), verdict, m.id, m.file, detail,
            time.time() - t0), flush=True)
    # leave the build matching the unmutated tree
    run(make + ['all'], build, log=blog)

    k = sum(1 for _, v, _ in res if v == 'killed')
    s = sum(1 for _, v, _ in res if v == 'survived')
    inv = sum(1 for _, v, _ in res if v == 'invalid')
    print('\n%d mutants: %d killed, %d survived, %d invalid' % (
        len(res), k, s, inv))
    if k + s:
        print('kill rate %.1f%% (killed / (killed + survived))'
              % (100.0 * k / (k + s)))
    for m, v, d in res:
        if v != 'killed':
            print('%s %s (%s): %s [%s]' % (v.upper(), m.id, m.file, m.why, d))
    if a.results:
        with open(a.results, 'w') as f:
            for m, v, d in res:
                f.write('%s\t%s\t%s\t%s\n' % (m.id, m.file, v, d))
    return 0 if s == 0 else 1


def check(make, build, tests, timeout, work, tag, env=None):
    """Runs tests one at a time, in the order given (put the one most
    likely to notice first), and stops at the first failure."""
    total = 0.0
    rc = 0
    with open(os.path.join(work, 'check-%s.log' % tag), 'w') as log:
        for t in tests:
            prog = [] if t.endswith(('.sh', '.py')) else [t]
            # check-TESTS, not check: check would relink every program
            cmd = make + ['check-TESTS', 'TESTS=%s' % t,
                          'check_PROGRAMS=%s' % ' '.join(prog),
                          'TEST_TIMEOUT=%d' % timeout]
            rc, secs = run(cmd, build, timeout=timeout + 60, log=log, env=env)
            total += secs
            if rc != 0:
                break
    return rc, total


if __name__ == '__main__':
    sys.exit(main())
