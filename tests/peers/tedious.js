// tedious (the npm driver, pinned in package.json / package-lock.json)
// against the test server: a third independent client, written by people
// who never saw this project.  Run by tests/peers/tedious.sh, which starts
// the servers and installs tedious; one "ok"/"FAIL" line per check, exit 1
// on any failure.
//
// Usage: node tedious.js MODE PORT CAFILE
//   MODE plain     server --encryption not_sup: no TLS at all
//        tls       server --encryption req: TLS, certificate checked
//        strict    server --strict: TDS 8.0 (TLS first)
//        untrusted server with a self-signed certificate: must be refused
'use strict';

const fs = require('fs');
const { Connection, Request, TYPES, ISOLATION_LEVEL } = require('tedious');

const [mode, port, cafile] = process.argv.slice(2);
const USER = 'tedioususer';
const PASSWORD = 'T3dious!pw';
let failures = 0;

function check(cond, what, detail) {
  if (cond) {
    console.log('ok   ' + mode + ': ' + what);
  } else {
    failures++;
    console.log('FAIL ' + mode + ': ' + what + (detail ? ' (' + detail + ')' : ''));
  }
}

function config() {
  const options = {
    port: Number(port),
    database: 'tdsc_test',
    connectTimeout: 15000,
    requestTimeout: 20000,
    cancelTimeout: 5000,
    trustServerCertificate: false,
    cryptoCredentialsDetails: { ca: fs.readFileSync(cafile) },
    encrypt: mode === 'plain' ? false : mode === 'strict' ? 'strict' : true,
  };
  return {
    server: 'localhost',
    authentication: { type: 'default', options: { userName: USER, password: PASSWORD } },
    options,
  };
}

function connect() {
  return new Promise((resolve, reject) => {
    const c = new Connection(config());
    c.on('error', () => {}); // a lost connection fails the request too
    c.connect((err) => (err ? reject(err) : resolve(c)));
  });
}

function close(c) {
  return new Promise((resolve) => {
    if (c.closed) return resolve();
    c.on('end', resolve);
    c.close();
  });
}

// Runs sql (with params [name, type, value, options]); resolves with
// {rows, columns, rowCount, outputs, statuses} or rejects with the error.
function run(c, sql, params = [], proc = false) {
  return new Promise((resolve, reject) => {
    const out = { rows: [], columns: null, rowCount: 0, outputs: {}, statuses: [] };
    const req = new Request(sql, (err, rowCount) => {
      if (err) return reject(err);
      out.rowCount = rowCount;
      resolve(out);
    });
    for (const [name, type, value, opts, output] of params) {
      if (output) req.addOutputParameter(name, type, value, opts);
      else req.addParameter(name, type, value, opts);
    }
    req.on('columnMetadata', (cols) => { out.columns = cols; });
    req.on('row', (cols) => out.rows.push(cols.map((x) => x.value)));
    req.on('returnValue', (name, value) => { out.outputs[name] = value; });
    req.on('doneProc', (rc, more, status) => out.statuses.push(status));
    if (proc) c.callProcedure(req);
    else c.execSql(req);
  });
}

function tx(c, verb, ...args) {
  return new Promise((resolve, reject) => {
    c[verb]((err) => (err ? reject(err) : resolve()), ...args);
  });
}

