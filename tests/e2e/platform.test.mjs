// The WeChat platform emulator (`bindery platform`) over HTTP, as a
// component would see it: pushes to a component's 授权事件接收URL (opened here
// with Node's crypto, spec §7), the component API (§4), the authorization
// pages (§5), the mp console's 停止授权 (§8.3), the controllable clock, push
// suppression and retries, and the fault switches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';
import {
  startEmulator, startPushReceiver, decrypt, DEFAULT_FIXTURES,
} from './lib/emulator.mjs';

const C = 'wx0123456789abcdef';
const SECRET = '0123456789abcdef0123456789abcdef';
const TOKEN = 'tkEmulator0001';
const AES_KEY = 'EmulatorKey0123456789abcdefghijklmnopqrstuv';
const MP = 'wxfedcba9876543210';
const OA = 'wx1111111111111111';
const REFERER = 'https://cloud.example.com/console/wechat/link';
const REDIRECT = 'https://cloud.example.com/wechat/callback?attempt=a1';

let emu;
let ctl;
let rx;

before(async () => {
  emu = await startEmulator();
  ctl = emu.control;
  rx = await startPushReceiver({ token: TOKEN, aesKey: AES_KEY, appid: C });
  await ctl.wxuser('alice', 'Alice');
  await ctl.wxuser('bob', 'Bob');
  await ctl.authorizer({ appid: MP, kind: 'mp', nick_name: 'Demo MP', principal_name: '个人', admins: ['alice'] });
  await ctl.authorizer({
    appid: OA, kind: 'oa', nick_name: 'Demo OA', principal_name: 'Example Co., Ltd.', admins: ['alice', 'bob'],
  });
  await ctl.component({
    component_appid: C, secret: SECRET, token: TOKEN, aes_key: AES_KEY,
    auth_event_url: rx.url, entry_domain: 'cloud.example.com', name: 'Test Cloud',
  });
});

after(async () => {
  if (rx) await rx.close();
  if (emu) assert.equal(await emu.stop(), 0, `the emulator stops cleanly:\n${emu.log()}`);
});

// ---- helpers ----

async function freshToken() {
  const { tickets } = await ctl.pushTicket(C);
  const r = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: tickets[0].ticket,
  });
  assert.ok(r.component_access_token, JSON.stringify(r));
  return r.component_access_token;
}

async function preAuthCode(token) {
  const r = await ctl.api('api_create_preauthcode', { component_appid: C }, { token });
  assert.match(r.pre_auth_code, /^preauthcode@@@[A-Za-z0-9_-]{64}$/);
  assert.equal(r.expires_in, 1800);
  return r.pre_auth_code;
}

const loginParams = (code, extra = {}) => ({
  component_appid: C, pre_auth_code: code, redirect_uri: REDIRECT, auth_type: '3', ...extra,
});

// PC page, then the phone through the control API; returns what it got.
async function authorizeApp(token, wxid, appid, extra = {}) {
  const code = await preAuthCode(token);
  const page = await ctl.loginPage(loginParams(code), { referer: REFERER });
  assert.equal(page.errorMarker, null, page.html);
  const r = await ctl.scan({ session: page.session, wxid, appid, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { code, session: page.session, ...r.body };
}

const info = (token, appid) => ctl.api('api_get_authorizer_info', { component_appid: C, authorizer_appid: appid }, { token });
const queryAuth = (token, code) => ctl.api('api_query_auth', { component_appid: C, authorization_code: code }, { token });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- tests ----

test('component_verify_ticket is pushed encrypted and signed (spec §6, §7)', async () => {
  const { tickets } = await ctl.pushTicket(C);
  const push = await rx.waitFor((e) => e.ComponentVerifyTicket === tickets[0].ticket);
  assert.equal(push.error, undefined);
  assert.equal(push.query.encrypt_type, 'aes');
  assert.match(push.query.nonce, /^\d{10}$/);
  assert.ok(Math.abs(Number(push.query.timestamp) - Date.now() / 1000) < 30);
  assert.ok(push.msgSignatureOk, 'msg_signature verifies');
  assert.ok(push.signatureOk, 'URL signature verifies');
  assert.match(push.contentType, /^text\/xml/);
  assert.equal(push.outer.AppId, C);
  assert.equal(push.appid, C, 'the appid at the tail of the plaintext');
  assert.equal(push.event.AppId, C);
  assert.equal(push.event.InfoType, 'component_verify_ticket');
  assert.match(push.event.ComponentVerifyTicket, /^ticket@@@[A-Za-z0-9_-]{86}$/);
  assert.match(push.event.CreateTime, /^\d+$/);
  // The ticket from the push buys a component token.
  const r = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: push.event.ComponentVerifyTicket,
  });
  assert.match(r.component_access_token, /^83_[A-Za-z0-9_-]{136}$/);
  assert.equal(r.expires_in, 7200);
  assert.equal(r.errcode, undefined);
});

