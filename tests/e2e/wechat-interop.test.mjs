// Interoperability of the message crypto (spec §7) with an independent
// implementation: pushes that the real `bindery platform` sealed (with
// Bindery's own C code, wechat/msgcrypt) are verified and opened by the npm
// package wechat-crypto, at a component's 授权事件接收URL played by a tiny
// Node HTTP server here. The other direction (wechat-crypto seals, Bindery's
// POST /wechat/events opens) is in wechat-events.test.mjs. Then the two real
// binaries together: the emulator's pushes stored by `bindery serve`, and
// bad pushes built from wechat-crypto's output refused and logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startEmulator, xmlFields } from './lib/emulator.mjs';
import { startServer } from './lib/harness.mjs';

const WXBizMsgCrypt = createRequire(import.meta.url)('wechat-crypto');

const C = 'wxinteropnode00001';
const SECRET = '3c5e7a9b1d2f4a6c8e0b2d4f6a8c0e1b';
const TOKEN = 'interopNodeToken';
const AES_KEY = 'NodeInteropKey0123456789abcdefghijklmnopqrs';
const NEW_KEY = 'RotatedInteropKey0123456789abcdefghijklmnop';
const MP = 'wxinteropnodemp001';
const WXID = 'wxid_node_interop';

let emu;
let ctl;
let rx;

