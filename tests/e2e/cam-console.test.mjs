// 访问管理 in the console, against `bindery serve` wired to the WeChat
// emulator: the switch-developer endpoint and sub-user login at the HTTP
// level, then in Debian's Chromium (playwright-core) the seed's §4
// workaround click by click, a read-only collaborator, a sub-user made with
// 【新建用户】 signing in, the policy editor's error position, and a removed
// collaborator's switched session. The browser tests run in order and share
// one browser, as the people in the story would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startStack, newApp, WebClient, sql, sqlCount, waitFor } from './lib/stack.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SCREENSHOT_DIR = process.env.BINDERY_SCREENSHOT_DIR || '';
const PASSWORD = 'a console password 1';
// The spec's denial message (§2.8); CreateGroup acts on the operation level "*".
const DENIED = /^\[request id:[0-9a-f-]+\]you are not authorized to perform operation \(cam:CreateGroup\)\s+resource \(\*\) has no permission$/;

let S;
let browser;
let context;
let page;
let mp1;
let mp2;
let uinA;
let uinB;
let C; // an email account, owner of the read-only collaboration and of a sub-user
let uinC;
const problems = [];
let seq = 0;

function watch(p) {
  p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  p.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  p.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
  return p;
}

before(async () => {
  S = await startStack({ name: 'cam_console' });
  // One WeChat admin administers both mini programs, as in the seed.
  mp1 = await newApp(S.ctl, { kind: 'mp', nick: '甲的小程序', admins: ['wxid_cam_admin'] });
  mp2 = await newApp(S.ctl, { kind: 'mp', nick: '乙的小程序', admins: ['wxid_cam_admin'] });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: S.url });
  page = watch(await context.newPage());
  C = new WebClient(S.url);
  const r = await C.signup('cam.owner.c@example.com', PASSWORD);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  uinC = r.resp.Uin;
});

after(async () => {
  if (browser) await browser.close();
  if (S) assert.equal(await S.stop(), 0);
});

const text = async (selector, p = page) => (await p.textContent(selector)).trim();

async function shot(name, p = page) {
  if (SCREENSHOT_DIR) await p.screenshot({ path: `${SCREENSHOT_DIR}/bindery-cam-${name}.png`, fullPage: true });
}

async function signedUpClient(tag) {
  seq += 1;
  const w = new WebClient(S.url);
  const r = await w.signup(`cam.${tag}.${seq}@example.com`, PASSWORD);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  return { w, uin: r.resp.Uin };
}

// On WeChat's QR page: the admin scans and picks appid; the browser follows
// WeChat's redirect back to Bindery, which lands on expectPath.
async function scanOnPhone(appid, expectPath) {
  await page.waitForURL((u) => u.pathname === '/cgi-bin/componentloginpage', { timeout: 10000 });
  await page.waitForSelector('#qr svg');
  const session = await page.getAttribute('#qr-status', 'data-poll');
  const r = await S.ctl.scan({ session, wxid: 'wxid_cam_admin', appid });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.waitForURL((u) => u.origin === S.url && u.pathname === expectPath, { timeout: 15000 });
}

async function scanLogin(appid) {
  await page.goto(`${S.url}/`);
  await page.click('#wechat-login');
  await scanOnPhone(appid, '/account');
  await page.locator('#account-card').waitFor({ state: 'visible' });
}

async function logout() {
  await Promise.all([page.waitForURL(`${S.url}/`), page.click('#logout')]);
}

// Elements whose text is still their dictionary key: a text the page forgot.
const untranslated = (p = page) => p.evaluate(() => [...document.querySelectorAll('[data-i18n]')]
  .filter((e) => e.textContent.trim() === e.getAttribute('data-i18n')).map((e) => e.getAttribute('data-i18n')));

async function openUserMenu() {
  await page.click('#user-menu-button');
  await page.locator('#user-menu').waitFor({ state: 'visible' });
}

/* ---- The switch endpoint and sub-user login over HTTP ------------------------ */

