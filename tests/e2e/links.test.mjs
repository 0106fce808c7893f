// The link's whole life (issue 5, docs/links.md) over HTTP against the two
// real binaries: `bindery serve` wired to `bindery platform` (the WeChat
// emulator), the phone and the mp console driven through the emulator.
// Every acceptance line and every row of "bad input and races" has a test;
// what must not have been written is checked in the store itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from './lib/tc3.mjs';
import {
  COMPONENT, startStack, WebClient, newApp, linkApp, startLink, scanLogin, startScanLogin,
  completeAuthorization, linksOf, authorizeOnWechat, sql, sqlCount, sleep, waitFor, startPeer,
} from './lib/stack.mjs';

const C = COMPONENT.component_appid;
const PW = 'a links password 1';
let S; // default configuration
let seq = 0;
const email = () => `links${++seq}.${Date.now()}@example.com`;

before(async () => {
  S = await startStack({ name: 'links' });
});

after(async () => {
  if (S) assert.equal(await S.stop(), 0);
});

async function signedUp(stack = S) {
  const web = new WebClient(stack.url);
  const r = await web.signup(email(), PW);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  return { web, uin: r.resp.Uin };
}

const liveLinks = (stack, appid) => sqlCount(stack.srv,
  `SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = '${appid}' AND state <> 'unlinked'`);
const accountsVia = (stack, appid) => sqlCount(stack.srv,
  `SELECT COUNT(*) FROM accounts WHERE registered_appid = '${appid}'`);
const accountCount = (stack) => sqlCount(stack.srv, 'SELECT COUNT(*) FROM accounts');
const events = async (web) => (await web.call('ListLinkHistory', { Limit: 200 })).resp.Events;
// The outcome Bindery recorded for the pushes of appid, oldest first.
const pushOutcomes = (stack, appid) => sql(stack.srv,
  `SELECT info_type, state, COALESCE(outcome, '') FROM wechat_events WHERE authorizer_appid = '${appid}' ORDER BY id`);
const waitPushesDone = (stack, appid, n, what) => waitFor(() => {
  const rows = pushOutcomes(stack, appid);
  return rows.length >= n && rows.every((r) => r[1] === 'done') ? rows : null;
}, { what: what || `the pushes of ${appid} to be applied` });

async function waitState(web, appid, state, timeout = 10000) {
  return waitFor(async () => {
    const l = (await linksOf(web))[appid];
    return l && l.State === state ? l : null;
  }, { timeout, what: `${appid} to be ${state}` });
}

// ---- acceptance -------------------------------------------------------------

