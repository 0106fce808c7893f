// POST /wechat/events, the 授权事件接收URL (spec §6), end to end: pushes are
// encrypted and signed here as WeChat would (spec §7, with Node's crypto),
// and with the independent npm package wechat-crypto.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './lib/harness.mjs';

const APPID = 'wx0123456789abcdef';
const TOKEN = 'tk_emulator_0001';
const AES_KEY = 'EmulatorKey0123456789abcdefghijklmnopqrstuv';
const OTHER_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const AUTHORIZER = 'wxfedcba9876543210';
const MAX_SKEW = 600; // WECHAT_EVENTS_MAX_SKEW

// ---- spec §7 -------------------------------------------------------------

// §7.1: base64 of the 43 characters plus "=", trailing bits ignored.
const aesKey = (encodingAesKey) => Buffer.from(`${encodingAesKey}=`, 'base64');

// §7.2-7.3: random[16] | BE32 len | msg | appid, PKCS#7 to 32 bytes,
// AES-256-CBC with IV = key[0..16). `pad` overrides the padding bytes.
function encrypt(msg, { key = AES_KEY, appid = APPID, pad } = {}) {
  const k = aesKey(key);
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const full = Buffer.concat([crypto.randomBytes(16), len, body, Buffer.from(appid)]);
  const n = 32 - (full.length % 32);
  const padding = pad ? pad(n) : Buffer.alloc(n, n);
  const cipher = crypto.createCipheriv('aes-256-cbc', k, k.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([full, padding])), cipher.final()]).toString('base64');
}

// §7.4
const sign = (...parts) => crypto.createHash('sha1').update(parts.sort().join('')).digest('hex');

const now = () => Math.floor(Date.now() / 1000);
const nonce = () => String(crypto.randomInt(100000000, 2000000000));

function envelope(enc, appid = APPID) {
  return `<xml>\n<AppId><![CDATA[${appid}]]></AppId>\n<Encrypt><![CDATA[${enc}]]></Encrypt>\n</xml>`;
}

// A signed push of an Encrypt value; any part can be overridden.
function push(enc, { timestamp = now(), n = nonce(), msgSignature, outerAppid = APPID, body } = {}) {
  const ts = String(timestamp);
  return {
    query: new URLSearchParams({
      signature: sign(TOKEN, ts, n),
      timestamp: ts,
      nonce: n,
      encrypt_type: 'aes',
      msg_signature: msgSignature ?? sign(TOKEN, ts, n, enc),
    }).toString(),
    body: body ?? envelope(enc, outerAppid),
  };
}

const ticketXml = (ticket, t = now()) =>
  `<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>${t}</CreateTime>` +
  `<InfoType><![CDATA[component_verify_ticket]]></InfoType>` +
  `<ComponentVerifyTicket><![CDATA[${ticket}]]></ComponentVerifyTicket></xml>`;

const eventXml = (type, t, { appid = APPID, authorizer = AUTHORIZER } = {}) =>
  `<xml><AppId><![CDATA[${appid}]]></AppId><CreateTime>${t}</CreateTime>` +
  `<InfoType><![CDATA[${type}]]></InfoType><AuthorizerAppid><![CDATA[${authorizer}]]></AuthorizerAppid>` +
  (type === 'unauthorized' ? '' :
    `<AuthorizationCode><![CDATA[queryauthcode@@@e2e-${t}]]></AuthorizationCode>` +
    `<AuthorizationCodeExpiredTime>${t + 3600}</AuthorizationCodeExpiredTime>` +
    `<PreAuthCode><![CDATA[preauthcode@@@e2e-${t}]]></PreAuthCode>`) +
  `</xml>`;

// Each event of this file gets its own CreateTime, so that a valid push of
// it later shows whether a refused one was stored.
let clock = now() - 3000;
const nextTime = () => ++clock;

let srv;
before(async () => {
  srv = await startServer({
    name: 'wechat_events',
    env: {
      BINDERY_WECHAT_COMPONENT_APPID: APPID,
      BINDERY_WECHAT_TOKEN: TOKEN,
      BINDERY_WECHAT_ENCODING_AES_KEY: AES_KEY,
    },
  });
});
after(async () => { if (srv) await srv.stop(); });