test('POST /console/switch: CSRF, rotation, GetUserAppId as the switched identity, refusals, audit', async () => {
  const owner = await signedUpClient('owner');
  const collab = await signedUpClient('collab');
  const stranger = await signedUpClient('stranger');
  let r = await owner.w.call('AddCollaborator', { CollaboratorUin: Number(collab.uin) });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  r = await owner.w.call('AttachUserPolicy', { PolicyId: 1, AttachUin: Number(collab.uin) });
  assert.equal(r.error, undefined, JSON.stringify(r.body));

  // The list of the accounts it collaborates on.
  r = await collab.w.request('GET', '/console/switch');
  assert.deepEqual(r.resp.Accounts.map((a) => a.OwnerUin), [owner.uin]);
  assert.deepEqual((await stranger.w.request('GET', '/console/switch')).resp.Accounts, []);

  // Without the CSRF header, or with a foreign Origin: refused, nothing changes.
  r = await collab.w.request('POST', '/console/switch', { OwnerUin: owner.uin });
  assert.equal(r.error.Code, 'AuthFailure.CsrfTokenInvalid');
  r = await collab.w.request('POST', '/console/switch', { OwnerUin: owner.uin },
    { 'X-CSRF-Token': collab.w.csrf, Origin: 'https://evil.example' });
  assert.equal(r.error.Code, 'AuthFailure.CsrfTokenInvalid');
  assert.equal((await collab.w.session()).resp.OwnerUin, collab.uin);

  // Bad input.
  for (const [body, code] of [[{}, 'MissingParameter'], [{ OwnerUin: 'abc' }, 'InvalidParameterValue'],
    [{ OwnerUin: -1 }, 'InvalidParameterValue'], [{ OwnerUin: '1'.repeat(40) }, 'InvalidParameterValue']]) {
    r = await collab.w.request('POST', '/console/switch', body, { 'X-CSRF-Token': collab.w.csrf });
    assert.equal(r.error.Code, code, JSON.stringify(body));
  }

  // Not a collaboration (an account that never admitted it, one that does
  // not exist): the same refusal, and the session stays as it was.
  for (const target of [stranger.uin, '999999999999']) {
    r = await collab.w.request('POST', '/console/switch', { OwnerUin: target }, { 'X-CSRF-Token': collab.w.csrf });
    assert.equal(r.error.Code, 'ResourceNotFound.UserNotExist', target);
  }
  assert.equal((await collab.w.session()).resp.Kind, 'root');

  // The switch rotates the session: a new cookie and CSRF token; the old
  // cookie is dead.
  const oldCookie = collab.w.cookies.get('bindery_session');
  const oldCsrf = collab.w.csrf;
  r = await collab.w.request('POST', '/console/switch', { OwnerUin: owner.uin }, { 'X-CSRF-Token': oldCsrf });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.equal(r.resp.Kind, 'collaborator');
  assert.equal(r.resp.Uin, collab.uin);
  assert.equal(r.resp.OwnerUin, owner.uin);
  assert.notEqual(collab.w.cookies.get('bindery_session'), oldCookie);
  assert.notEqual(collab.w.csrf, oldCsrf);
  const old = new WebClient(S.url);
  old.cookies.set('bindery_session', oldCookie);
  assert.equal((await old.session()).error.Code, 'AuthFailure.SessionInvalid');

  // GetUserAppId and /console/session answer for the switched identity.
  const ownerAppId = (await owner.w.session()).resp.AppId;
  r = await collab.w.call('GetUserAppId');
  assert.deepEqual([r.resp.Uin, r.resp.OwnerUin, r.resp.AppId], [collab.uin, owner.uin, ownerAppId]);
  const s = (await collab.w.session()).resp;
  assert.deepEqual([s.Kind, s.Uin, s.OwnerUin, s.AppId], ['collaborator', collab.uin, owner.uin, ownerAppId]);
  // With the owner's AdministratorAccess it acts in the owner account.
  r = await collab.w.call('CreateGroup', { GroupName: 'made-by-collaborator' });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.equal((await owner.w.call('ListGroups')).resp.GroupInfo[0].GroupName, 'made-by-collaborator');

  // Two requests racing with one (old) session: exactly one rotates it.
  const cookie = collab.w.cookies.get('bindery_session');
  const csrf = collab.w.csrf;
  const racers = [new WebClient(S.url), new WebClient(S.url)];
  racers.forEach((w) => w.cookies.set('bindery_session', cookie));
  const results = await Promise.all(racers.map((w) =>
    w.request('POST', '/console/switch', { OwnerUin: 0 }, { 'X-CSRF-Token': csrf })));
  assert.equal(results.filter((x) => !x.error).length, 1, JSON.stringify(results.map((x) => x.body)));
  assert.equal(results.filter((x) => x.error).map((x) => x.error.Code)[0], 'AuthFailure.SessionInvalid');
  const winner = racers[results.findIndex((x) => !x.error)];
  const back = (await winner.session()).resp;
  assert.deepEqual([back.Kind, back.Uin, back.OwnerUin], ['root', collab.uin, collab.uin]);
  r = await winner.call('GetUserAppId');
  assert.equal(r.resp.OwnerUin, collab.uin);

  // Audited: who switched, into which account, refusals too.
  const rows = sql(S.srv, `SELECT owner_uin, uin, result, detail FROM audit_log WHERE action = 'console.switch' AND uin = ${collab.uin} ORDER BY id`);
  assert.deepEqual(rows.map((x) => x[2]), ['failure', 'failure', 'success', 'success']);
  assert.equal(rows[2][0], owner.uin);
  assert.match(rows[2][3], new RegExp(`to account ${owner.uin}`));
  assert.equal(rows[3][0], collab.uin);
});