test('component API conventions: token parameter names and request errors (spec §3)', async () => {
  const token = await freshToken();
  const body = { component_appid: C };
  assert.ok((await ctl.api('api_create_preauthcode', body, { token, tokenParam: 'access_token' })).pre_auth_code);
  let r = await ctl.api('api_create_preauthcode', body);
  assert.equal(r.errcode, 41001);
  assert.match(r.errmsg, /^access_token missing rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
  assert.equal((await ctl.api('api_create_preauthcode', body, { token: '83_unknown' })).errcode, 40001);
  assert.equal((await ctl.api('api_create_preauthcode', 'not json', { token })).errcode, 47001);
  assert.equal((await ctl.api('api_create_preauthcode', '', { token })).errcode, 44002);
  assert.equal((await ctl.api('api_create_preauthcode', { component_appid: 'wx9999999999999999' }, { token })).errcode, 40013);
  r = await ctl.api('api_component_token', { component_appid: C, component_appsecret: 'wrong', component_verify_ticket: 'x' });
  assert.equal(r.errcode, 40125);
  r = await ctl.api('api_component_token', { component_appid: C, component_appsecret: SECRET, component_verify_ticket: 'ticket@@@nope' });
  assert.equal(r.errcode, 61006);
  r = await ctl.api('api_start_push_ticket', { component_appid: C, component_secret: SECRET });
  assert.deepEqual(r, { errcode: 0, errmsg: 'ok' });
  const res = await fetch(`${emu.url}/cgi-bin/component/api_create_preauthcode`, { method: 'POST', body: '{}' });
  assert.match(res.headers.get('content-type'), /^application\/json; charset=utf-8/);
});

test('authorization end to end: page, phone, redirect, query_auth, info, 停止授权, unauthorized push', async () => {
  const token = await freshToken();
  const code = await preAuthCode(token);

  // The Referer rule of §5.2: a wrong entry page, and none at all.
  let page = await ctl.loginPage(loginParams(code), { referer: 'https://evil.example.com/page' });
  assert.equal(page.status, 200);
  assert.equal(page.errorMarker, 'referer');
  page = await ctl.loginPage(loginParams(code));
  assert.equal(page.errorMarker, 'referer');
  assert.match(page.html, /空/);
  page = await ctl.loginPage(loginParams(code, { redirect_uri: 'https://elsewhere.example.com/cb' }), { referer: REFERER });
  assert.equal(page.errorMarker, 'redirect_domain');

  // From the right page: a QR of the phone URL, the same URL as a link.
  page = await ctl.loginPage(loginParams(code), { referer: REFERER });
  assert.equal(page.errorMarker, null);
  assert.match(page.html, /<svg [^>]*viewBox="0 0 \d+ \d+"/);
  const link = new URL(page.qrLink);
  assert.equal(link.pathname, '/__emu/phone/scan');
  assert.equal(link.searchParams.get('s'), page.session);
  assert.equal((await ctl.qrStatus(page.session)).state, 'waiting');

  // The phone lists the apps alice administers.
  const phone = await fetch(`${page.qrLink}&wxuser=alice`);
  const phoneHtml = await phone.text();
  assert.match(phoneHtml, new RegExp(`data-appid="${MP}"`));
  assert.match(phoneHtml, new RegExp(`data-appid="${OA}"`));
  assert.equal((await ctl.qrStatus(page.session)).state, 'scanned');

  const before = rx.pushes.length;
  const r = await ctl.scan({ session: page.session, wxid: 'alice', appid: MP });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.push, 'authorized');

  // The poll releases the redirect, which carries the code but no appid.
  const st = await ctl.waitFor(async () => { const s = await ctl.qrStatus(page.session); return s.redirect && s; });
  assert.equal(st.state, 'confirmed');
  const back = new URL(st.redirect);
  assert.equal(back.origin + back.pathname, 'https://cloud.example.com/wechat/callback');
  assert.equal(back.searchParams.get('attempt'), 'a1');
  assert.equal(back.searchParams.get('expires_in'), '3600');
  const authCode = back.searchParams.get('auth_code');
  assert.match(authCode, /^queryauthcode@@@[A-Za-z0-9_-]{86}$/);
  assert.equal(authCode, r.body.auth_code);

  // The `authorized` push: same code, the pre_auth_code of the link.
  const push = await rx.waitFor((e) => e.InfoType === 'authorized' && e.AuthorizationCode === authCode);
  assert.ok(rx.pushes.indexOf(push) >= before);
  assert.ok(push.msgSignatureOk);
  assert.equal(push.event.AuthorizerAppid, MP);
  assert.equal(push.event.PreAuthCode, code);
  assert.equal(Number(push.event.AuthorizationCodeExpiredTime), Number(push.event.CreateTime) + 3600);

  // api_query_auth names the app and gives its tokens.
  const q = await queryAuth(token, authCode);
  const ai = q.authorization_info;
  assert.equal(ai.authorizer_appid, MP);
  assert.match(ai.authorizer_access_token, /^83_/);
  assert.equal(ai.expires_in, 7200);
  assert.match(ai.authorizer_refresh_token, /^refreshtoken@@@[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(ai.func_info, [17, 18, 19].map((id) => ({ funcscope_category: { id } })));

  // api_authorizer_token with the refresh token.
  const t = await ctl.api('api_authorizer_token', {
    component_appid: C, authorizer_appid: MP, authorizer_refresh_token: ai.authorizer_refresh_token,
  }, { token });
  assert.equal(t.authorizer_refresh_token, ai.authorizer_refresh_token);
  assert.match(t.authorizer_access_token, /^83_/);

  // api_get_authorizer_info, counted as a check.
  const checks0 = await ctl.checks(MP);
  const i = await info(token, MP);
  assert.equal(i.errcode, undefined);
  assert.equal(i.authorizer_info.nick_name, 'Demo MP');
  assert.ok(i.authorizer_info.MiniProgramInfo);
  assert.equal(i.authorization_info.authorizer_appid, MP);
  assert.equal((await ctl.checks(MP)).api_get_authorizer_info, checks0.api_get_authorizer_info + 1);
  const list = await ctl.api('api_get_authorizer_list', { component_appid: C, offset: 0, count: 100 }, { token });
  assert.ok(list.list.some((x) => x.authorizer_appid === MP && x.refresh_token === ai.authorizer_refresh_token));
  assert.equal((await ctl.checks(MP)).api_get_authorizer_list, checks0.api_get_authorizer_list + 1);

  // 停止授权 on the mp console: a form POST.
  const stop = await ctl.stopAuthorization('alice', MP, C);
  assert.equal(stop.status, 303);
  assert.match(stop.location, /revoked=/);
  const gone = await rx.waitFor((e) => e.InfoType === 'unauthorized' && e.AuthorizerAppid === MP);
  assert.ok(gone.msgSignatureOk);
  assert.equal((await info(token, MP)).errcode, 61003);
  assert.equal((await queryAuth(token, authCode)).errcode, 61009);
  const dead = await ctl.api('api_authorizer_token', {
    component_appid: C, authorizer_appid: MP, authorizer_refresh_token: ai.authorizer_refresh_token,
  }, { token });
  assert.equal(dead.errcode, 61003);
});

test('with the unauthorized push suppressed, the cloud is not told and info answers 61003', async () => {
  const token = await freshToken();
  await ctl.pushes({ unauthorized: 'suppress' });
  try {
    const a = await authorizeApp(token, 'bob', OA);
    assert.equal((await queryAuth(token, a.auth_code)).authorization_info.authorizer_appid, OA);
    const stop = await ctl.stopAuthorization('bob', OA, C);
    assert.equal(stop.status, 303);
    const jobs = await ctl.waitFor(async () => {
      const j = await ctl.pushJobs({ info_type: 'unauthorized', authorizer_appid: OA });
      return j.length && j;
    });
    assert.equal(jobs[0].state, 'suppressed');
    await sleep(500);
    assert.ok(!rx.pushes.some((p) => p.event?.InfoType === 'unauthorized' && p.event.AuthorizerAppid === OA));
    const before = (await ctl.checks(OA)).api_get_authorizer_info;
    assert.equal((await info(token, OA)).errcode, 61003);
    assert.equal((await ctl.checks(OA)).api_get_authorizer_info, before + 1);
    const list = await ctl.api('api_get_authorizer_list', { component_appid: C, offset: 0, count: 500 }, { token });
    assert.ok(!list.list.some((x) => x.authorizer_appid === OA));
    assert.equal((await ctl.api('api_get_authorizer_list', { component_appid: C, offset: 0, count: 501 }, { token })).errcode, 40170);
  } finally {
    await ctl.pushes({ unauthorized: 'deliver' });
  }
});

test('re-authorization, the already-authorized path and updateauthorized (spec §8.4)', async () => {
  const token = await freshToken();
  const first = await authorizeApp(token, 'alice', OA);
  assert.equal(first.push, 'authorized');
  const r1 = (await queryAuth(token, first.auth_code)).authorization_info.authorizer_refresh_token;
  // Scanning again with the same sets: no push, same refresh token.
  const again = await authorizeApp(token, 'bob', OA);
  assert.equal(again.already_authorized, true);
  assert.equal(again.push, null);
  assert.equal((await queryAuth(token, again.auth_code)).authorization_info.authorizer_refresh_token, r1);
  // Fewer sets: updateauthorized.
  const upd = await authorizeApp(token, 'alice', OA, { func_ids: [1, 2] });
  assert.equal(upd.push, 'updateauthorized');
  await rx.waitFor((e) => e.InfoType === 'updateauthorized' && e.AuthorizationCode === upd.auth_code);
  // Revoke, then authorize again: a new refresh token.
  await ctl.revoke(C, OA);
  await rx.waitFor((e) => e.InfoType === 'unauthorized' && e.AuthorizerAppid === OA && Number(e.CreateTime) > 0);
  const back = await authorizeApp(token, 'alice', OA);
  assert.equal(back.push, 'authorized');
  const r2 = (await queryAuth(token, back.auth_code)).authorization_info.authorizer_refresh_token;
  assert.notEqual(r2, r1);
});

test('the phone pages and the H5 entries are real forms', async () => {
  const token = await freshToken();
  let code = await preAuthCode(token);
  const h5 = await ctl.page('/wxaopen/safe/bindcomponent',
    { action: 'bindcomponent', no_scan: '1', ...loginParams(code) }, { referer: REFERER, cookie: 'emu_wxuser=alice' });
  assert.equal(h5.status, 303);
  const scanUrl = new URL(h5.headers.get('location'), emu.url);
  assert.equal(scanUrl.pathname, '/__emu/phone/scan');
  assert.equal(scanUrl.searchParams.get('wxuser'), 'alice');
  const session = scanUrl.searchParams.get('s');
  const list = await (await fetch(scanUrl)).text();
  const confirmHref = new RegExp(`href="(/__emu/phone/confirm\\?[^"]*appid=${OA})"`).exec(list.replace(/&amp;/g, '&'));
  assert.ok(confirmHref, list);
  const confirm = await (await fetch(emu.url + confirmHref[1])).text();
  assert.match(confirm, /<button type="submit" id="authorize">授权<\/button>/);
  const offered = [...confirm.matchAll(/name="func_id" value="(\d+)"/g)].map((m) => m[1]);
  assert.ok(offered.length > 0);
  const post = await ctl.form('/__emu/phone/confirm', [
    ['s', session], ['wxuser', 'alice'], ['appid', OA], ['func_id', offered[0]],
  ]);
  assert.equal(post.status, 303, post.html);
  assert.equal(post.location, `/__emu/phone/done?s=${session}`);
  const done = await (await fetch(emu.url + post.location)).text();
  assert.match(done, new RegExp(`data-poll="${session}"`));
  const st = await ctl.waitFor(async () => { const s = await ctl.qrStatus(session); return s.redirect && s; });
  assert.match(st.redirect, /^https:\/\/cloud\.example\.com\/wechat\/callback\?attempt=a1&auth_code=/);
  // Unticking everything is refused with a marker.
  code = await preAuthCode(token);
  const legacy = await ctl.page('/safe/bindcomponent', { action: 'bindcomponent', ...loginParams(code) }, { referer: REFERER });
  assert.equal(legacy.status, 303);
  const s2 = new URL(legacy.headers.get('location'), emu.url).searchParams.get('s');
  const none = await ctl.form('/__emu/phone/confirm', [['s', s2], ['wxuser', 'alice'], ['appid', OA]]);
  assert.match(none.html, /<meta name="emu-error" content="no_funcs">/);
  const cancel = await ctl.form('/__emu/phone/cancel', [['s', s2]]);
  assert.equal(cancel.status, 200);
  assert.equal((await ctl.qrStatus(s2)).state, 'cancelled');
});

test('the redirect waits for the push, unless the order is reversed', async () => {
  const token = await freshToken();
  await ctl.revoke(C, OA).catch(() => {});
  await ctl.pushes({ delay_ms: 1500 });
  try {
    const a = await authorizeApp(token, 'alice', OA);
    assert.equal(a.push, 'authorized');
    const early = await ctl.qrStatus(a.session);
    assert.equal(early.state, 'confirmed');
    assert.equal(early.redirect, null);
    const push = await rx.waitFor((e) => e.AuthorizationCode === a.auth_code);
    const st = await ctl.waitFor(async () => { const s = await ctl.qrStatus(a.session); return s.redirect && s; });
    assert.ok(st.redirect.includes(a.auth_code));
    assert.ok(push);
    await ctl.revoke(C, OA);
    await ctl.pushes({ order: 'redirect_first' });
    const b = await authorizeApp(token, 'alice', OA);
    assert.ok((await ctl.qrStatus(b.session)).redirect, 'released before the push');
  } finally {
    await ctl.pushes({ delay_ms: 0, order: 'push_first' });
  }
});

test('authorization pushes are retried with back-off and logged', async () => {
  const token = await freshToken();
  await ctl.revoke(C, MP).catch(() => {});
  await ctl.pushes({ retry_ms: 200 });
  let failures = 0;
  rx.respond = (p) => (p.event?.InfoType === 'authorized' && failures++ === 0 ? { status: 500, body: 'busy' } : null);
  try {
    const a = await authorizeApp(token, 'alice', MP);
    const tries = () => rx.pushes.filter((p) => p.event?.AuthorizationCode === a.auth_code);
    await ctl.waitFor(() => tries().length >= 2);
    assert.equal(tries().length, 2);
    assert.ok(tries()[1].at - tries()[0].at >= 150, 'waited before the retry');
    assert.notEqual(tries()[0].query.nonce, tries()[1].query.nonce, 'a fresh nonce per attempt');
    const [job] = await ctl.pushJobs({ info_type: 'authorized', authorizer_appid: MP });
    const st = await ctl.waitFor(async () => {
      const s = await ctl.state();
      const j = s.pushes.find((x) => x.id === job.id);
      return j.state === 'delivered' && s;
    });
    const log = st.deliveries.filter((d) => d.job === job.id).sort((x, y) => x.attempt - y.attempt);
    assert.deepEqual(log.map((d) => [d.attempt, d.outcome, d.http_status]), [[1, 'error', 500], [2, 'delivered', 200]]);
  } finally {
    rx.respond = null;
    await ctl.pushes({ retry_ms: 5000 });
  }
});

test('expiry and single use under the controllable clock', async () => {
  let token = await freshToken();
  // One pre_auth_code, two pages: the first confirmation consumes the code.
  const code = await preAuthCode(token);
  await ctl.revoke(C, MP).catch(() => {});
  const p1 = await ctl.loginPage(loginParams(code), { referer: REFERER });
  const p2 = await ctl.loginPage(loginParams(code), { referer: REFERER });
  const first = await ctl.scan({ session: p1.session, wxid: 'alice', appid: MP });
  assert.equal(first.status, 200);
  const reuse = await ctl.scan({ session: p2.session, wxid: 'alice', appid: MP });
  assert.equal(reuse.status, 409);
  assert.equal(reuse.body.marker, 'pre_auth_code_used');
  assert.equal((await ctl.loginPage(loginParams(code), { referer: REFERER })).errorMarker, 'pre_auth_code_used');
  const authCode = first.body.auth_code;

  // pre_auth_code: 1800 s.
  const later = await preAuthCode(token);
  await ctl.clock(1800);
  assert.equal((await ctl.loginPage(loginParams(later), { referer: REFERER })).errorMarker, 'pre_auth_code_expired');

  // Authorization code: 3600 s.
  assert.equal((await queryAuth(token, authCode)).authorization_info.authorizer_appid, MP);
  await ctl.clock(1800);
  assert.equal((await queryAuth(token, authCode)).errcode, 61010);

  // Component token: 7200 s.
  await ctl.clock(3600);
  const expired = await ctl.api('api_create_preauthcode', { component_appid: C }, { token });
  assert.equal(expired.errcode, 42001);
  assert.match(expired.errmsg, /^access_token expired rid: /);
  token = await freshToken();
  assert.ok((await ctl.api('api_create_preauthcode', { component_appid: C }, { token })).pre_auth_code);

  // Tickets: 12 h. The clock jump also brings a fresh ticket push.
  const { tickets } = await ctl.pushTicket(C);
  const before = (await ctl.state()).clock.now;
  await ctl.clock(43201);
  const old = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: tickets[0].ticket,
  });
  assert.equal(old.errcode, 61005);
  const fresh = await rx.waitFor((e) => e.InfoType === 'component_verify_ticket' && Number(e.CreateTime) > before + 43000);
  const ok = await ctl.api('api_component_token', {
    component_appid: C, component_appsecret: SECRET, component_verify_ticket: fresh.event.ComponentVerifyTicket,
  });
  assert.ok(ok.component_access_token);
});