test('link → log out → scan-to-log-in reaches the same account → unlink → scan registers a new account', async () => {
  const { web, uin } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'mp' });

  const linked = await linkApp(S, web, app);
  assert.equal(linked.error, undefined, JSON.stringify(linked.body));
  assert.equal(linked.resp.Purpose, 'link');
  assert.equal(linked.resp.Result, 'Linked');
  assert.equal(linked.resp.Uin, uin);
  assert.equal(linked.resp.SignedIn, false);
  assert.equal(linked.resp.Next, '/center');
  const l = (await linksOf(web))[app.appid];
  assert.equal(l.State, 'active');
  assert.equal(l.AppType, 'MiniProgram');
  assert.match(l.NickName, /小程序/);
  assert.deepEqual(l.FuncIds, [17, 18, 19]);
  assert.ok(l.LinkedAt && l.LastVerifiedAt && l.NextCheckAt);
  assert.equal(l.RevokedReason, null);

  assert.equal((await web.logout()).error, undefined);
  assert.equal(await web.uin(), null);
  const login = await scanLogin(S, web, app);
  assert.equal(login.error, undefined, JSON.stringify(login.body));
  assert.equal(login.resp.Purpose, 'login');
  assert.equal(login.resp.SignedIn, true);
  assert.equal(login.resp.Registered, false);
  assert.equal(login.resp.Uin, uin, 'the app leads to the account it is linked to');
  assert.equal(await web.uin(), uin);
  assert.equal(login.resp.Next, '/account');

  const del = await web.call('DeleteLink', { AuthorizerAppId: app.appid });
  assert.equal(del.error, undefined);
  assert.equal(del.resp.Link.State, 'unlinked');
  assert.ok(del.resp.Link.UnlinkedAt);
  assert.equal((await linksOf(web))[app.appid], undefined);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = '${app.appid}' AND refresh_token_sealed IS NOT NULL`), 0, 'tokens wiped');
  // WeChat keeps its authorization (spec §8.2)
  const st = await S.ctl.state();
  assert.ok(st.authorizations.some((a) => a.authorizer_appid === app.appid && a.state === 'active'));

  await web.logout();
  const again = await scanLogin(S, web, app);
  assert.equal(again.error, undefined, JSON.stringify(again.body));
  assert.equal(again.resp.Registered, true, 'the unlinked app registers a new account');
  assert.notEqual(again.resp.Uin, uin);
  const s = await web.session();
  assert.equal(s.resp.Uin, again.resp.Uin);
  assert.equal(s.resp.RegisteredVia, 'wechat');
  assert.equal(s.resp.Email, '');
  assert.match(s.resp.Uin, /^[1-9]\d{11}$/);
  assert.equal((await linksOf(web))[app.appid].State, 'active');
  const evs = (await events(web)).map((e) => e.Event);
  assert.deepEqual(evs.filter((e) => e !== 'refreshed'), ['login', 'linked', 'registered']);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM accounts WHERE uin = ${again.resp.Uin} AND email IS NULL AND password_hash IS NULL AND registered_via = 'wechat'`), 1);

  // the first account's history: linked, login, unlinked
  const first = new WebClient(S.url);
  // (signed in again by the email it was created with)
  const row = sql(S.srv, `SELECT email FROM accounts WHERE uin = ${uin}`)[0][0];
  assert.equal((await first.login(row, PW)).error, undefined);
  assert.deepEqual((await events(first)).map((e) => e.Event), ['unlinked', 'login', 'linked']);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM audit_log WHERE owner_uin = ${uin} AND action LIKE 'wxlink.%'`), 3);
});

// How fast is measured by bench/links (p50 13 ms); here, that the push is
// what revoked it, well before any background check (interval 1 h).
test('停止授权 on the mp page with the push: revoked (reason push)', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  assert.equal((await linkApp(S, web, app)).error, undefined);
  const r = await S.ctl.stopAuthorization(app.wxid, app.appid, C);
  assert.equal(r.status, 303);
  const l = await waitState(web, app.appid, 'revoked', 10000);
  assert.equal(l.RevokedReason, 'push');
  assert.ok(l.RevokedAt);
  assert.equal(l.NextCheckAt, null);
  assert.equal((await events(web))[0].Event, 'revoked');
  // using it now says so
  const v = await web.call('VerifyLink', { AuthorizerAppId: app.appid });
  assert.equal(v.error.Code, 'FailedOperation.WechatAuthorizationRevoked');
  assert.match(v.error.Message, /re-authorize/);
});

test('停止授权 with the push suppressed: revoked (reason detected) at the next use', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'mp' });
  assert.equal((await linkApp(S, web, app)).error, undefined);
  await S.ctl.pushes({ unauthorized: 'suppress' });
  try {
    await S.ctl.stopAuthorization(app.wxid, app.appid, C);
    await sleep(300);
    assert.equal((await linksOf(web))[app.appid].State, 'active', 'nobody told Bindery');
    const v = await web.call('VerifyLink', { AuthorizerAppId: app.appid });
    assert.equal(v.error.Code, 'FailedOperation.WechatAuthorizationRevoked');
    assert.match(v.error.Message, /61003/);
    const l = (await linksOf(web))[app.appid];
    assert.equal(l.State, 'revoked');
    assert.equal(l.RevokedReason, 'detected');
    const h = await events(web);
    assert.equal(h[0].Event, 'revoked');
    assert.match(h[0].Detail, /61003/);
  } finally {
    await S.ctl.pushes({ unauthorized: 'deliver' });
  }
});

test('VerifyLink on an active link refreshes a token and records the verification', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  assert.equal((await linkApp(S, web, app)).error, undefined);
  await sleep(1100);
  const before = (await linksOf(web))[app.appid].LastVerifiedAt;
  const v = await web.call('VerifyLink', { AuthorizerAppId: app.appid });
  assert.equal(v.error, undefined, JSON.stringify(v.body));
  assert.equal(v.resp.Link.State, 'active');
  assert.ok(v.resp.Link.LastVerifiedAt > before, `${v.resp.Link.LastVerifiedAt} > ${before}`);
  const unknown = await web.call('VerifyLink', { AuthorizerAppId: 'wx0000000000nolink' });
  assert.equal(unknown.error.Code, 'ResourceNotFound.WechatLink');
});

test('re-authorize after revocation from 账号中心: same account, active, new token, no new account', async () => {
  const { web, uin } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'mp' });
  assert.equal((await linkApp(S, web, app)).error, undefined);
  await S.ctl.stopAuthorization(app.wxid, app.appid, C);
  await waitState(web, app.appid, 'revoked');
  const accounts = accountCount(S);

  const flow = await startLink(S, web, { ...app, reauthorize: true });
  assert.match(flow.wechatUrl, new RegExp(`biz_appid=${app.appid}`), 'the WeChat page is limited to the app');
  const r = await completeAuthorization(web, flow);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.equal(r.resp.Result, 'Reauthorized');
  assert.equal(r.resp.Uin, uin);
  const l = (await linksOf(web))[app.appid];
  assert.equal(l.State, 'active');
  assert.equal(l.RevokedReason, null);
  assert.equal(accountCount(S), accounts, 'no account was created');
  assert.equal(liveLinks(S, app.appid), 1);
  // the new refresh token works (the old one is dead at WeChat)
  assert.equal((await web.call('VerifyLink', { AuthorizerAppId: app.appid })).error, undefined);
  assert.ok((await events(web)).some((e) => e.Event === 'reauthorized'));
  // re-authorizing an app this account has not linked
  const other = await web.call('CreateLink', { AuthorizerAppId: 'wx00000000notlinked' });
  assert.equal(other.error.Code, 'ResourceNotFound.WechatLink');
});

test('re-authorize after revocation from the login page: same account, active, no new account', async () => {
  const { web, uin } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  assert.equal((await linkApp(S, web, app)).error, undefined);
  await S.ctl.stopAuthorization(app.wxid, app.appid, C);
  await waitState(web, app.appid, 'revoked');
  const accounts = accountCount(S);

  const browser = new WebClient(S.url);
  const r = await scanLogin(S, browser, app);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.equal(r.resp.Uin, uin);
  assert.equal(r.resp.Registered, false);
  assert.equal(r.resp.Result, 'Reauthorized');
  assert.equal(await browser.uin(), uin);
  assert.equal((await linksOf(browser))[app.appid].State, 'active');
  assert.equal(accountCount(S), accounts);
  assert.equal((await browser.call('VerifyLink', { AuthorizerAppId: app.appid })).error, undefined);
});

test('an account registered through a mini program is refused a second mini program, with the way around it', async () => {
  const first = await newApp(S.ctl, { kind: 'mp' });
  const second = await newApp(S.ctl, { kind: 'mp', admins: [first.wxid] });
  const oa = await newApp(S.ctl, { kind: 'oa', admins: [first.wxid] });
  const web = new WebClient(S.url);
  const reg = await scanLogin(S, web, first);
  assert.equal(reg.resp.Registered, true);

  const r = await linkApp(S, web, second);
  assert.equal(r.error.Code, 'OperationDenied.MiniProgramRegisteredAccount');
  assert.match(r.error.Message, new RegExp(first.appid));
  assert.match(r.error.Message, /collaborator/);
  assert.match(r.error.Message, /switch developer/);
  assert.equal(liveLinks(S, second.appid), 0, 'nothing written');
  // an official account is fine
  assert.equal((await linkApp(S, web, oa)).error, undefined);
  // the seed's way: the other mini program registers its own account
  const b = new WebClient(S.url);
  const regB = await scanLogin(S, b, second);
  assert.equal(regB.resp.Registered, true);
  assert.notEqual(regB.resp.Uin, reg.resp.Uin);
});

test('with link.allow_mp_registered_second_mp on, the second mini program links', async () => {
  const A = await startStack({ name: 'links_allow', env: { BINDERY_LINK_ALLOW_MP_REGISTERED_SECOND_MP: 'true' } });
  try {
    const first = await newApp(A.ctl, { kind: 'mp' });
    const second = await newApp(A.ctl, { kind: 'mp', admins: [first.wxid] });
    const web = new WebClient(A.url);
    assert.equal((await scanLogin(A, web, first)).resp.Registered, true);
    const r = await linkApp(A, web, second);
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.equal(r.resp.Result, 'Linked');
    assert.deepEqual(Object.keys(await linksOf(web)).sort(), [first.appid, second.appid].sort());
  } finally {
    assert.equal(await A.stop(), 0);
  }
});

test('an app linked to another account: a clear error naming what to do', async () => {
  const a = await signedUp();
  const b = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  assert.equal((await linkApp(S, a.web, app)).error, undefined);
  const r = await linkApp(S, b.web, app);
  assert.equal(r.error.Code, 'ResourceInUse.WechatApp');
  assert.match(r.error.Message, /linked to another Bindery account/);
  assert.match(r.error.Message, /unlink/);
  assert.equal((await linksOf(a.web))[app.appid].State, 'active');
  assert.equal((await linksOf(b.web))[app.appid], undefined);
  assert.equal(liveLinks(S, app.appid), 1);
});

test('push and redirect in either order, or no push: exactly one link, one account', async () => {
  const cases = [
    ['push first, applied before the redirect', { order: 'push_first' }, {}, true],
    ['redirect first, push later', { order: 'redirect_first', delay_ms: 800 }, {}, false],
    ['no push at all', { order: 'push_first' }, { drop_pushes: true }, false],
  ];
  for (const [name, pushes, faults, waitPush] of cases) {
    await S.ctl.pushes(pushes);
    await S.ctl.faults({ drop_pushes: false, ...faults });
    try {
      // 关联 from an account
      const { web, uin } = await signedUp();
      const app = await newApp(S.ctl, { kind: 'mp' });
      const flow = await startLink(S, web, app);
      if (waitPush) await waitPushesDone(S, app.appid, 1);
      const r = await completeAuthorization(web, flow);
      assert.equal(r.error, undefined, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.resp.Result, 'Linked', name);
      assert.equal(r.resp.Uin, uin, name);
      if (pushes.order === 'redirect_first') await waitPushesDone(S, app.appid, 1);
      assert.equal(liveLinks(S, app.appid), 1, name);
      assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM wechat_links WHERE authorizer_appid = '${app.appid}'`), 1, name);
      assert.deepEqual((await events(web)).map((e) => e.Event), ['linked'], name);

      // scan-to-log-in with an unknown app: one new account
      const app2 = await newApp(S.ctl, { kind: 'oa' });
      const browser = new WebClient(S.url);
      const flow2 = await startScanLogin(S, browser, app2);
      if (waitPush) await waitPushesDone(S, app2.appid, 1);
      const r2 = await completeAuthorization(browser, flow2);
      assert.equal(r2.error, undefined, `${name}: ${JSON.stringify(r2.body)}`);
      assert.equal(r2.resp.Registered, true, name);
      assert.equal(await browser.uin(), r2.resp.Uin, name);
      if (pushes.order === 'redirect_first') await waitPushesDone(S, app2.appid, 1);
      assert.equal(accountsVia(S, app2.appid), 1, name);
      assert.equal(liveLinks(S, app2.appid), 1, name);
    } finally {
      await S.ctl.pushes({ order: 'push_first', delay_ms: 0 });
      await S.ctl.faults({ drop_pushes: false });
    }
  }
});