test('a sub-user cannot switch developer; a removed collaboration ends the switched session at once', async () => {
  const owner = await signedUpClient('owner2');
  const collab = await signedUpClient('collab2');
  await owner.w.call('AddCollaborator', { CollaboratorUin: Number(collab.uin) });
  await owner.w.call('AttachUserPolicy', { PolicyId: 1, AttachUin: Number(collab.uin) });
  let r = await owner.w.call('AddUser', { Name: 'dev', ConsoleLogin: 1, Password: 'Sub-user-pw1!' });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  const sub = new WebClient(S.url);
  r = await sub.request('POST', '/console/login/subuser', { OwnerUin: owner.uin, UserName: 'dev', Password: 'Sub-user-pw1!' });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.deepEqual([r.resp.Kind, r.resp.OwnerUin, r.resp.UserName], ['sub_user', owner.uin, 'dev']);
  assert.deepEqual((await sub.request('GET', '/console/switch')).resp.Accounts, []);
  r = await sub.request('POST', '/console/switch', { OwnerUin: 0 }, { 'X-CSRF-Token': sub.csrf });
  assert.equal(r.error.Code, 'AuthFailure.UnauthorizedOperation');

  r = await collab.w.request('POST', '/console/switch', { OwnerUin: owner.uin }, { 'X-CSRF-Token': collab.w.csrf });
  assert.equal(r.error, undefined);
  assert.equal((await collab.w.call('ListGroups')).error, undefined);
  r = await owner.w.call('DeleteCollaborator', { CollaboratorUin: Number(collab.uin) });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  r = await collab.w.call('ListGroups');
  assert.equal(r.error.Code, 'AuthFailure.SessionInvalid');
  assert.match(r.error.Message, new RegExp(`account ${owner.uin} no longer has you as a collaborator`));
  assert.equal((await collab.w.session()).error.Code, 'AuthFailure.SessionInvalid');
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM sessions WHERE uin = ${collab.uin} AND owner_uin = ${owner.uin}`), 0);
  // Switching in again is refused now.
  const again = new WebClient(S.url);
  const email = sql(S.srv, `SELECT email FROM accounts WHERE uin = ${collab.uin}`)[0][0];
  assert.equal((await again.login(email, PASSWORD)).error, undefined);
  r = await again.request('POST', '/console/switch', { OwnerUin: owner.uin }, { 'X-CSRF-Token': again.csrf });
  assert.equal(r.error.Code, 'ResourceNotFound.UserNotExist');

  // A deleted sub-user's session ends too.
  r = await owner.w.call('DeleteUser', { Name: 'dev', Force: 1 });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  assert.equal((await sub.session()).error.Code, 'AuthFailure.SessionInvalid');
});

test('POST /console/login/subuser: wrong password, no console login, bad input, throttling', async () => {
  const owner = await signedUpClient('owner3');
  await owner.w.call('AddUser', { Name: 'ops', ConsoleLogin: 0 });
  await owner.w.call('AddUser', { Name: 'dev', ConsoleLogin: 1, Password: 'Sub-user-pw1!' });
  const w = new WebClient(S.url);
  const login = (body) => w.request('POST', '/console/login/subuser', body);
  let r = await login({ OwnerUin: owner.uin, UserName: 'ops', Password: 'Sub-user-pw1!' });
  assert.equal(r.error.Code, 'FailedOperation.LoginFailed', 'no console login');
  r = await login({ OwnerUin: owner.uin, UserName: 'nobody', Password: 'Sub-user-pw1!' });
  assert.equal(r.error.Code, 'FailedOperation.LoginFailed');
  r = await login({ OwnerUin: uinC, UserName: 'dev', Password: 'Sub-user-pw1!' });
  assert.equal(r.error.Code, 'FailedOperation.LoginFailed', 'another owner');
  for (const [body, code] of [
    [{ UserName: 'dev', Password: 'x' }, 'MissingParameter'],
    [{ OwnerUin: 'x1', UserName: 'dev', Password: 'x' }, 'InvalidParameterValue'],
    [{ OwnerUin: owner.uin, UserName: 'bad name!', Password: 'x' }, 'InvalidParameter.UserNameIllegal'],
    [{ OwnerUin: owner.uin, UserName: 'd'.repeat(65), Password: 'x' }, 'InvalidParameter.UserNameIllegal'],
    [{ OwnerUin: owner.uin, UserName: 'dev' }, 'MissingParameter'],
    [{ OwnerUin: owner.uin, UserName: 'dev', Password: 'p'.repeat(100000) }, 'FailedOperation.LoginFailed'],
  ]) {
    r = await login(body);
    assert.equal(r.error.Code, code, JSON.stringify(body).slice(0, 80));
  }
  r = await w.request('POST', '/console/login/subuser', 'not json');
  assert.equal(r.error.Code, 'InvalidParameter');
  // Repeated failures for one sub-user are throttled, even with the right
  // password, with Retry-After.
  let code = '';
  for (let i = 0; i < 12 && code !== 'RequestLimitExceeded.LoginThrottled'; i++) {
    r = await login({ OwnerUin: owner.uin, UserName: 'dev', Password: `Wrong-pw-${i}!` });
    code = r.error.Code;
  }
  assert.equal(code, 'RequestLimitExceeded.LoginThrottled');
  assert.ok(Number(r.headers.get('retry-after')) > 0);
  r = await login({ OwnerUin: owner.uin, UserName: 'dev', Password: 'Sub-user-pw1!' });
  assert.equal(r.error.Code, 'RequestLimitExceeded.LoginThrottled');
  assert.ok(sqlCount(S.srv, `SELECT COUNT(*) FROM audit_log WHERE action = 'cam.console_login' AND result = 'failure' AND owner_uin = ${owner.uin}`) >= 5);
});

/* ---- (a) the seed's §4 workaround, click by click ------------------------- */

test('§4: account A registered through a mini program cannot link a second one; the hint says why', async () => {
  await scanLogin(mp1.appid);
  uinA = await text('#uin');
  assert.equal(await text('#via'), '微信');
  await page.goto(`${S.url}/center`);
  await page.locator('#methods-card').waitFor({ state: 'visible' });
  await page.click('#link-start');
  await scanOnPhone(mp2.appid, '/wechat/authorized');
  await page.locator('#flow-error').waitFor({ state: 'visible' });
  assert.equal(await text('#flow-error-title'), '通过小程序注册的账号不能关联其他小程序');
  assert.equal(await text('#flow-error-code'), 'OperationDenied.MiniProgramRegisteredAccount');
  assert.match(await text('#flow-error-message'), /collaborator.*switch developer/s);
  await shot('a-refused');
});

test('§4 step 1–2: the WeChat button with the other mini program registers B; B copies its 账号 ID', async () => {
  await page.goto(`${S.url}/account`);
  await logout();
  await scanLogin(mp2.appid);
  await page.click('#copy-uin');
  await page.locator('#copy-status', { hasText: '已复制' }).waitFor();
  uinB = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(uinB, /^[1-9]\d{11}$/);
  assert.notEqual(uinB, uinA);
  assert.equal(await text('#uin'), uinB);
  await logout();
});

test('§4 step 3–5: A opens 访问管理 → 【新建用户】 with 登录账号 = B and 所有策略 (field errors first)', async () => {
  await scanLogin(mp1.appid);
  assert.equal(await text('#uin'), uinA);
  await page.click('.sidenav a[href="/cam/users"]');
  await page.waitForURL(`${S.url}/cam/users`);
  await page.locator('#list-card').waitFor({ state: 'visible' });
  assert.equal(await text('.sidenav [aria-current="page"]'), '用户');
  assert.equal(await text('h1'), '用户');
  assert.equal(await page.title(), '用户 · 访问管理 · Bindery 控制台');
  assert.equal(await page.isVisible('#users-empty'), true);
  await page.click('#create-user');
  await page.check('#kind-collab');
  assert.equal(await text('label[for="new-login-uin"]'), '登录账号');
  assert.match(await text('label:has(#perm-admin)'), /^所有策略/);
  assert.deepEqual(await untranslated(), []);
  assert.equal(await page.isVisible('#new-login-uin'), true);
  assert.equal(await page.isVisible('#new-name'), false);
  assert.equal(await page.isChecked('#perm-admin'), true, '所有策略 is the default');
  // Yourself, then an ID that is no account: errors at the field.
  for (const [value, code] of [[uinA, 'InvalidParameter.ParamError'], ['123456789012', 'InvalidParameter.UserNotExist'], ['abc', 'InvalidParameter']]) {
    await page.fill('#new-login-uin', value);
    await page.click('#wizard-submit');
    await page.locator('#new-login-uin-error').waitFor({ state: 'visible' });
    assert.match(await text('#new-login-uin-error'), new RegExp(code.replace('.', '\\.')), value);
    assert.equal(await page.getAttribute('#new-login-uin', 'aria-invalid'), 'true');
  }
  await shot('a-field-error');
  await page.fill('#new-login-uin', '');
  await page.focus('#new-login-uin');
  await page.keyboard.press('Control+V');
  assert.equal(await page.inputValue('#new-login-uin'), uinB, 'B\'s ID pasted from the clipboard');
  await page.click('#wizard-submit');
  await page.locator('#wizard-result').waitFor({ state: 'visible' });
  assert.match(await text('#wizard-result-text'), new RegExp(`协作者 .*（账号 ${uinB}）已添加`));
  await page.click('#wizard-done');
  const row = `tr.user-row[data-kind="collaborator"]`;
  await page.locator(row).waitFor();
  assert.equal(await text(`${row} td:nth-child(3)`), uinB);
  assert.equal(await text(`${row} td:nth-child(2)`), '协作者');
  await page.click(`${row} .act-open`);
  await page.locator('#detail').waitFor({ state: 'visible' });
  await page.locator('#detail-policies-body tr[data-policy="AdministratorAccess"]').waitFor();
  await shot('a-collaborator-detail');
  await logout();
});

test('§4 step 6: B signs in, 切换开发商 → A: the banner shows, B works inside A, then switches back', async () => {
  await scanLogin(mp2.appid);
  assert.equal(await page.isVisible('#collab-banner'), false);
  await openUserMenu();
  assert.equal(await text('#switch-title'), '切换开发商');
  const choice = `#switch-list .switch-to[data-owner="${uinA}"]`;
  await page.locator(choice).waitFor();
  assert.match(await text(choice), new RegExp(uinA));
  await shot('a-user-menu');
  await Promise.all([page.waitForEvent('load'), page.click(choice)]);
  await page.locator('#collab-banner').waitFor({ state: 'visible' });
  assert.equal(await text('#collab-banner-text'), `正在以协作者身份访问账号 ${uinA}`);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#uin'), uinB);
  assert.equal(await text('#kind'), '协作者');
  assert.equal(await text('#owner'), uinA);
  await shot('a-switched');

  // Inside A: A's linked mini program, checked with A's permissions.
  await page.click('.sidenav a[href="/center"]');
  await page.waitForURL(`${S.url}/center`);
  await page.locator(`tr.link-row[data-appid="${mp1.appid}"]`).waitFor();
  assert.equal(await page.locator(`tr.link-row[data-appid="${mp2.appid}"]`).count(), 0, 'B\'s own app is not A\'s');
  assert.equal(await text('#collab-banner-text'), `正在以协作者身份访问账号 ${uinA}`, 'the banner is on every page');
  await page.click(`tr.link-row[data-appid="${mp1.appid}"] .act-verify`);
  await page.locator('#notice-text', { hasText: '授权有效' }).waitFor();
  // And A's access management: B sees itself as A's collaborator and can
  // create a group there (AdministratorAccess).
  await page.goto(`${S.url}/cam/groups`);
  await page.locator('#list-card').waitFor({ state: 'visible' });
  await page.fill('#group-name', 'from-b');
  await page.click('#create-group');
  await page.locator('tr.group-row[data-group="from-b"]').waitFor();
  const a = new WebClient(S.url);
  a.cookies = new Map((await context.cookies()).map((c) => [c.name, c.value]));
  await a.session();
  assert.equal((await a.call('GetUserAppId')).resp.OwnerUin, uinA);

  // 【切换回自己的账号】
  await Promise.all([page.waitForEvent('load'), page.click('#switch-back')]);
  await page.locator('#list-card').waitFor({ state: 'visible' });
  assert.equal(await page.isVisible('#collab-banner'), false);
  assert.equal(await page.locator('tr.group-row[data-group="from-b"]').count(), 0, 'B\'s own account has no such group');
  await page.goto(`${S.url}/account`);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#kind'), '主账号');
  assert.equal(await page.isVisible('#owner-row'), false);
});