async function send({ query, body }, base = srv.url) {
  const res = await fetch(`${base}/wechat/events?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml; charset=utf-8' },
    body,
  });
  return { status: res.status, text: await res.text(), outcome: res.headers.get('x-bindery-push') };
}

async function expectStored(xml, outcome = 'stored') {
  const r = await send(push(encrypt(xml)));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, 'success');
  assert.equal(r.outcome, outcome);
}

// Reads the live SQLite store (WAL) when the suite runs on SQLite.
function sql(query) {
  const db = join(srv.dataDir, 'bindery.db');
  if (process.env.BINDERY_E2E_PG_URL || !existsSync(db)) return null;
  const r = spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return r.stdout.trim();
}

test('a ticket push is answered "success" and stored', async () => {
  const r = await send(push(encrypt(ticketXml('ticket@@@e2e-0001'))));
  assert.equal(r.status, 200);
  assert.equal(r.text, 'success');
  assert.equal(r.outcome, 'ticket');
  const row = sql("SELECT ticket_time > 0, hex(ticket_sealed) NOT LIKE '%7469636B6574%' FROM wechat_component");
  if (row !== null) assert.equal(row, '1|1'); // stored, and sealed (no "ticket" in clear)
});

test('authorization events are stored once; replays and retries are harmless', async () => {
  const t = nextTime();
  const p = push(encrypt(eventXml('authorized', t)));
  const first = await send(p);
  assert.equal(first.status, 200);
  assert.equal(first.text, 'success');
  assert.equal(first.outcome, 'stored');
  // the same bytes again, and the same event as WeChat's retry (new nonce,
  // new ciphertext)
  const replay = await send(p);
  assert.deepEqual([replay.status, replay.text, replay.outcome], [200, 'success', 'duplicate']);
  await expectStored(eventXml('authorized', t), 'duplicate');
  await expectStored(eventXml('updateauthorized', nextTime()));
  await expectStored(eventXml('unauthorized', nextTime()));
  const n = sql(`SELECT COUNT(*) FROM wechat_events WHERE create_time = ${t}`);
  if (n !== null) assert.equal(n, '1');
});

test('an unknown InfoType is answered "success" and ignored', async () => {
  const xml = `<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>${now()}</CreateTime>` +
    `<InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid><![CDATA[wx1]]></appid></xml>`;
  const r = await send(push(encrypt(xml)));
  assert.deepEqual([r.status, r.text, r.outcome], [200, 'success', 'ignored']);
});

// Each bad push: [name, status, build(xml) -> push]. The event inside is an
// authorization event of its own CreateTime; a valid push of the same event
// afterwards must be "stored", not "duplicate".
const badPushes = [
  ['wrong signature', 401, (xml) => {
    const enc = encrypt(xml);
    return push(enc, { msgSignature: sign('not-the-token', '1', '2', enc) });
  }],
  ['signature of another nonce', 401, (xml) => {
    const enc = encrypt(xml);
    const p = push(enc);
    return { ...p, query: p.query.replace(/nonce=\d+/, 'nonce=1') };
  }],
  ['stale timestamp', 401, (xml) => push(encrypt(xml), { timestamp: now() - MAX_SKEW - 5 })],
  ['timestamp from the future', 401, (xml) => push(encrypt(xml), { timestamp: now() + MAX_SKEW + 5 })],
  ['wrong key', 400, (xml) => push(encrypt(xml, { key: OTHER_KEY }))],
  ['truncated ciphertext', 400, (xml) => push(encrypt(xml).slice(0, -4))],
  ['ciphertext cut to a partial block', 400, (xml) => {
    const raw = Buffer.from(encrypt(xml), 'base64');
    return push(raw.subarray(0, raw.length - 8).toString('base64'));
  }],
  ['bad padding (zero)', 400, (xml) => push(encrypt(xml, { pad: (n) => Buffer.alloc(n, 0) }))],
  ['bad padding (over 32)', 400, (xml) => push(encrypt(xml, { pad: (n) => Buffer.alloc(n, 33) }))],
  ['bad padding (inconsistent)', 400, (xml) => push(encrypt(xml, {
    pad: (n) => { const b = Buffer.alloc(n, n); if (n > 1) b[0] = n - 1; return b; },
  }))],
  ['wrong AppId at the tail', 400, (xml) => push(encrypt(xml, { appid: 'wx0000000000000000' }))],
  ['wrong AppId in the envelope', 400, (xml) => push(encrypt(xml), { outerAppid: 'wx0000000000000000' })],
  ['wrong AppId in the event', 400, (xml) => push(encrypt(xml.replace(APPID, 'wx0000000000000000')))],
  ['malformed XML inside', 400, (xml) => push(encrypt(xml.slice(0, -3)))],
  ['malformed envelope', 400, (xml) => {
    const enc = encrypt(xml);
    return push(enc, { body: `<xml><Encrypt><![CDATA[${enc}]]></Encrypt>` });
  }],
  ['entity in the envelope', 400, (xml) => {
    const enc = encrypt(xml);
    return push(enc, { body: `<!DOCTYPE xml [<!ENTITY e "x">]><xml><Encrypt>${enc}</Encrypt><A>&e;</A></xml>` });
  }],
  ['1 MiB of garbage', 413, () => push('x', { body: crypto.randomBytes(1024 * 1024) })],
  ['no msg_signature', 400, (xml) => {
    const p = push(encrypt(xml));
    return { ...p, query: p.query.replace(/&msg_signature=[0-9a-f]+/, '') };
  }],
];

for (const [name, status, build] of badPushes) {
  test(`refused: ${name} -> ${status}, nothing stored`, async () => {
    const t = nextTime();
    const xml = eventXml('authorized', t);
    const before = sql("SELECT COUNT(*) FROM audit_log WHERE action = 'wechat.push' AND result = 'failure'");
    const r = await send(build(xml));
    assert.equal(r.status, status, r.text);
    assert.notEqual(r.text, 'success');
    assert.equal(r.outcome, null);
    assert.ok(r.text.length > 0 && r.text.length < 600, r.text);
    await expectStored(xml, 'stored');
    const afterCount = sql("SELECT COUNT(*) FROM audit_log WHERE action = 'wechat.push' AND result = 'failure'");
    if (before !== null) assert.equal(Number(afterCount), Number(before) + 1);
  });
}

test('a refused ticket push leaves the stored ticket alone', async () => {
  const before = sql('SELECT ticket_time FROM wechat_component');
  const r = await send(push(encrypt(ticketXml('ticket@@@forged', now() + 100), { key: OTHER_KEY })));
  assert.equal(r.status, 400);
  const stale = await send(push(encrypt(ticketXml('ticket@@@old', now() + 100)), { timestamp: now() - 4000 }));
  assert.equal(stale.status, 401);
  if (before !== null) assert.equal(sql('SELECT ticket_time FROM wechat_component'), before);
});

test('refusals are logged with the request id', async () => {
  const res = await fetch(`${srv.url}/wechat/events?timestamp=1&nonce=2&msg_signature=x`, {
    method: 'POST', body: '<xml/>',
  });
  assert.equal(res.status, 400);
  const id = res.headers.get('x-request-id');
  await new Promise((r) => setTimeout(r, 100));
  assert.match(srv.log(), new RegExp(`request ${id} POST /wechat/events refused`));
  assert.doesNotMatch(srv.log(), /queryauthcode@@@|ticket@@@e2e/);
});

test('interop: a push built with the npm package wechat-crypto is accepted', async (t) => {
  let WXBizMsgCrypt;
  try {
    WXBizMsgCrypt = createRequire(import.meta.url)('wechat-crypto');
  } catch {
    t.skip('wechat-crypto is not installed (npm install in tests/e2e)');
    return;
  }
  const wx = new WXBizMsgCrypt(TOKEN, AES_KEY, APPID);
  const xml = eventXml('authorized', nextTime(), { authorizer: 'wx2222222222222222' });
  const enc = wx.encrypt(xml);
  const ts = String(now());
  const n = nonce();
  const r = await send(push(enc, { timestamp: ts, n, msgSignature: wx.getSignature(ts, n, enc) }));
  assert.deepEqual([r.status, r.text, r.outcome], [200, 'success', 'stored']);
  // and the other way round for our own encryption: wechat-crypto opens it
  const mine = encrypt(xml);
  assert.deepEqual(wx.decrypt(mine), { message: xml, id: APPID });
});

test('without a configured component the endpoint answers 503 and says why', async () => {
  const bare = await startServer({ name: 'wechat_bare' });
  try {
    const r = await send(push(encrypt(ticketXml('ticket@@@x'))), bare.url);
    assert.equal(r.status, 503);
    assert.match(r.text, /wechat\.component_appid/);
  } finally {
    await bare.stop();
  }
});