async function typedTable(c) {
  // A table of its own: every column typed, filled through parameters,
  // read back with each value and declared type.
  await run(c, 'CREATE TABLE tedious_typed (id int NOT NULL PRIMARY KEY, ' +
    'b bit, i bigint, d decimal(18,4), f float, s nvarchar(50), ' +
    'v varbinary(16), g uniqueidentifier, dt date, ts datetime2(7))');
  const g = '6F9619FF-8B86-D011-B42D-00C04FC964FF';
  await run(c, 'INSERT INTO tedious_typed VALUES (@id, @b, @i, @d, @f, @s, @v, @g, @dt, @ts)', [
    ['id', TYPES.Int, 1], ['b', TYPES.Bit, true], ['i', TYPES.BigInt, '-9007199254740993'],
    ['d', TYPES.Decimal, -12345.6789, { precision: 18, scale: 4 }],
    ['f', TYPES.Float, 2.5], ['s', TYPES.NVarChar, 'Grüße, 日本'],
    ['v', TYPES.VarBinary, Buffer.from([1, 2, 3, 0xff])], ['g', TYPES.UniqueIdentifier, g],
    ['dt', TYPES.Date, new Date(Date.UTC(2024, 1, 29))],
    ['ts', TYPES.DateTime2, new Date(Date.UTC(2001, 2, 3, 4, 5, 6, 789)), { scale: 7 }],
  ]);
  await run(c, 'INSERT INTO tedious_typed (id) VALUES (2)');
  const r = await run(c, 'SELECT id, b, i, d, f, s, v, g, dt, ts FROM tedious_typed ORDER BY id');
  // Nullable columns come as the N types (INTN, BITN, ...), as SQL Server
  // sends them; a NOT NULL int as the fixed INT4 (the captures show both).
  const types = r.columns.slice(1).map((x) => x.type.name).join(',');
  check(types === 'BitN,IntN,DecimalN,FloatN,NVarChar,VarBinary,UniqueIdentifier,Date,DateTime2',
    'typed table: declared types', types);
  check(r.columns[0].type.name === 'Int', 'typed table: a NOT NULL int is INT4', r.columns[0].type.name);
  check(r.columns[2].dataLength === 8, 'typed table: bigint is 8 bytes', r.columns[2].dataLength);
  check(r.columns[3].precision === 18 && r.columns[3].scale === 4, 'typed table: decimal(18,4)',
    r.columns[3].precision + ',' + r.columns[3].scale);
  check(r.columns[5].dataLength === 100, 'typed table: nvarchar(50) is 100 bytes', r.columns[5].dataLength);
  check(r.rows.length === 2, 'typed table: two rows', r.rows.length);
  const [row1, row2] = r.rows;
  check(row1[0] === 1 && row1[1] === true, 'typed table: int, bit', row1.slice(0, 2).join());
  check(String(row1[2]) === '-9007199254740993', 'typed table: bigint beyond 2^53', row1[2]);
  check(row1[3] === -12345.6789, 'typed table: decimal', row1[3]);
  check(row1[4] === 2.5, 'typed table: float', row1[4]);
  check(row1[5] === 'Grüße, 日本', 'typed table: nvarchar', row1[5]);
  check(Buffer.isBuffer(row1[6]) && row1[6].toString('hex') === '010203ff', 'typed table: varbinary',
    row1[6] && row1[6].toString('hex'));
  check(String(row1[7]).toUpperCase() === g, 'typed table: uniqueidentifier', row1[7]);
  check(row1[8] instanceof Date && row1[8].toISOString().startsWith('2024-02-29'), 'typed table: date',
    row1[8] && row1[8].toISOString());
  check(row1[9] instanceof Date && row1[9].toISOString() === '2001-03-03T04:05:06.789Z',
    'typed table: datetime2', row1[9] && row1[9].toISOString());
  check(row2[0] === 2 && row2.slice(1).every((x) => x === null), 'typed table: NULLs', row2.join());
}

async function parameters(c) {
  let r = await run(c, 'SELECT @a + @b AS s, @t AS t, @n AS n', [
    ['a', TYPES.Int, 40], ['b', TYPES.Int, 2], ['t', TYPES.NVarChar, 'Zoë ☃'], ['n', TYPES.Int, null]]);
  check(r.rows.length === 1 && r.rows[0][0] === 42, 'parameters: int sum', r.rows[0] && r.rows[0][0]);
  check(r.rows[0][1] === 'Zoë ☃', 'parameters: nvarchar round trip', r.rows[0][1]);
  check(r.rows[0][2] === null, 'parameters: NULL', r.rows[0][2]);
  r = await run(c, 'SELECT name FROM people WHERE id = @id', [['id', TYPES.Int, 3]]);
  check(r.rows.length === 1 && r.rows[0][0] === 'Zoë', 'parameters: WHERE id = @id', r.rows.join());
  try {
    await run(c, 'SELECT * FROM no_such_table');
    check(false, 'parameters: server error reaches the callback');
  } catch (e) {
    check(e.number === 208 && /no_such_table/.test(e.message), 'parameters: error 208', e.number + ' ' + e.message);
  }
}