// The 授权事件接收URL of every component of this file: keeps each push as it
// arrived (path, query, raw body) and answers "success". Nothing is opened
// here: the tests open pushes with wechat-crypto.
async function startReceiver() {
  const pushes = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      pushes.push({
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('success');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    pushes,
    base,
    close: () => new Promise((r) => server.close(r)),
    // Waits (bounded) for a push whose raw parts satisfy pred.
    async waitFor(pred, timeout = 10000) {
      const end = Date.now() + timeout;
      for (;;) {
        const p = pushes.find(pred);
        if (p) return p;
        if (Date.now() > end) throw new Error(`no matching push among ${pushes.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

// Verifies and opens a push with wechat-crypto as a component would, after
// the checks of spec §7.5; returns the event's fields and the raw parts.
function openPush(push, { token = TOKEN, aesKey = AES_KEY, appid } = {}) {
  const wx = new WXBizMsgCrypt(token, aesKey, appid);
  const envelope = xmlFields(push.body);
  const q = push.query;
  assert.equal(q.encrypt_type, 'aes');
  assert.equal(q.msg_signature, wx.getSignature(q.timestamp, q.nonce, envelope.Encrypt),
    'msg_signature, as wechat-crypto computes it');
  const urlSig = crypto.createHash('sha1').update([token, q.timestamp, q.nonce].sort().join('')).digest('hex');
  assert.equal(q.signature, urlSig, 'URL signature');
  assert.equal(envelope.AppId, appid);
  const { message, id } = wx.decrypt(envelope.Encrypt);
  assert.equal(id, appid, 'the appid at the tail of the plaintext');
  return { message, fields: xmlFields(message), envelope };
}

const component = (appid, extra = {}) => ctl.component({
  component_appid: appid, secret: SECRET, token: TOKEN, aes_key: AES_KEY,
  auth_event_url: `${rx.base}/events/${appid}`, entry_domain: '127.0.0.1',
  ticket_pushes: false, ...extra,
});

before(async () => {
  emu = await startEmulator();
  ctl = emu.control;
  rx = await startReceiver();
  await ctl.wxuser(WXID, 'Node');
  await ctl.authorizer({ appid: MP, kind: 'mp', nick_name: 'Node 互通小程序', principal_name: '个人', admins: [WXID] });
  await component(C);
});

after(async () => {
  if (rx) await rx.close();
  if (emu) assert.equal(await emu.stop(), 0, `the emulator stops cleanly:\n${emu.log()}`);
});

// Asks for a ticket push to appid; returns the ticket and the push that
// followed (the ticket is only inside the ciphertext: the tests check it
// after opening the push).
async function ticketPush(appid) {
  const seen = rx.pushes.length;
  const { tickets } = await ctl.pushTicket(appid);
  const push = await rx.waitFor((p) => p.path === `/events/${appid}` && rx.pushes.indexOf(p) >= seen);
  return { ticket: tickets[0].ticket, push };
}

test('wechat-crypto opens a component_verify_ticket push sealed by the emulator', async () => {
  const { ticket, push } = await ticketPush(C);
  assert.match(push.contentType, /^text\/xml/);
  const { fields, message } = openPush(push, { appid: C });
  assert.equal(fields.AppId, C);
  assert.equal(fields.InfoType, 'component_verify_ticket');
  assert.equal(fields.ComponentVerifyTicket, ticket);
  assert.match(fields.CreateTime, /^\d{10}$/);
  assert.match(message, /^<xml>[\s\S]*<\/xml>$/);
  // what wechat-crypto read is what WeChat's API accepts
  const r = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: fields.ComponentVerifyTicket,
  });
  assert.match(r.component_access_token, /^83_/);
});

// A component token bought with a fresh ticket.
async function componentToken() {
  const { ticket } = await ticketPush(C);
  const r = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: ticket,
  });
  assert.match(r.component_access_token, /^83_/, JSON.stringify(r));
  return r.component_access_token;
}

// Links appid to C as WXID: pre-auth code, the PC page, the phone.
async function link(token, appid) {
  const { pre_auth_code: code } = await ctl.api('api_create_preauthcode', { component_appid: C }, { token });
  const page = await ctl.loginPage({
    component_appid: C, pre_auth_code: code, redirect_uri: `${rx.base}/linked`, auth_type: '2',
  }, { referer: `${rx.base}/console` });
  assert.equal(page.errorMarker, null, page.html);
  const scan = await ctl.scan({ session: page.session, wxid: WXID, appid });
  assert.equal(scan.status, 200, JSON.stringify(scan.body));
  return { code, authCode: scan.body.auth_code };
}

// A predicate on raw pushes: an authorization event of type for appid.
const isEvent = (type, appid) => (p) => {
  if (p.path !== `/events/${C}`) return false;
  const e = xmlFields(new WXBizMsgCrypt(TOKEN, AES_KEY, C).decrypt(xmlFields(p.body).Encrypt).message);
  return e.InfoType === type && e.AuthorizerAppid === appid;
};

test('wechat-crypto opens the authorized and unauthorized pushes of a link', async () => {
  const token = await componentToken();
  const { code, authCode } = await link(token, MP);
  const authorized = openPush(await rx.waitFor(isEvent('authorized', MP)), { appid: C }).fields;
  assert.equal(authorized.AppId, C);
  assert.equal(authorized.AuthorizationCode, authCode);
  assert.equal(authorized.PreAuthCode, code);
  assert.equal(Number(authorized.AuthorizationCodeExpiredTime), Number(authorized.CreateTime) + 3600);
  // the code as wechat-crypto read it is the one api_query_auth takes
  const q = await ctl.api('api_query_auth', { component_appid: C, authorization_code: authorized.AuthorizationCode }, { token });
  assert.equal(q.authorization_info.authorizer_appid, MP);

  await ctl.stopAuthorization(WXID, MP, C);
  const unauthorized = openPush(await rx.waitFor(isEvent('unauthorized', MP)), { appid: C }).fields;
  assert.equal(unauthorized.AppId, C);
  assert.equal(unauthorized.AuthorizationCode, undefined);
  assert.ok(Number(unauthorized.CreateTime) >= Number(authorized.CreateTime));
});

test('wechat-crypto opens pushes of every padding length, 1 to 32', async () => {
  // The plaintext is random(16) | len(4) | xml | appid, and an authorized
  // event names its authorizer once: authorizer appids of 32 consecutive
  // lengths give 32 plaintext lengths mod 32, so every PKCS#7 padding
  // (1..32, a whole block included) appears once.
  const token = await componentToken();
  const key = Buffer.from(`${AES_KEY}=`, 'base64');
  const pads = new Set();
  for (let i = 0; i < 32; i++) {
    const appid = `wxpad${'0'.repeat(i)}${(i % 16).toString(16)}`;
    await ctl.authorizer({ appid, kind: 'mp', nick_name: `pad ${i}`, principal_name: '个人', admins: [WXID] });
    const { authCode } = await link(token, appid);
    const push = await rx.waitFor(isEvent('authorized', appid));
    const { fields } = openPush(push, { appid: C });
    assert.equal(fields.AuthorizationCode, authCode);
    const raw = Buffer.from(xmlFields(push.body).Encrypt, 'base64');
    assert.equal(raw.length % 32, 0, 'PKCS#7 to 32-byte blocks');
    const d = crypto.createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    d.setAutoPadding(false);
    const plain = Buffer.concat([d.update(raw), d.final()]);
    pads.add(plain[plain.length - 1]);
  }
  assert.deepEqual([...pads].sort((a, b) => a - b), Array.from({ length: 32 }, (_, i) => i + 1));
});

test('after a key rotation wechat-crypto opens pushes with the new key, not the old one', async () => {
  await ctl.rotateKey(C, NEW_KEY);
  const { ticket, push } = await ticketPush(C);
  const { fields } = openPush(push, { appid: C, aesKey: NEW_KEY });
  assert.equal(fields.ComponentVerifyTicket, ticket);
  // the old key does not open it: garbage, or an exception
  let opened = null;
  try {
    opened = new WXBizMsgCrypt(TOKEN, AES_KEY, C).decrypt(xmlFields(push.body).Encrypt);
  } catch { /* bad length or padding */ }
  assert.ok(opened === null || opened.id !== C, 'the previous key must not open a push sealed after rotation');
});

// ---- the real binaries: `bindery platform` pushing to `bindery serve` ----

const B = 'wxinteropbindery01';
const B_TOKEN = 'binderyInteropToken';
const B_KEY = 'BinderyInteropKey0123456789abcdefghijklmnop';
const OTHER_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';
const B_APP = 'wxinteropnodemp002';

async function withBindery(fn) {
  const srv = await startServer({
    name: 'wechat_interop',
    env: {
      BINDERY_WECHAT_COMPONENT_APPID: B,
      BINDERY_WECHAT_COMPONENT_APPSECRET: SECRET,
      BINDERY_WECHAT_TOKEN: B_TOKEN,
      BINDERY_WECHAT_ENCODING_AES_KEY: B_KEY,
      BINDERY_WECHAT_API_BASE_URL: emu.url,
      BINDERY_WECHAT_MP_BASE_URL: emu.url,
    },
  });
  try {
    await fn(srv);
  } finally {
    assert.equal(await srv.stop(), 0, `bindery serve stops cleanly:\n${srv.log()}`);
  }
}

// One value from Bindery's live SQLite store; null on PostgreSQL.
function sql(srv, query) {
  const db = join(srv.dataDir, 'bindery.db');
  if (process.env.BINDERY_E2E_PG_URL || !existsSync(db)) return null;
  const r = spawnSync('sqlite3', [db, query], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// The emulator's newest push job of info_type for appid, once finished.
async function finishedJob(info_type, appid) {
  return ctl.waitFor(async () => {
    const jobs = await ctl.pushJobs({ component_appid: B, info_type, ...(appid ? { authorizer_appid: appid } : {}) });
    return jobs.length && jobs[0].state !== 'pending' ? jobs[0] : null;
  });
}

test('the real binaries: pushes from bindery platform are stored by bindery serve', async () => {
  await withBindery(async (srv) => {
    await ctl.component({
      component_appid: B, secret: SECRET, token: B_TOKEN, aes_key: B_KEY,
      auth_event_url: `${srv.url}/wechat/events`, entry_domain: '127.0.0.1', ticket_pushes: false,
    });
    const { tickets } = await ctl.pushTicket(B);
    const ticketJob = await finishedJob('component_verify_ticket');
    assert.equal(ticketJob.state, 'delivered', JSON.stringify(ticketJob));
    const t = sql(srv, `SELECT ticket_time FROM wechat_component WHERE component_appid = '${B}'`);
    if (t !== null) assert.equal(Number(t), ticketJob.create_time);

    await ctl.authorizer({ appid: B_APP, kind: 'mp', nick_name: 'Bindery 互通', principal_name: '个人', admins: [WXID] });
    const { component_access_token: token } = await ctl.api('api_component_token', {
      component_appid: B, component_appsecret: SECRET, component_verify_ticket: tickets[0].ticket,
    });
    const { pre_auth_code: code } = await ctl.api('api_create_preauthcode', { component_appid: B }, { token });
    const page = await ctl.loginPage({
      component_appid: B, pre_auth_code: code, redirect_uri: `${srv.url}/linked`, auth_type: '2',
    }, { referer: `${srv.url}/console` });
    assert.equal(page.errorMarker, null, page.html);
    assert.equal((await ctl.scan({ session: page.session, wxid: WXID, appid: B_APP })).status, 200);
    assert.equal((await finishedJob('authorized', B_APP)).state, 'delivered');
    await ctl.revoke(B, B_APP);
    assert.equal((await finishedJob('unauthorized', B_APP)).state, 'delivered');
    const rows = sql(srv, `SELECT info_type FROM wechat_events WHERE authorizer_appid = '${B_APP}' ORDER BY id`);
    if (rows !== null) assert.deepEqual(rows.split('\n'), ['authorized', 'unauthorized']);
    // nothing secret in Bindery's log
    assert.doesNotMatch(srv.log(), /ticket@@@|queryauthcode@@@|preauthcode@@@/);
  });
});

// Bad pushes built from wechat-crypto's output. Statuses and "nothing
// stored" per kind are wechat-events.test.mjs's; what this adds is that each
// refusal is logged, once, with its request id and reason.
test('every kind of bad push is refused and logged with its request id', async () => {
  await withBindery(async (srv) => {
    const wx = new WXBizMsgCrypt(B_TOKEN, B_KEY, B);
    let clock = Math.floor(Date.now() / 1000) - 1000;
    const eventXml = (t) => `<xml><AppId><![CDATA[${B}]]></AppId><CreateTime>${t}</CreateTime>` +
      `<InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[${B_APP}]]></AuthorizerAppid></xml>`;
    // re-seals wechat-crypto's ciphertext with its padding bytes replaced
    const repad = (enc, byte) => {
      const key = Buffer.from(`${B_KEY}=`, 'base64');
      const d = crypto.createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
      d.setAutoPadding(false);
      const plain = Buffer.concat([d.update(Buffer.from(enc, 'base64')), d.final()]);
      plain.fill(byte, plain.length - plain[plain.length - 1]);
      const c = crypto.createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
      c.setAutoPadding(false);
      return Buffer.concat([c.update(plain), c.final()]).toString('base64');
    };
    const send = async (enc, { signWith = wx, body } = {}) => {
      const ts = String(Math.floor(Date.now() / 1000));
      const nonce = String(crypto.randomInt(1e9, 2e9));
      const q = new URLSearchParams({
        timestamp: ts, nonce, encrypt_type: 'aes', msg_signature: signWith.getSignature(ts, nonce, enc),
      });
      const res = await fetch(`${srv.url}/wechat/events?${q}`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/xml' },
        body: body ?? `<xml><AppId><![CDATA[${B}]]></AppId><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`,
      });
      return { status: res.status, id: res.headers.get('x-request-id'), outcome: res.headers.get('x-bindery-push'), text: await res.text() };
    };
    const kinds = [
      ['wrong signature', 401, (xml) => send(wx.encrypt(xml), { signWith: new WXBizMsgCrypt('otherToken', B_KEY, B) })],
      ['wrong key', 400, (xml) => send(new WXBizMsgCrypt(B_TOKEN, OTHER_KEY, B).encrypt(xml))],
      ['truncated ciphertext', 400, (xml) => send(wx.encrypt(xml).slice(0, -24))],
      ['bad padding', 400, (xml) => send(repad(wx.encrypt(xml), 0))],
      ['wrong AppId', 400, (xml) => send(new WXBizMsgCrypt(B_TOKEN, B_KEY, 'wx0000000000000000').encrypt(xml))],
      ['1 MiB of garbage', 413, () => send('x', { body: crypto.randomBytes(1024 * 1024) })],
      ['malformed XML', 400, (xml) => send(wx.encrypt(xml.slice(0, -4)))],
    ];
    for (const [name, status, build] of kinds) {
      const xml = eventXml(++clock);
      const r = await build(xml);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal(r.outcome, null, name);
      assert.notEqual(r.text, 'success', name);
      const line = await ctl.waitFor(() => srv.log().split('\n').find((l) => l.includes(`request ${r.id} POST /wechat/events refused`)), { timeout: 5000 });
      const mine = srv.log().split('\n').filter((l) => l.includes(r.id));
      assert.equal(mine.length, 1, `${name}: logged once\n${mine.join('\n')}`);
      assert.match(line, / warn /, name);
      // nothing was stored: the valid push of the same event is new
      const ok = await send(wx.encrypt(xml));
      assert.deepEqual([ok.status, ok.outcome], [200, 'stored'], `${name}: ${ok.text}`);
    }
    assert.doesNotMatch(srv.log(), new RegExp(B_KEY));
  });
});