test('fault switches: error rate, latency, dropped pushes', async () => {
  const token = await freshToken();
  const body = { component_appid: C };
  try {
    await ctl.faults({ error_rate: 1 });
    const r = await ctl.api('api_create_preauthcode', body, { token });
    assert.equal(r.errcode, -1);
    assert.match(r.errmsg, /^system error rid: /);
    await ctl.faults({ error_rate: 0.5 });
    let errors = 0;
    for (let i = 0; i < 60; i++) if ((await ctl.api('api_create_preauthcode', body, { token })).errcode === -1) errors++;
    assert.ok(errors > 10 && errors < 50, `${errors} of 60 failed`);
    await ctl.faults({ error_rate: 0, latency_ms: 300 });
    const t0 = Date.now();
    assert.ok((await ctl.api('api_create_preauthcode', body, { token })).pre_auth_code);
    assert.ok(Date.now() - t0 >= 290);
    await ctl.faults({ latency_ms: 0, drop_pushes: true });
    const { tickets } = await ctl.pushTicket(C);
    const dropped = await ctl.waitFor(async () => {
      const j = (await ctl.pushJobs({ info_type: 'component_verify_ticket' }))
        .find((x) => x.xml.includes(tickets[0].ticket));
      return j && j.state === 'dropped' && j;
    });
    assert.ok(dropped);
    assert.ok(!rx.pushes.some((p) => p.event?.ComponentVerifyTicket === tickets[0].ticket));
  } finally {
    await ctl.faults({ error_rate: 0, latency_ms: 0, drop_pushes: false });
  }
});