async function procedure(c) {
  const r = await run(c, 'tdsc_add', [
    ['a', TYPES.Int, 2], ['b', TYPES.Int, 3], ['sum', TYPES.Int, null, undefined, true]], true);
  check(r.outputs.sum === 5, 'procedure: OUTPUT @sum = 5', JSON.stringify(r.outputs));
  check(r.rows.length === 1 && r.rows[0].join() === '2,3', 'procedure: its row', r.rows.join(';'));
  check(r.statuses.length >= 1 && r.statuses[r.statuses.length - 1] === 0, 'procedure: return status 0',
    r.statuses.join());
}

async function transactions(c) {
  await run(c, 'CREATE TABLE tedious_tx (id int)');
  await tx(c, 'beginTransaction', 'ta', ISOLATION_LEVEL.READ_COMMITTED);
  await run(c, 'INSERT INTO tedious_tx VALUES (1)');
  let r = await run(c, 'SELECT @@TRANCOUNT');
  check(r.rows[0][0] === 1, 'transactions: @@TRANCOUNT 1 inside', r.rows[0][0]);
  await tx(c, 'rollbackTransaction');
  r = await run(c, 'SELECT COUNT(*) FROM tedious_tx');
  check(r.rows[0][0] === 0, 'transactions: rollback undoes the insert', r.rows[0][0]);
  await tx(c, 'beginTransaction', 'tb');
  await run(c, 'INSERT INTO tedious_tx VALUES (2)');
  await tx(c, 'commitTransaction');
  r = await run(c, 'SELECT COUNT(*), @@TRANCOUNT FROM tedious_tx');
  check(r.rows[0][0] === 1 && r.rows[0][1] === 0, 'transactions: commit keeps it', r.rows[0].join());
}

async function cancel(c) {
  // tedious waits for the attention acknowledgement (DONE with DONE_ATTN,
  // in a message of its own after the cancelled response's end).
  const started = Date.now();
  const p = run(c, "WAITFOR DELAY '00:00:10'; SELECT 1");
  setTimeout(() => c.cancel(), 300);
  try {
    await p;
    check(false, 'cancel: the request is cancelled');
  } catch (e) {
    check(e.code === 'ECANCEL', 'cancel: ECANCEL', e.code + ' ' + e.message);
  }
  check(Date.now() - started < 8000, 'cancel: well before the delay ends', (Date.now() - started) + ' ms');
  try {
    const r = await run(c, 'SELECT 7');
    check(r.rows.length === 1 && r.rows[0][0] === 7, 'cancel: the connection stays usable');
  } catch (e) {
    check(false, 'cancel: the connection stays usable', e.code + ' ' + e.message);
  }
}

async function main() {
  if (mode === 'untrusted') {
    try {
      const c = await connect();
      await close(c);
      check(false, 'a self-signed certificate is refused');
    } catch (e) {
      check(/certificate/i.test(e.message), 'a self-signed certificate is refused', e.message);
    }
    return;
  }
  let c;
  try {
    c = await connect();
  } catch (e) {
    check(false, 'connect', e.code + ' ' + e.message);
    return;
  }
  check(true, 'connect');
  const r = await run(c, 'SELECT @@VERSION');
  check(/tdsclient test server/.test(r.rows[0][0]), 'SELECT @@VERSION', r.rows[0][0]);
  const steps = mode === 'plain'
    ? [typedTable, parameters, procedure, transactions, cancel]
    : [parameters, procedure, cancel];
  for (const step of steps) {
    try {
      await step(c);
    } catch (e) {
      check(false, step.name + ' ran to its end', (e.code || '') + ' ' + e.message);
      if (c.closed) {
        try { c = await connect(); } catch (e2) { break; }
      }
    }
  }
  await close(c);
}

const guard = setTimeout(() => {
  console.log('FAIL ' + mode + ': the checks did not end within 120 s');
  process.exit(1);
}, 120000);
main().then(() => {
  clearTimeout(guard);
  console.log(mode + ': ' + (failures ? failures + ' check(s) failed' : 'all checks passed'));
  process.exit(failures ? 1 : 0);
}, (e) => {
  console.log('FAIL ' + mode + ': ' + e.stack);
  process.exit(1);
});