/* ---- (b) a collaborator with ReadOnlyAccess ------------------------------- */

test('a read-only collaborator sees the lists, and a create is refused with the denial message', async () => {
  let r = await C.call('AddCollaborator', { CollaboratorUin: Number(uinB) });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  r = await C.call('AttachUserPolicy', { PolicyId: 2, AttachUin: Number(uinB) }); // ReadOnlyAccess
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  r = await C.call('CreateGroup', { GroupName: 'c-team' });
  assert.equal(r.error, undefined);
  await page.goto(`${S.url}/cam/groups`);
  await page.locator('#list-card').waitFor({ state: 'visible' });
  await openUserMenu();
  const choice = `#switch-list .switch-to[data-owner="${uinC}"]`;
  await page.locator(choice).waitFor();
  assert.equal(await page.locator('#switch-list .switch-to').count(), 2, 'A and C');
  await Promise.all([page.waitForEvent('load'), page.click(choice)]);
  await page.locator('tr.group-row[data-group="c-team"]').waitFor();
  assert.equal(await text('#collab-banner-text'), `正在以协作者身份访问账号 ${uinC}`);
  await page.fill('#group-name', 'not-allowed');
  await page.click('#create-group');
  await page.locator('#page-error').waitFor({ state: 'visible' });
  assert.equal(await text('#page-error-title'), '没有权限');
  assert.equal(await text('#page-error-code'), 'AuthFailure.UnauthorizedOperation');
  assert.match(await text('#page-error-message'), DENIED);
  assert.equal(await page.locator('tr.group-row[data-group="not-allowed"]').count(), 0);
  await shot('b-denied');
  // The policies list is readable too.
  await page.goto(`${S.url}/cam/policies`);
  await page.locator('tr.policy-row[data-policy="AdministratorAccess"]').waitFor();
});

