// The web console in a real browser (Debian's Chromium through
// playwright-core), against the real server: one user's way through sign-up,
// the account information page, the language switch, sign-out and sign-in.
// The tests run in order and share one browser profile, as one user would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer } from './lib/harness.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SCREENSHOT_DIR = process.env.BINDERY_SCREENSHOT_DIR || '';

const EMAIL = 'console.user@example.com';
const PASSWORD = 'a console password 1';

let srv;
let browser;
let context;
let page;
let uin;
// Whatever the pages log as errors (CSP violations, script errors) or
// fetch as a 4xx/5xx is a failure of the pages.
const problems = [];

before(async () => {
  srv = await startServer({ name: 'console' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.url });
  page = watch(await context.newPage());
});

function watch(p) {
  p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  p.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  p.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
  return p;
}

after(async () => {
  if (browser) await browser.close();
  if (srv) await srv.stop();
});

const text = async (selector) => (await page.textContent(selector)).trim();

// The session as the page's own browser sees it.
const sessionInPage = () => page.evaluate(async () => (await fetch('/console/session')).json());

async function shot(name) {
  if (SCREENSHOT_DIR) await page.screenshot({ path: `${SCREENSHOT_DIR}/bindery-${name}.png`, fullPage: true });
}

test('the login page is in Chinese by default and links to sign-up', async () => {
  await page.goto(`${srv.url}/`);
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await text('h1'), '登录');
  assert.equal(await text('label[for="email"]'), '邮箱');
  assert.equal(await page.getAttribute('[data-lang="zh-CN"]', 'aria-pressed'), 'true');
  await shot('login-zh');
  await page.click('#to-signup');
  await page.waitForURL(`${srv.url}/signup`);
  assert.equal(await text('h1'), '注册');
});

// Submits the form and resolves with the error the server answered.
async function submitExpectingError(endpoint) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${srv.url}${endpoint}`),
    page.click('#submit'),
  ]);
  const { Error: err } = (await res.json()).Response;
  assert.ok(err, 'the server refused the request');
  await page.locator('#form-error').waitFor({ state: 'visible' });
  return err;
}

test('sign-up with a too-short password shows the rules error', async () => {
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'short');
  const err = await submitExpectingError('/console/signup');
  assert.equal(err.Code, 'InvalidParameter.PasswordViolatedRules');
  assert.equal(await text('#form-error-title'), '密码不符合规则');
  assert.ok(err.Message, 'the server explains the rule');
  assert.equal(await text('#form-error-message'), err.Message);
  assert.equal(await text('#form-error-code'), 'InvalidParameter.PasswordViolatedRules');
  assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
  assert.equal(await page.isEnabled('#submit'), true, 'the button is usable again');
  assert.equal(page.url(), `${srv.url}/signup`);
  await shot('signup-error');
});

test('sign-up lands on 账号信息 with the 12-digit 账号 ID of the session', async () => {
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${srv.url}/account`), page.click('#submit')]);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('h1'), '账号信息');
  assert.equal(await text('.sidenav [aria-current="page"]'), '账号信息');
  uin = await text('#uin');
  assert.match(uin, /^[1-9]\d{11}$/);
  const s = await sessionInPage();
  assert.equal(s.Response.Uin, uin);
  assert.equal(await text('#email'), EMAIL);
  assert.equal(await text('#appid'), String(s.Response.AppId));
  assert.equal(await text('#via'), '邮箱');
  assert.equal(await text('#logout'), '退出登录');
});

test('复制 puts the 账号 ID on the clipboard', async () => {
  await page.click('#copy-uin');
  await page.locator('#copy-status', { hasText: '已复制' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), uin);
});

