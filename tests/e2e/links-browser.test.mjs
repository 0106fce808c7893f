// The link pages in a real browser (Debian's Chromium through
// playwright-core), against `bindery serve` wired to `bindery platform`:
// 账号中心 【关联】 → WeChat's QR page (opened from Bindery's own page, so the
// emulator's Referer check passes) → the phone (the emulator's control API)
// → back to 账号中心; log out; scan-to-log-in; 【解绑】 with its confirmation;
// scanning again registers a new account; re-authorization from the login
// page and from 账号中心 after 停止授权. The tests run in order and share one
// browser, as one person would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { COMPONENT, startStack, newApp, waitFor } from './lib/stack.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SCREENSHOT_DIR = process.env.BINDERY_SCREENSHOT_DIR || '';
const EMAIL = 'links.browser@example.com';
const PASSWORD = 'a browser password 1';

let S;
let browser;
let page;
let app;
let uin;
let registeredUin;
const problems = [];

before(async () => {
  S = await startStack({ name: 'links_browser' });
  app = await newApp(S.ctl, { kind: 'mp', nick: 'Alice 的小程序' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
});

after(async () => {
  if (browser) await browser.close();
  if (S) assert.equal(await S.stop(), 0);
});

const text = async (selector) => (await page.textContent(selector)).trim();

async function shot(name) {
  if (SCREENSHOT_DIR) await page.screenshot({ path: `${SCREENSHOT_DIR}/bindery-links-${name}.png`, fullPage: true });
}

// On WeChat's QR page (reached from Bindery's page): the phone scans as the
// app's admin, picks the app, confirms; the QR page follows the redirect.
async function scanOnPhone(expectPath) {
  await page.waitForURL((u) => u.pathname === '/cgi-bin/componentloginpage', { timeout: 10000 });
  await page.waitForSelector('#qr svg');
  assert.equal(await page.locator('meta[name="emu-error"]').count(), 0, 'the Referer rule passed');
  const session = await page.getAttribute('#qr-status', 'data-poll');
  const r = await S.ctl.scan({ session, wxid: app.wxid, appid: app.appid });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.waitForURL((u) => u.origin === S.url && u.pathname === expectPath, { timeout: 15000 });
}

const linkRow = (appid) => `tr.link-row[data-appid="${appid}"]`;

test('sign up, open 账号中心: the row 微信公众平台登录 with 【关联】', async () => {
  await page.goto(`${S.url}/signup`);
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${S.url}/account`), page.click('#submit')]);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  uin = await text('#uin');
  await Promise.all([page.waitForURL(`${S.url}/center`), page.click('.sidenav a[href="/center"]')]);
  await page.locator('#methods-card').waitFor({ state: 'visible' });
  assert.equal(await text('h1'), '账号中心');
  assert.equal(await text('.sidenav [aria-current="page"]'), '账号中心');
  assert.equal(await text('#wechat-row .method-row__name'), '微信公众平台登录');
  assert.equal(await text('#link-start'), '关联');
  assert.equal(await page.isVisible('#links-empty'), true);
  await shot('center-empty');
});

test('【关联】 → WeChat QR page → phone → back: the app is listed, active, last verified shown', async () => {
  await page.click('#link-start');
  await scanOnPhone('/center');
  await page.locator(linkRow(app.appid)).waitFor();
  assert.equal(await text(`${linkRow(app.appid)} .badge`), '已关联');
  assert.match(await text(`${linkRow(app.appid)} .app-cell__name`), /Alice 的小程序/);
  assert.equal(await text(`${linkRow(app.appid)} .tag`), '小程序');
  assert.match(await text(`${linkRow(app.appid)} .time-line--verified`), /最近验证\s*\S/);
  assert.match(await text('#notice-text'), /已关联/);
  assert.equal(await text('#history-body tr:first-child td:nth-child(3)'), '关联');
  await shot('center-linked');
  await page.click('[data-lang="en"]');
  assert.equal(await text(`${linkRow(app.appid)} .badge`), 'Linked');
  assert.equal(await text('#wechat-row .method-row__name'), 'WeChat Official Platform sign-in');
  await page.click('[data-lang="zh-CN"]');
});

test('log out, then scan-to-log-in with 【微信公众号】 reaches the same account', async () => {
  await Promise.all([page.waitForURL(`${S.url}/`), page.click('#logout')]);
  assert.equal(await text('#wechat-login'), '微信公众号');
  await page.click('#wechat-login');
  await scanOnPhone('/account');
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#uin'), uin);
  assert.equal(await text('#email'), EMAIL);
});

test('【解绑】 asks first; then the link is unlinked and listed as such', async () => {
  await page.goto(`${S.url}/center`);
  await page.locator(linkRow(app.appid)).waitFor();
  await page.click(`${linkRow(app.appid)} .act-unlink`);
  await page.locator('#confirm-unlink').waitFor({ state: 'visible' });
  assert.match(await text('#confirm-title'), /解绑 Alice 的小程序？/);
  await shot('center-confirm');
  await page.click('#confirm-cancel');
  assert.equal(await text(`${linkRow(app.appid)} .badge`), '已关联', 'cancel changes nothing');
  await page.click(`${linkRow(app.appid)} .act-unlink`);
  await page.click('#confirm-ok');
  await page.locator(`${linkRow(app.appid)}[data-state="unlinked"]`).waitFor();
  assert.equal(await text(`${linkRow(app.appid)} .badge`), '已解绑');
  assert.match(await text('#notice-text'), /已解绑/);
  assert.equal(await page.locator(`${linkRow(app.appid)} .act-unlink`).count(), 0);
});

test('after 解绑, scanning with the same app registers a new account, shown with its 账号 ID', async () => {
  await Promise.all([page.waitForURL(`${S.url}/`), page.goto(`${S.url}/center`).then(() => page.click('#logout'))]);
  await page.click('#wechat-login');
  await scanOnPhone('/account');
  await page.locator('#account-card').waitFor({ state: 'visible' });
  registeredUin = await text('#uin');
  assert.match(registeredUin, /^[1-9]\d{11}$/);
  assert.notEqual(registeredUin, uin);
  assert.equal(await text('#via'), '微信');
  assert.equal(await text('#email'), '—');
  await shot('account-registered');
});

test('re-authorize from the login page after 停止授权: the same account comes back', async () => {
  await S.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
  await page.goto(`${S.url}/center`);
  await waitFor(async () => {
    await page.reload();
    await page.locator(linkRow(app.appid)).waitFor();
    return (await page.getAttribute(linkRow(app.appid), 'data-state')) === 'revoked';
  }, { what: 'the link to show revoked' });
  assert.equal(await text(`${linkRow(app.appid)} .badge`), '已停止授权');
  assert.match(await text(`${linkRow(app.appid)} .state-reason`), /停止授权/);
  assert.equal(await page.locator(`${linkRow(app.appid)} .act-reauthorize`).count(), 1);
  await shot('center-revoked');
  await page.click('#logout');
  await page.waitForURL(`${S.url}/`);
  await page.click('#wechat-login');
  await scanOnPhone('/account');
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#uin'), registeredUin, 'no new account');
  await page.goto(`${S.url}/center`);
  await page.locator(`${linkRow(app.appid)}[data-state="active"]`).waitFor();
});

test('re-authorize from 账号中心 (【重新授权】) after 停止授权', async () => {
  await S.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
  await waitFor(async () => {
    await page.reload();
    await page.locator(linkRow(app.appid)).waitFor();
    return (await page.getAttribute(linkRow(app.appid), 'data-state')) === 'revoked';
  }, { what: 'the link to show revoked' });
  await page.click(`${linkRow(app.appid)} .act-reauthorize`);
  await page.waitForURL((u) => u.pathname === '/cgi-bin/componentloginpage');
  assert.equal(new URL(page.url()).searchParams.get('biz_appid'), app.appid);
  await scanOnPhone('/center');
  await page.locator(`${linkRow(app.appid)}[data-state="active"]`).waitFor();
  assert.match(await text('#notice-text'), /已重新授权/);
  assert.deepEqual(problems, []);
});
