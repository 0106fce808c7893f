// Push-to-stored latency of POST /wechat/events (bench/wechat/run.sh).
// Bindery answers "success" only after the push is stored (wechat/events.h),
// so the time until its answer is the time until the event is in the store.
//
//   node push-latency.mjs node BINDERY_URL N
//     N `authorized` pushes (each a new event: its own authorizer and
//     CreateTime), sealed beforehand with Node's crypto as WeChat seals them
//     (spec §7), sent one after the other, each on a new connection as
//     WeChat's pusher does; latency = request start to the end of the answer,
//     measured here (µs). 50 warm-up pushes are not counted.
//
//   node push-latency.mjs emulator EMULATOR_URL N PLATFORM_DB
//     N component_verify_ticket pushes made by `bindery platform` (POST
//     /__emu/control/push-ticket, one at a time, each waited for); figures
//     from the emulator's own delivery log in PLATFORM_DB: the duration of
//     each delivery (seal + POST + Bindery's answer), in whole milliseconds
//     rounded down (its resolution).
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { encrypt, signature } from '../../tests/e2e/lib/emulator.mjs';

export const APPID = 'wx0000000000000001';
export const SECRET = '5f0c7a1e9b3d4c2a8e6f1b0d7c9a2e41';
export const TOKEN = 'binderyEmulatorToken';
export const AES_KEY = 'BinderyLocalEmulatorKey0123456789abcdefghij';
const WARMUP = 50;

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1], mean };
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, {
      method: 'POST', agent: false, headers: { 'Content-Type': 'text/xml; charset=utf-8' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({
        us: Number(process.hrtime.bigint() - t0) / 1000,
        status: res.statusCode,
        text,
        outcome: res.headers['x-bindery-push'],
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pushOf(base, i, t) {
  const authorizer = `wxbench${String(i).padStart(11, '0')}`;
  const xml = `<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>${t}</CreateTime>` +
    `<InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[${authorizer}]]></AuthorizerAppid>` +
    `<AuthorizationCode><![CDATA[queryauthcode@@@bench-${i}-${'x'.repeat(60)}]]></AuthorizationCode>` +
    `<AuthorizationCodeExpiredTime>${t + 3600}</AuthorizationCodeExpiredTime>` +
    `<PreAuthCode><![CDATA[preauthcode@@@bench-${i}-${'y'.repeat(50)}]]></PreAuthCode></xml>`;
  const enc = encrypt(AES_KEY, APPID, xml);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = String(1000000000 + i);
  const q = new URLSearchParams({
    signature: signature(TOKEN, ts, nonce), timestamp: ts, nonce, encrypt_type: 'aes',
    msg_signature: signature(TOKEN, ts, nonce, enc),
  });
  return {
    url: `${base}/wechat/events?${q}`,
    body: `<xml><AppId><![CDATA[${APPID}]]></AppId><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`,
  };
}

async function fromNode(base, n) {
  const t = Math.floor(Date.now() / 1000) - 100000;
  const pushes = Array.from({ length: n + WARMUP }, (_, i) => pushOf(base, i, t + i));
  const samples = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < pushes.length; i++) {
    if (i === WARMUP) samples.length = 0;
    const r = await post(pushes[i].url, pushes[i].body);
    if (r.status !== 200 || r.text !== 'success' || r.outcome !== 'stored') {
      throw new Error(`push ${i}: ${r.status} ${r.outcome} ${r.text}`);
    }
    samples.push(r.us);
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const p = percentiles(samples);
  const f = (us) => `${(us / 1000).toFixed(3)} ms`;
  console.log(`Node -> bindery serve, ${p.n} authorized pushes, one at a time, new connection each:`);
  console.log(`  push-to-stored p50 ${f(p.p50)}  p90 ${f(p.p90)}  p99 ${f(p.p99)}  max ${f(p.max)}  mean ${f(p.mean)}`);
  console.log(`  (${(pushes.length / wall).toFixed(0)} pushes/s sequentially, warm-up included)`);
}

function sqlite(db, query) {
  const r = spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
}

async function control(base, path, body) {
  const res = await fetch(`${base}/__emu/control/${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function fromEmulator(base, n, db) {
  const pending = `SELECT COUNT(*) FROM pl_push_jobs WHERE state = 'pending'`;
  for (let i = 0; i < n + WARMUP; i++) {
    await control(base, 'push-ticket', { component_appid: APPID });
    const end = Date.now() + 10000;
    while (sqlite(db, pending) !== '0') {
      if (Date.now() > end) throw new Error('a ticket push stayed pending for 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  const rows = sqlite(db,
    `SELECT j.state, l.duration_ms FROM pl_push_jobs j JOIN pl_push_log l ON l.job = j.id ` +
    `WHERE j.info_type = 'component_verify_ticket' ORDER BY j.id DESC LIMIT ${n}`)
    .split('\n').map((l) => l.split('|'));
  const bad = rows.filter((r) => r[0] !== 'delivered');
  if (rows.length !== n || bad.length) throw new Error(`${rows.length} rows, ${bad.length} not delivered`);
  const ms = rows.map((r) => Number(r[1]));
  const d = percentiles(ms);
  const under1 = ms.filter((x) => x === 0).length;
  // whole milliseconds rounded down: a value v means [v, v+1) ms
  const f = (v) => `< ${v + 1} ms`;
  console.log(`bindery platform -> bindery serve, ${n} component_verify_ticket pushes, one at a time,`);
  console.log('  delivery as the emulator records it (seal, POST on a new connection, Bindery verifies,');
  console.log('  decrypts, stores and answers "success"; whole ms, rounded down):');
  console.log(`  p50 ${f(d.p50)}  p90 ${f(d.p90)}  p99 ${f(d.p99)}  max ${f(d.max)}  (${under1} of ${n} under 1 ms)`);
}

const [mode, base, n = '1000', db] = process.argv.slice(2);
if (mode === 'node') await fromNode(base, Number(n));
else if (mode === 'emulator') await fromEmulator(base, Number(n), db);
else {
  console.error('usage: push-latency.mjs node BINDERY_URL [N] | emulator EMULATOR_URL N PLATFORM_DB');
  process.exit(2);
}