test('key rotation: pushes are sealed with the new key (spec §7.8)', async () => {
  const newKey = 'RotatedKey0123456789abcdefghijklmnopqrstuvw';
  await ctl.rotateKey(C, newKey);
  try {
    rx.keys.aesKey = newKey;
    const { tickets } = await ctl.pushTicket(C);
    const push = await rx.waitFor((e) => e.ComponentVerifyTicket === tickets[0].ticket);
    // The old key cannot open it (a wrong key gives garbage, which may
    // rarely pass the padding check, never the content).
    let opened = null;
    try { opened = decrypt(AES_KEY, push.outer.Encrypt); } catch { /* expected */ }
    assert.ok(!opened || !opened.msg.includes(tickets[0].ticket));
    const state = await ctl.state();
    assert.equal(state.components.find((k) => k.component_appid === C).prev_aes_key, AES_KEY);
  } finally {
    await ctl.rotateKey(C, AES_KEY);
    rx.keys.aesKey = AES_KEY;
  }
});

test('control API: bodies are validated and errors name the field', async () => {
  let r = await ctl.request('/__emu/control/components', {
    component_appid: 'wx42', secret: 's', token: 'tok', aes_key: 'short', auth_event_url: '', entry_domain: 'x',
  });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /aes_key/);
  r = await ctl.request('/__emu/control/wxusers', {});
  assert.equal(r.status, 400);
  assert.match(r.body.error, /wxid/);
  r = await ctl.request('/__emu/control/authorizers', { appid: 'wx43', kind: 'oa', nick_name: 'n', principal_name: 'p', admins: ['ghost'] });
  assert.equal(r.status, 404);
  r = await ctl.request('/__emu/control/clock', { advance_seconds: -5 });
  assert.equal(r.status, 400);
  r = await ctl.request('/__emu/control/faults', { error_rate: 2 });
  assert.equal(r.status, 400);
  r = await ctl.request('/__emu/control/pushes', { error_rate: 0 });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /error_rate/);
  r = await ctl.request('/__emu/control/scan', { session: 'nope', wxid: 'alice', appid: MP });
  assert.equal(r.status, 404);
  r = await ctl.request('/__emu/control/wxusers', 'not json');
  assert.equal(r.status, 400);
  const big = await ctl.request('/__emu/control/wxusers', { wxid: 'x', nickname: 'n'.repeat(70000) });
  assert.equal(big.status, 413);
});