// ---- bad input and races -------------------------------------------------

test('a replayed state is refused and changes nothing', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  const flow = await startLink(S, web, app);
  assert.equal((await completeAuthorization(web, flow)).error, undefined);
  const hist = (await events(web)).length;
  const again = await completeAuthorization(web, flow);
  assert.equal(again.error.Code, 'FailedOperation.AuthorizationStateUsed');
  assert.match(again.error.Message, /already completed/);
  assert.equal((await events(web)).length, hist);
  // the entry page's target for a used attempt says so too
  const t = await web.request('GET', `/wechat/authorize/target?state=${flow.state}`);
  assert.equal(t.error.Code, 'FailedOperation.AuthorizationStateUsed');
});

test('a foreign, unknown or malformed state is refused; the real owner still completes', async () => {
  const a = await signedUp();
  const b = await signedUp();
  const app = await newApp(S.ctl, { kind: 'mp' });
  const flow = await startLink(S, a.web, app);
  const foreign = await completeAuthorization(b.web, flow);
  assert.equal(foreign.error.Code, 'FailedOperation.AuthorizationStateInvalid');
  assert.match(foreign.error.Message, /another console session/);
  const unknown = await completeAuthorization(a.web, { state: 'A'.repeat(43), authCode: flow.authCode });
  assert.equal(unknown.error.Code, 'FailedOperation.AuthorizationStateInvalid');
  assert.match(unknown.error.Message, /unknown/);
  const malformed = await completeAuthorization(a.web, { state: 'not a state', authCode: flow.authCode });
  assert.equal(malformed.error.Code, 'FailedOperation.AuthorizationStateInvalid');
  const missing = await a.web.request('POST', '/wechat/authorized', { AuthCode: flow.authCode });
  assert.equal(missing.error.Code, 'MissingParameter');
  const noCode = await a.web.request('POST', '/wechat/authorized', { State: flow.state });
  assert.equal(noCode.error.Code, 'MissingParameter');
  const huge = await a.web.request('POST', '/wechat/authorized', { State: flow.state, AuthCode: 'x'.repeat(600) });
  assert.equal(huge.error.Code, 'InvalidParameterValue');
  assert.equal((await linksOf(b.web))[app.appid], undefined);
  const ok = await completeAuthorization(a.web, flow);
  assert.equal(ok.error, undefined, JSON.stringify(ok.body));
  // the state is never a secret in the store
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM wechat_link_attempts WHERE pre_auth_code LIKE '%${flow.state}%'`), 0);
});

test('a redirect with no attempt in the session (signed out, or another browser) is refused', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  const flow = await startLink(S, web, app);
  const csrf = web.csrf;
  await web.logout();
  const r = await completeAuthorization(web, flow);
  assert.equal(r.error.Code, 'FailedOperation.AuthorizationStateInvalid');
  assert.equal(liveLinks(S, app.appid) <= 1, true);
  web.csrf = csrf;

  // scan-to-log-in completed by a browser without the login page's cookie
  const app2 = await newApp(S.ctl, { kind: 'oa' });
  await S.ctl.faults({ drop_pushes: true });
  try {
    const starter = new WebClient(S.url);
    const flow2 = await startScanLogin(S, starter, app2);
    const stranger = new WebClient(S.url);
    const r2 = await completeAuthorization(stranger, flow2);
    assert.equal(r2.error.Code, 'FailedOperation.AuthorizationStateInvalid');
    assert.match(r2.error.Message, /another browser/);
    assert.equal(await stranger.uin(), null, 'not signed in');
    assert.equal(accountsVia(S, app2.appid), 0, 'no account registered');
    const ok = await completeAuthorization(starter, flow2);
    assert.equal(ok.error, undefined, JSON.stringify(ok.body));
  } finally {
    await S.ctl.faults({ drop_pushes: false });
  }
});

test('an expired attempt is refused, nothing written', async () => {
  const T = await startStack({ name: 'links_ttl', env: { BINDERY_LINK_ATTEMPT_TTL: '1' } });
  try {
    await T.ctl.faults({ drop_pushes: true });
    const { web } = await signedUp(T);
    const app = await newApp(T.ctl, { kind: 'mp' });
    const flow = await startLink(T, web, app);
    await sleep(1300);
    const r = await completeAuthorization(web, flow);
    assert.equal(r.error.Code, 'FailedOperation.AuthorizationStateExpired');
    assert.match(r.error.Message, /expired/);
    assert.equal(liveLinks(T, app.appid), 0);
    const t = await web.request('GET', `/wechat/authorize/target?state=${flow.state}`);
    assert.equal(t.error.Code, 'FailedOperation.AuthorizationStateExpired');
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

test('an auth_code used twice (for another attempt) is refused', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'mp' });
  const app2 = await newApp(S.ctl, { kind: 'oa', admins: [app.wxid] });
  const first = await startLink(S, web, app);
  assert.equal((await completeAuthorization(web, first)).error, undefined);
  const second = await startLink(S, web, app2);
  const r = await completeAuthorization(web, { state: second.state, authCode: first.authCode });
  assert.equal(r.error.Code, 'FailedOperation.AuthorizationCodeUsed');
  assert.equal(liveLinks(S, app2.appid) <= 1, true);
  // the attempt is given back: its own code completes it
  const ok = await completeAuthorization(web, second);
  assert.equal(ok.error, undefined, JSON.stringify(ok.body));
  assert.equal(ok.resp.AuthorizerAppId, app2.appid);
});

test('one app in two concurrent link attempts for two accounts: one link, one clear refusal', async () => {
  await S.ctl.faults({ drop_pushes: true });
  try {
    const a = await signedUp();
    const b = await signedUp();
    const app = await newApp(S.ctl, { kind: 'oa' });
    const fa = await startLink(S, a.web, app);
    const fb = await startLink(S, b.web, app);
    const [ra, rb] = await Promise.all([completeAuthorization(a.web, fa), completeAuthorization(b.web, fb)]);
    const ok = [ra, rb].filter((r) => !r.error);
    const refused = [ra, rb].filter((r) => r.error);
    assert.equal(ok.length, 1, JSON.stringify([ra.body, rb.body]));
    assert.equal(refused.length, 1);
    assert.equal(refused[0].error.Code, 'ResourceInUse.WechatApp');
    assert.equal(liveLinks(S, app.appid), 1);
  } finally {
    await S.ctl.faults({ drop_pushes: false });
  }
});

test('the same attempt completed twice at once, and two scans of a new app at once: one result', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  const flow = await startLink(S, web, app);
  const [r1, r2] = await Promise.all([completeAuthorization(web, flow), completeAuthorization(web, flow)]);
  assert.equal([r1, r2].filter((r) => !r.error).length, 1);
  assert.equal([r1, r2].find((r) => r.error).error.Code, 'FailedOperation.AuthorizationStateUsed');
  assert.equal(liveLinks(S, app.appid), 1);

  const fresh = await newApp(S.ctl, { kind: 'mp' });
  const x = new WebClient(S.url);
  const y = new WebClient(S.url);
  const fx = await startScanLogin(S, x, fresh);
  const fy = await startScanLogin(S, y, fresh);
  const [rx, ry] = await Promise.all([completeAuthorization(x, fx), completeAuthorization(y, fy)]);
  assert.equal(rx.error, undefined, JSON.stringify(rx.body));
  assert.equal(ry.error, undefined, JSON.stringify(ry.body));
  assert.equal(rx.resp.Uin, ry.resp.Uin, 'both land in the one account');
  await waitPushesDone(S, fresh.appid, 1);
  assert.equal(accountsVia(S, fresh.appid), 1, 'never a duplicate account');
  assert.equal(liveLinks(S, fresh.appid), 1);
});

// An authorization made outside Bindery (another page of the component):
// its push names an app nobody asked for.
async function authorizeOutsideBindery(stack, app) {
  const { tickets } = await stack.ctl.pushTicket(C);
  const tok = await stack.ctl.api('api_component_token', {
    component_appid: C, component_appsecret: COMPONENT.secret, component_verify_ticket: tickets[0].ticket,
  });
  const pac = await stack.ctl.api('api_create_preauthcode', { component_appid: C }, { token: tok.component_access_token });
  const page = await stack.ctl.loginPage({
    component_appid: C, pre_auth_code: pac.pre_auth_code, auth_type: '3',
    redirect_uri: `${stack.url}/wechat/authorized?state=none`,
  }, { referer: `${stack.url}/elsewhere` });
  assert.equal(page.errorMarker, null);
  const scan = await stack.ctl.scan({ session: page.session, wxid: app.wxid, appid: app.appid });
  assert.equal(scan.status, 200);
  return scan.body;
}

test('a push for an unknown app is stored and ignored: no link, no account', async () => {
  const app = await newApp(S.ctl, { kind: 'mp' });
  const accounts = accountCount(S);
  await authorizeOutsideBindery(S, app);
  const [row] = await waitPushesDone(S, app.appid, 1);
  assert.equal(row[0], 'authorized');
  assert.match(row[2], /^ignored: no attempt and no link/);
  assert.equal(liveLinks(S, app.appid), 0);
  assert.equal(accountCount(S), accounts);
  // and its revocation: ignored too
  await S.ctl.stopAuthorization(app.wxid, app.appid, C);
  const rows = await waitPushesDone(S, app.appid, 2);
  assert.equal(rows[1][0], 'unauthorized');
  assert.match(rows[1][2], /^ignored: no active link/);
});

test('the emulator answering errors mid-flow: a clear message, nothing written, a retry works', async () => {
  const { web } = await signedUp();
  const app = await newApp(S.ctl, { kind: 'oa' });
  // starting: no pre-auth code, no attempt
  const attempts = sqlCount(S.srv, 'SELECT COUNT(*) FROM wechat_link_attempts');
  await S.ctl.faults({ error_rate: 1 });
  let r;
  try {
    r = await web.call('CreateLink', {});
  } finally {
    await S.ctl.faults({ error_rate: 0 });
  }
  assert.equal(r.error.Code, 'InternalError.Upstream');
  assert.match(r.error.Message, /pre-auth code/);
  assert.equal(sqlCount(S.srv, 'SELECT COUNT(*) FROM wechat_link_attempts'), attempts);

  // completing: WeChat fails after the admin confirmed (the push is lost too)
  await S.ctl.faults({ drop_pushes: true });
  try {
    const flow = await startLink(S, web, app);
    await S.ctl.faults({ drop_pushes: true, error_rate: 1 });
    const bad = await completeAuthorization(web, flow);
    assert.equal(bad.error.Code, 'InternalError.Upstream');
    assert.match(bad.error.Message, /nothing was changed/);
    assert.equal(liveLinks(S, app.appid), 0, 'nothing half-written');
    assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM wechat_auth_codes WHERE authorizer_appid = '${app.appid}'`), 0);
    await S.ctl.faults({ drop_pushes: true, error_rate: 0 });
    const ok = await completeAuthorization(web, flow);
    assert.equal(ok.error, undefined, JSON.stringify(ok.body));
    assert.equal(ok.resp.Result, 'Linked');
  } finally {
    await S.ctl.faults({ drop_pushes: false, error_rate: 0 });
  }
});