test('the English switch changes the texts and persists across reload', async () => {
  await page.click('[data-lang="en"]');
  assert.equal(await text('h1'), 'Account information');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.getAttribute('[data-lang="en"]', 'aria-pressed'), 'true');
  assert.equal(await text('#uin-label'), 'Account ID');
  assert.equal(await text('#logout'), 'Sign out');
  assert.equal(await text('#via'), 'Email');
  assert.equal(await page.title(), 'Account information · Bindery Console');
  await page.reload();
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('h1'), 'Account information');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await text('#uin'), uin);
  await shot('account-en');
  await page.setViewportSize({ width: 390, height: 760 });
  await shot('account-en-narrow');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click('[data-lang="zh-CN"]');
  await shot('account-zh');
  await page.click('[data-lang="en"]');
});

test('a signed-in visit to the login page goes to the account page', async () => {
  await page.goto(`${srv.url}/`);
  await page.waitForURL(`${srv.url}/account`);
  await page.locator('#account-card').waitFor({ state: 'visible' });
});

test('sign out returns to the login page, and /account then redirects to /', async () => {
  await Promise.all([page.waitForURL(`${srv.url}/`), page.click('#logout')]);
  assert.equal(await text('h1'), 'Sign in', 'still in English after sign-out');
  const s = await sessionInPage();
  assert.equal(s.Response.Error.Code, 'AuthFailure.SessionInvalid');
  await page.goto(`${srv.url}/account`);
  await page.waitForURL(`${srv.url}/`);
  assert.equal(await text('h1'), 'Sign in');
});

test('login with a wrong password shows the error', async () => {
  await page.fill('#email', EMAIL);
  await page.fill('#password', 'not the password');
  const err = await submitExpectingError('/console/login');
  assert.equal(err.Code, 'FailedOperation.LoginFailed');
  assert.equal(await text('#form-error-title'), 'Wrong email or password');
  assert.equal(await text('#form-error-message'), err.Message);
  assert.equal(await text('#form-error-code'), 'FailedOperation.LoginFailed');
  assert.equal(page.url(), `${srv.url}/`);
  await page.click('[data-lang="zh-CN"]');
  assert.equal(await text('#form-error-title'), '邮箱或密码错误', 'the shown error follows the language');
  await shot('login-error-zh');
  await page.click('[data-lang="en"]');
});

test('login with the right password shows the same 账号 ID', async () => {
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${srv.url}/account`), page.click('#submit')]);
  await page.locator('#account-card').waitFor({ state: 'visible' });
  assert.equal(await text('#uin'), uin);
  assert.equal(await text('#email'), EMAIL);
});

test('after too many failed logins the button waits out the time the server asks', async () => {
  // A fresh browser profile: Chinese again, and a different email, so that
  // the account above is not throttled.
  const other = await browser.newContext();
  try {
    const p = watch(await other.newPage());
    await p.goto(`${srv.url}/`);
    await p.fill('#email', 'nobody@example.com');
    let code = '';
    for (let i = 0; i < 10 && code !== 'RequestLimitExceeded.LoginThrottled'; i++) {
      await p.fill('#password', `wrong password ${i}`);
      const [res] = await Promise.all([
        p.waitForResponse((r) => r.url() === `${srv.url}/console/login`),
        p.click('#submit'),
      ]);
      code = (await res.json()).Response.Error.Code;
    }
    assert.equal(code, 'RequestLimitExceeded.LoginThrottled');
    await p.locator('#form-error-code', { hasText: code }).waitFor();
    assert.equal(await p.textContent('#form-error-title'), '登录失败次数过多，请稍后再试');
    assert.equal(await p.isDisabled('#submit'), true);
    assert.match(await p.textContent('#submit-label'), /^\d+ 秒后可重试$/);
    await p.waitForFunction(() => !document.getElementById('submit').disabled, null, { timeout: 30000 });
    assert.equal(await p.textContent('#submit-label'), '登录');
  } finally {
    await other.close();
  }
});

test('the pages raise no script errors, CSP violations or failed requests', () => {
  assert.deepEqual(problems, []);
});