test('--fixtures loads users, apps and the local component', async () => {
  const other = await startEmulator({ args: ['--fixtures', DEFAULT_FIXTURES] });
  try {
    const s = await other.control.state();
    const k = s.components.find((x) => x.component_appid === 'wx0000000000000001');
    assert.ok(k);
    assert.equal(k.entry_domain, '127.0.0.1:8080');
    assert.equal(k.auth_event_url, 'http://127.0.0.1:8080/wechat/events');
    assert.equal(k.aes_key.length, 43);
    assert.deepEqual(s.wxusers.map((u) => u.wxid).sort(), ['wxid_alice', 'wxid_bob']);
    const kinds = (wxid) => s.authorizers.filter((a) => a.admins.includes(wxid)).map((a) => a.kind).sort();
    assert.deepEqual(kinds('wxid_alice'), ['mp', 'oa']);
    assert.deepEqual(kinds('wxid_bob'), ['mp', 'oa']);
    assert.ok(s.authorizers.some((a) => a.admins.length === 2));
  } finally {
    assert.equal(await other.stop(), 0, 'SIGTERM stops it cleanly');
  }
});

test('in a browser: link from the cloud, QR page, phone, redirect back; 停止授权 on the mp page', async () => {
  // The cloud: a page that links to the authorization page, and the callback.
  const callbacks = [];
  let linkHtml = '';
  const cloud = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/wechat/callback') callbacks.push(Object.fromEntries(u.searchParams));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(u.pathname === '/link' ? linkHtml : '<!doctype html><title>back</title><p>back</p>');
  });
  await new Promise((r) => cloud.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${cloud.address().port}`;
  const C2 = 'wx00000000000000b2';
  await ctl.component({
    component_appid: C2, secret: SECRET, token: TOKEN, aes_key: AES_KEY,
    auth_event_url: '', entry_domain: `127.0.0.1:${cloud.address().port}`, name: 'Browser Cloud',
  });
  const { tickets } = await ctl.pushTicket(C2);
  const { component_access_token: token } = await ctl.api('api_component_token', {
    component_appid: C2, component_appsecret: SECRET, component_verify_ticket: tickets[0].ticket,
  });
  const { pre_auth_code: code } = await ctl.api('api_create_preauthcode', { component_appid: C2 }, { token });
  const q = new URLSearchParams({
    component_appid: C2, pre_auth_code: code, redirect_uri: `${origin}/wechat/callback?attempt=b1`, auth_type: '2',
  });
  linkHtml = `<!doctype html><a id="go" href="${emu.url}/cgi-bin/componentloginpage?${q.toString().replace(/&/g, '&amp;')}">授权</a>`;

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const problems = [];
  const watch = (p) => {
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    p.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
    return p;
  };
  try {
    const context = await browser.newContext();
    const pc = watch(await context.newPage());
    await pc.goto(`${origin}/link`);
    await pc.click('#go');
    await pc.waitForSelector('#qr svg');
    assert.equal(await pc.locator('meta[name="emu-error"]').count(), 0);
    const phoneUrl = await pc.getAttribute('#qr-link', 'href');
    assert.equal(await pc.textContent('#qr-link'), phoneUrl);

    // The phone: pick the WeChat user, the app, confirm.
    const phone = watch(await context.newPage());
    await phone.goto(phoneUrl);
    await phone.click('a.wxuser[data-wxid="alice"]');
    await pc.waitForSelector('#qr-status[data-state="scanned"]');
    assert.equal(await phone.locator('a.app').count(), 1, 'auth_type 2 lists the mini program only');
    await phone.click(`a.app[data-appid="${MP}"]`);
    await phone.click('#authorize');
    await phone.waitForSelector('#done');

    // The PC page follows the redirect by itself.
    await pc.waitForURL(/\/wechat\/callback\?/, { timeout: 10000 });
    assert.equal(callbacks.length, 1);
    assert.equal(callbacks[0].attempt, 'b1');
    assert.match(callbacks[0].auth_code, /^queryauthcode@@@/);
    const qa = await ctl.api('api_query_auth', { component_appid: C2, authorization_code: callbacks[0].auth_code }, { token });
    assert.equal(qa.authorization_info.authorizer_appid, MP);

    // The mp console: log in as alice into the mini program, 停止授权.
    const mp = watch(await context.newPage());
    await mp.goto(`${emu.url}/__emu/mp/login`);
    await mp.click('a.wxuser[data-wxid="alice"]');
    await mp.click(`button.app[data-appid="${MP}"]`);
    await mp.click(`tr.grant[data-component="${C2}"] button.revoke`);
    await mp.waitForSelector('#revoked');
    assert.equal(await mp.locator(`tr.grant[data-component="${C2}"]`).count(), 0);
    const i = await ctl.api('api_get_authorizer_info', { component_appid: C2, authorizer_appid: MP }, { token });
    assert.equal(i.errcode, 61003);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await new Promise((r) => cloud.close(r));
  }
});

// The control API never answers 409 while the pusher writes: settings and
// clock writers used to hold the settings mutex across the store write while
// a push transaction, holding the store's write lock, waited for that mutex.
test('control calls racing with ticket pushes all succeed (no 409)', async () => {
  const bad = [];
  await Promise.all([0, 1, 2, 3].map(async (w) => {
    for (let i = 0; i < 40; i++) {
      for (const [path, body] of [['faults', { latency_ms: i % 2 }], ['push-ticket', { component_appid: C }],
        ['clock', { advance_seconds: 1 }]]) {
        const r = await ctl.request(`/__emu/control/${path}`, body);
        if (r.status !== 200) bad.push(`${w}/${i} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
  }));
  await ctl.request('/__emu/control/faults', { latency_ms: 0 });
  assert.deepEqual(bad, []);
});