test('the emulator timing out mid-flow: a clear message, nothing written, a retry works', async () => {
  const T = await startStack({ name: 'links_timeout', env: { BINDERY_WECHAT_TIMEOUT: '1' } });
  try {
    const { web } = await signedUp(T);
    const app = await newApp(T.ctl, { kind: 'mp' });
    await T.ctl.faults({ drop_pushes: true });
    const flow = await startLink(T, web, app);
    await T.ctl.faults({ drop_pushes: true, latency_ms: 1500 });
    const t0 = Date.now();
    const r = await completeAuthorization(web, flow);
    assert.equal(r.error.Code, 'InternalError.Upstream', JSON.stringify(r.body));
    assert.ok(Date.now() - t0 < 10000);
    assert.equal(liveLinks(T, app.appid), 0);
    await T.ctl.faults({ drop_pushes: true, latency_ms: 0 });
    const ok = await completeAuthorization(web, flow);
    assert.equal(ok.error, undefined, JSON.stringify(ok.body));
  } finally {
    await T.ctl.faults({ latency_ms: 0, drop_pushes: false });
    assert.equal(await T.stop(), 0);
  }
});

test('concurrent unlink, 停止授权 and use of one app end in a consistent state', async () => {
  for (let i = 0; i < 3; i++) {
    const { web } = await signedUp();
    const app = await newApp(S.ctl, { kind: 'oa' });
    assert.equal((await linkApp(S, web, app)).error, undefined);
    await waitPushesDone(S, app.appid, 1);
    await Promise.all([
      web.call('DeleteLink', { AuthorizerAppId: app.appid }),
      S.ctl.revoke(C, app.appid),
      web.call('VerifyLink', { AuthorizerAppId: app.appid }),
    ]);
    await waitPushesDone(S, app.appid, 2);
    const rows = sql(S.srv, `SELECT state, CASE WHEN refresh_token_sealed IS NULL THEN 0 ELSE 1 END FROM wechat_links WHERE authorizer_appid = '${app.appid}'`);
    assert.equal(rows.length, 1);
    assert.ok(['unlinked', 'revoked'].includes(rows[0][0]), rows[0][0]);
    assert.equal(rows[0][1], '0', 'no token left');
    const evs = (await events(web)).map((e) => e.Event);
    assert.ok(evs.filter((e) => e === 'unlinked').length <= 1);
    assert.ok(evs.filter((e) => e === 'revoked').length <= 1);
    if (rows[0][0] === 'unlinked') assert.ok(evs.includes('unlinked'));
  }
});