/* ---- (e) removing the collaborator while it is switched in ------------------ */

test('a removed collaborator\'s switched session stops working at once', async () => {
  const r = await C.call('DeleteCollaborator', { CollaboratorUin: Number(uinB) });
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  const cookies = new Map((await context.cookies()).map((c) => [c.name, c.value]));
  const b = new WebClient(S.url);
  b.cookies = cookies;
  // The page's next request: the session has ended; the page goes to login.
  await Promise.all([page.waitForURL(`${S.url}/`), page.click('.sidenav a[href="/cam/groups"]')]);
  assert.equal((await b.session()).error.Code, 'AuthFailure.SessionInvalid');
  assert.equal((await b.call('ListGroups')).error.Code, 'AuthFailure.SessionInvalid');
});

/* ---- (c) a sub-user created with the wizard signs in ------------------------- */

test('(c) C creates a sub-user with 【新建用户】; it signs in with 主账号 ID + name + password and is limited', async () => {
  const cpage = watch(await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage());
  await cpage.goto(`${S.url}/`);
  await cpage.fill('#email', 'cam.owner.c@example.com');
  await cpage.fill('#password', PASSWORD);
  await Promise.all([cpage.waitForURL(`${S.url}/account`), cpage.click('#submit')]);
  await cpage.goto(`${S.url}/cam/users`);
  await cpage.locator('#list-card').waitFor({ state: 'visible' });
  await cpage.click('#create-user');
  await cpage.fill('#new-name', 'bad name!');
  await cpage.click('#wizard-submit');
  await cpage.locator('#new-name-error').waitFor({ state: 'visible' });
  assert.match(await text('#new-name-error', cpage), /InvalidParameter\.UserNameIllegal/);
  await cpage.fill('#new-name', 'reader');
  await cpage.check('#pw-custom');
  await cpage.fill('#new-password', 'short');
  await cpage.click('#wizard-submit');
  await cpage.locator('#new-password-error').waitFor({ state: 'visible' });
  assert.match(await text('#new-password-error', cpage), /PasswordViolatedRules/);
  await cpage.fill('#new-password', 'Reader-pass-1!');
  await cpage.check('#perm-pick');
  await cpage.fill('#policy-filter', 'CamReadOnly');
  await cpage.check('#perm-policy-list input[data-name="QcloudCamReadOnlyAccess"]');
  await cpage.click('#wizard-submit');
  await cpage.locator('#wizard-result').waitFor({ state: 'visible' });
  assert.equal(await text('#created-login-link', cpage), `${S.url}/?owner=${uinC}`);
  // One without console login, for the refusal below.
  let r = await C.call('AddUser', { Name: 'apionly', ConsoleLogin: 0, UseApi: 1 });
  assert.equal(r.error, undefined);
  assert.match(r.resp.SecretId, /\S/);

  // The sub-user opens the login link: 子用户登录 with the owner filled in.
  await page.goto(`${S.url}/?owner=${uinC}`);
  assert.equal(await page.getAttribute('#mode-sub', 'aria-selected'), 'true');
  assert.equal(await page.inputValue('#sub-owner'), uinC);
  await page.fill('#sub-name', 'apionly');
  await page.fill('#sub-password', 'Reader-pass-1!');
  await page.click('#sub-submit');
  await page.locator('#sub-error').waitFor({ state: 'visible' });
  assert.equal(await text('#sub-error-code'), 'FailedOperation.LoginFailed');
  assert.equal(await text('#sub-error-title'), '主账号 ID、子用户名或密码错误');
  await page.fill('#sub-name', 'reader');
  await Promise.all([page.waitForURL(`${S.url}/account`), page.click('#sub-submit')]);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#kind'), '子用户');
  assert.equal(await text('#user-name'), 'reader');
  assert.equal(await text('#owner'), uinC);
  assert.equal(await text('#topbar-email'), 'reader');
  await openUserMenu();
  await page.locator('#switch-hint', { hasText: '子用户不能切换开发商。' }).waitFor();
  assert.equal(await page.locator('#switch-list .switch-to').count(), 0);
  // Its policy lets it read access management...
  await page.goto(`${S.url}/cam/users`);
  await page.locator('tr.user-row[data-name="reader"]').waitFor();
  // ...but not change it, nor read the account center's links.
  await page.click('tr.user-row[data-name="apionly"] .act-delete');
  await page.click('#cam-confirm-ok');
  await page.locator('#page-error').waitFor({ state: 'visible' });
  assert.match(await text('#page-error-message'), /not authorized to perform operation \(cam:DeleteUser\)/);
  await page.goto(`${S.url}/center`);
  await page.locator('#page-error').waitFor({ state: 'visible' });
  assert.equal(await text('#page-error-title'), '没有权限');
  assert.match(await text('#page-error-message'), /not authorized to perform operation \(wxlink:ListLinks\)/);
  await shot('c-sub-user-denied');
  await logout();
  // The owner, on the user's detail: attach a policy and join a group from
  // their lists; the account's state says both happened.
  const grp = await C.call('CreateGroup', { GroupName: 'ci-readers' });
  assert.equal(grp.error, undefined);
  await cpage.goto(`${S.url}/cam/users`);
  await cpage.click('tr.user-row[data-name="apionly"] .act-open');
  await cpage.locator('#attach-policy option[value="2"]').waitFor({ state: 'attached' });
  await cpage.selectOption('#attach-policy', '2'); // ReadOnlyAccess
  await cpage.click('#attach-policy-btn');
  await cpage.locator(`#join-group option[value="${grp.resp.GroupId}"]`).waitFor({ state: 'attached' });
  await cpage.selectOption('#join-group', String(grp.resp.GroupId));
  await cpage.click('#join-group-btn');
  await waitFor(async () => {
    const att = await C.call('ListAttachedUserPolicies', { TargetUin: Number(r.resp.Uin) });
    const mem = await C.call('ListUsersForGroup', { GroupId: grp.resp.GroupId });
    return att.resp.List.some((x) => x.PolicyName === 'ReadOnlyAccess') &&
      mem.resp.UserInfo.some((u) => u.Name === 'apionly');
  }, { what: 'the policy attached and the group joined from the detail' });
  await cpage.context().close();
});