test('the background check: last verified moves; with the push suppressed, revoked at the next sweep', async () => {
  const T = await startStack({ name: 'links_sweep', env: { BINDERY_LINK_CHECK_INTERVAL: '2' } });
  try {
    const { web } = await signedUp(T);
    const app = await newApp(T.ctl, { kind: 'mp' });
    assert.equal((await linkApp(T, web, app)).error, undefined);
    const first = (await linksOf(web))[app.appid].LastVerifiedAt;
    const checks0 = (await T.ctl.checks(app.appid)).api_get_authorizer_info;
    await waitFor(async () => (await linksOf(web))[app.appid].LastVerifiedAt > first,
      { timeout: 8000, what: 'a background check' });
    assert.ok((await T.ctl.checks(app.appid)).api_get_authorizer_info > checks0);

    await T.ctl.pushes({ unauthorized: 'suppress' });
    await T.ctl.stopAuthorization(app.wxid, app.appid, C);
    const t0 = Date.now();
    const l = await waitState(web, app.appid, 'revoked', 8000);
    assert.equal(l.RevokedReason, 'detected');
    assert.ok(Date.now() - t0 < 8000);
    const h = await events(web);
    assert.match(h[0].Detail, /background check/);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

const pgBase = process.env.BINDERY_E2E_PG_URL;
test('two instances on one PostgreSQL database never check one link at once', {
  skip: pgBase ? false : 'runs on PostgreSQL only (BINDERY_E2E_PG_URL is not set)',
}, async () => {
  const db = `links_peers_${Math.random().toString(36).slice(2, 10)}`;
  const made = spawnSync('psql', [pgBase, '-qAtc', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const url = new URL(pgBase);
  url.pathname = `/${db}`;
  const keyDir = await mkdtemp(join(tmpdir(), 'bindery-key-'));
  const shared = {
    BINDERY_STORE: url.toString(), BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key'),
    BINDERY_LINK_CHECK_INTERVAL: '2',
  };
  const T = await startStack({ name: 'links_peer_a', env: shared });
  const peer = await startPeer(T, { name: 'links_peer_b', env: shared });
  try {
    const { web } = await signedUp(T);
    const apps = [];
    for (let i = 0; i < 4; i++) {
      const app = await newApp(T.ctl, { kind: 'oa', admins: ['wxid_peer_admin'] });
      assert.equal((await linkApp(T, web, app)).error, undefined);
      apps.push(app);
    }
    const before = await Promise.all(apps.map(async (a) => (await T.ctl.checks(a.appid)).api_get_authorizer_info));
    await sleep(6500);
    const after = await Promise.all(apps.map(async (a) => (await T.ctl.checks(a.appid)).api_get_authorizer_info));
    // Due every 2 s: 3 or 4 checks in 6.5 s by one instance; twice that if
    // both checked every link.
    apps.forEach((a, i) => {
      const n = after[i] - before[i];
      assert.ok(n >= 2 && n <= 4, `${a.appid}: ${n} checks in 6.5 s`);
    });
    assert.equal(sqlCount(T.srv, "SELECT COUNT(*) FROM wechat_links WHERE state = 'active'"), 4);
  } finally {
    assert.equal(await peer.stop(), 0);
    assert.equal(await T.stop(), 0);
    await rm(keyDir, { recursive: true, force: true });
  }
});

test('at most link.max_per_account live links', async () => {
  const T = await startStack({ name: 'links_max', env: { BINDERY_LINK_MAX_PER_ACCOUNT: '2' } });
  try {
    const { web } = await signedUp(T);
    const admin = 'wxid_max_admin';
    const apps = [];
    for (let i = 0; i < 3; i++) apps.push(await newApp(T.ctl, { kind: 'oa', admins: [admin] }));
    assert.equal((await linkApp(T, web, apps[0])).error, undefined);
    assert.equal((await linkApp(T, web, apps[1])).error, undefined);
    const r = await linkApp(T, web, apps[2]);
    assert.equal(r.error.Code, 'LimitExceeded.WechatLink');
    assert.match(r.error.Message, /link\.max_per_account/);
    assert.equal((await web.call('DeleteLink', { AuthorizerAppId: apps[0].appid })).error, undefined);
    assert.equal((await linkApp(T, web, apps[2])).error, undefined);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

test('scan-to-log-in starts are throttled per address; a completed sign-in resets the count', async () => {
  const T = await startStack({ name: 'links_starts', env: { BINDERY_LINK_MAX_LOGIN_STARTS: '3' } });
  try {
    const web = new WebClient(T.url);
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const r = await web.request('POST', '/console/wechat/login', {});
      codes.push(r.error ? r.error.Code : 'ok');
      if (r.error) assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    assert.deepEqual(codes.slice(0, 3), ['ok', 'ok', 'ok']);
    assert.equal(codes[4], 'RequestLimitExceeded.LoginThrottled');
    assert.equal(sqlCount(T.srv, "SELECT COUNT(*) FROM login_throttle WHERE key = 'wxlogin:127.0.0.1'"), 1);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

// ---- the API, the pages, the CAM check ----------------------------------

test('the actions through the signed API: CreateLink is bound to the principal', async () => {
  const { web, uin } = await signedUp();
  const key = await S.srv.adminCreateAccessKey(uin);
  const call = (action, params = {}) => callApi(S.url, {
    action, version: '2026-11-01', params, secretId: key.SecretId, secretKey: key.SecretKey,
  });
  const list = await call('ListLinks');
  assert.deepEqual(list.body.Response.Links, []);
  assert.equal(list.body.Response.TotalCount, 0);
  const created = await call('CreateLink');
  const url = created.body.Response.AuthorizationUrl;
  assert.ok(url.startsWith(`${S.url}/wechat/authorize?state=`), url);
  const app = await newApp(S.ctl, { kind: 'oa' });
  const flow = await authorizeOnWechat(S, web, url, app);
  // another account's session cannot complete it; the principal's can
  const other = await signedUp();
  assert.equal((await completeAuthorization(other.web, flow)).error.Code, 'FailedOperation.AuthorizationStateInvalid');
  const ok = await completeAuthorization(web, flow);
  assert.equal(ok.error, undefined, JSON.stringify(ok.body));
  const after = await call('ListLinks');
  assert.equal(after.body.Response.Links[0].AuthorizerAppId, app.appid);
  const hist = await call('ListLinkHistory', { Limit: 5 });
  assert.equal(hist.body.Response.Events[0].Event, 'linked');
  const bad = await call('DeleteLink', {});
  assert.equal(bad.body.Response.Error.Code, 'MissingParameter');
  const tooLong = await call('DeleteLink', { AuthorizerAppId: 'x'.repeat(65) });
  assert.equal(tooLong.body.Response.Error.Code, 'InvalidParameterValue');
  const del = await call('DeleteLink', { AuthorizerAppId: app.appid });
  assert.equal(del.body.Response.Link.State, 'unlinked');
  const again = await call('DeleteLink', { AuthorizerAppId: app.appid });
  assert.equal(again.body.Response.Error.Code, 'ResourceNotFound.WechatLink');
});

test('the console door needs a session; the login start and completion need our origin', async () => {
  const anon = new WebClient(S.url);
  const r = await anon.call('ListLinks');
  assert.equal(r.error.Code, 'AuthFailure.SessionInvalid');
  const cross = await anon.request('POST', '/console/wechat/login', {}, { Origin: 'https://evil.example' });
  assert.equal(cross.error.Code, 'AuthFailure.CsrfTokenInvalid');
  const form = await fetch(`${S.url}/wechat/authorized`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'State=x&AuthCode=y',
  });
  assert.equal((await form.json()).Response.Error.Code, 'AuthFailure.CsrfTokenInvalid');
  const start = await anon.request('POST', '/console/wechat/login', {});
  assert.equal(start.error, undefined);
  const cookie = start.headers.getSetCookie().find((c) => c.startsWith('bindery_wxlogin='));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.equal(start.headers.get('cache-control'), 'no-store');
});

test('the pages: 账号中心, the entry page and the return page, with the strict CSP', async () => {
  for (const path of ['/center', '/wechat/authorize?state=x', '/wechat/authorized?state=x&auth_code=y']) {
    const res = await fetch(S.url + path);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type'), /text\/html/);
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
    const html = await res.text();
    assert.doesNotMatch(html, /<script>|<style>| style=/, `${path} has no inline script or style`);
  }
  const center = await (await fetch(`${S.url}/center`)).text();
  assert.match(center, /微信公众平台登录/);
  assert.match(center, /关联/);
  const login = await (await fetch(`${S.url}/`)).text();
  assert.match(login, /id="wechat-login"/);
  assert.match(login, /微信公众号/);
});