/* ---- (d) the policy editor shows where a document is wrong ------------------- */

test('(d) a policy with a syntax error shows the line and column; the fixed one saves', async () => {
  await page.goto(`${S.url}/`);
  await page.click('#mode-root');
  await page.fill('#email', 'cam.owner.c@example.com');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${S.url}/account`), page.click('#submit')]);
  await page.goto(`${S.url}/cam/policies`);
  await page.locator('tr.policy-row[data-policy="AdministratorAccess"][data-type="preset"]').waitFor();
  await page.click('#create-policy');
  const bad = '{\n  "version": "2.0",\n  "statement": [\n    {\n      "effect": "allow"\n      "action": ["cam:ListGroups"],\n      "resource": ["*"]\n    }\n  ]\n}\n';
  // Where the server puts the error, asked directly.
  const direct = await C.call('CreatePolicy', { PolicyName: 'probe', PolicyDocument: bad });
  const [, line, column] = /line (\d+) column (\d+)/.exec(direct.error.Message);
  await page.fill('#policy-name', 'group-reader');
  await page.fill('#policy-doc', bad);
  await page.click('#policy-save');
  await page.locator('#doc-error').waitFor({ state: 'visible' });
  assert.equal(await text('#doc-error-at'), `第 ${line} 行，第 ${column} 列`);
  assert.equal(await page.getAttribute('#doc-error-at', 'data-line'), line);
  assert.equal(await text('#doc-error-code'), direct.error.Code);
  assert.equal(await text('#doc-error-line'), `${line} | ${bad.split('\n')[line - 1]}`);
  assert.equal(await page.getAttribute('#policy-doc', 'aria-invalid'), 'true');
  const caretLine = await page.evaluate(() => {
    const d = document.getElementById('policy-doc');
    return d.value.slice(0, d.selectionStart).split('\n').length;
  });
  assert.equal(caretLine, Number(line), 'the cursor is put on the reported line');
  await shot('d-syntax-error');
  // A semantic error too (unknown effect) is located.
  await page.fill('#policy-doc', bad.replace('"allow"\n', '"maybe",\n'));
  await page.click('#policy-save');
  await page.locator('#doc-error-code', { hasText: 'InvalidParameter.EffectError' }).waitFor();
  assert.match(await text('#doc-error-at'), /^第 5 行，第 \d+ 列$/);
  await page.fill('#policy-doc', bad.replace('"allow"\n', '"allow",\n'));
  await page.click('#policy-save');
  await page.locator('tr.policy-row[data-policy="group-reader"][data-type="custom"]').waitFor();
  assert.match(await text('#notice-text'), /已保存策略 group-reader/);
  await page.click('[data-lang="en"]');
  assert.equal(await text('tr.policy-row[data-policy="group-reader"] .tag'), 'Custom');
  assert.equal(await text('h1'), 'Policies');
  assert.deepEqual(await untranslated(), []);
  assert.equal(await text('.sidenav [aria-current="page"]'), 'Policies');
  await page.click('[data-lang="zh-CN"]');
});

test('API keys: the root creates one for itself (shown once), disables, deletes; the third is refused', async () => {
  await page.goto(`${S.url}/cam/keys`);
  await page.locator('#list-card').waitFor({ state: 'visible' });
  for (let i = 0; i < 2; i++) {
    await page.click('#create-key');
    await page.locator('#new-key').waitFor({ state: 'visible' });
    const id = await text('#new-secret-id');
    assert.match(await text('#new-secret-key'), /^\S{20,}$/);
    await page.locator(`tr.key-row[data-key="${id}"][data-status="Active"]`).waitFor();
    await page.click('#new-key-close');
  }
  await page.click('#create-key');
  await page.locator('#page-error-code', { hasText: 'OperationDenied.AccessKeyOverLimit' }).waitFor();
  const first = await page.getAttribute('tr.key-row >> nth=0', 'data-key');
  assert.equal(await page.locator(`tr.key-row[data-key="${first}"] .act-delete`).count(), 0, 'disable first');
  await page.click(`tr.key-row[data-key="${first}"] .act-toggle`);
  await page.locator(`tr.key-row[data-key="${first}"][data-status="Inactive"]`).waitFor();
  await page.click(`tr.key-row[data-key="${first}"] .act-delete`);
  await page.click('#cam-confirm-ok');
  await page.locator(`tr.key-row[data-key="${first}"]`).waitFor({ state: 'detached' });
  assert.equal(await page.locator('tr.key-row').count(), 1);
  // The sub-user's keys from its detail page.
  await page.goto(`${S.url}/cam/users`);
  await page.click('tr.user-row[data-name="apionly"] .act-open');
  await Promise.all([page.waitForURL(/\/cam\/keys\?uin=\d+/), page.click('#detail-keys')]);
  await page.locator('tr.key-row').first().waitFor();
  assert.match(await page.inputValue('#key-target'), /^\d{11}$/);
  assert.deepEqual(await untranslated(), []);
  for (const path of ['/cam/groups', '/account', '/center']) {
    await page.goto(`${S.url}${path}`);
    await page.locator('#loading').waitFor({ state: 'hidden' });
    assert.deepEqual(await untranslated(), [], path);
  }
  await shot('keys');
});

test('the pages raise no script errors, CSP violations or failed requests', () => {
  assert.deepEqual(problems, []);
});
