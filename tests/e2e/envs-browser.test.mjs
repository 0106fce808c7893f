// 开发环境 in Debian's Chromium (playwright-core), against `bindery serve`
// wired to the WeChat emulator, whose deployer runs the uploaded Node.js
// apps in the bubblewrap sandbox (docs/deploy.md "Console"): sign in, open
// 开发环境, 一键开通, versions uploaded through the API with an access key
// (TC3), then from the page: deploy v1 and watch its log reach SUCCEEDED,
// the app's reply through the proxy, deploy v2, 回滚 (a new job in the
// history), a failing version with its code and the app's output, a second
// job refused with ResourceInUse.Deploy and the running one 取消, the
// runtime log with the app's lines, 停止 → 503, and a link revoked on
// WeChat's side refusing with the re-authorize hint; both languages with no
// untranslated key; no script error, CSP violation or failed request. The
// tests run in order and share one browser, as one developer would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';
import { callApi } from './lib/tc3.mjs';
import { COMPONENT, startStack, WebClient, newApp, linkApp, linksOf, waitFor } from './lib/stack.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SCREENSHOT_DIR = process.env.BINDERY_SCREENSHOT_DIR || '';
const PASSWORD = 'an envs browser password 1';
const EMAIL = `envs.browser.${Date.now()}@example.com`;
// Short deploy time-outs so that failures happen within a test.
const STACK_ENV = {
  BINDERY_DEPLOY_HEALTH_TIMEOUT_MS: '2500',
  BINDERY_DEPLOY_START_TIMEOUT_MS: '15000',
  BINDERY_DEPLOY_DRAIN_GRACE_MS: '2000',
  BINDERY_DEPLOY_LEASE_MS: '3000',
};
const JOB_MS = 30000;

let S;
let browser;
let page;
let app;
let uin;
let call; // TC3-signed API calls with the account's access key
let envId;
const problems = [];

// The sandboxed stack when this kernel lets bubblewrap run; else (said
// loudly) with deploy.allow_unsandboxed.
async function startDeployStack() {
  let stack = await startStack({ name: 'envs_browser', env: STACK_ENV });
  const h = await (await fetch(`${stack.url}/healthz`)).json();
  if (h.sandbox !== 'bwrap') {
    console.log(`# SANDBOX UNAVAILABLE (${h.sandbox_reason}): the deploys run with deploy.allow_unsandboxed`);
    await stack.stop();
    stack = await startStack({ name: 'envs_browser', env: { ...STACK_ENV, BINDERY_DEPLOY_ALLOW_UNSANDBOXED: 'true' } });
  }
  return stack;
}

function watch(p) {
  p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  p.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  p.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
  return p;
}

before(async () => {
  S = await startDeployStack();
  app = await newApp(S.ctl, { kind: 'mp', nick: '部署的小程序' });
  const web = new WebClient(S.url);
  const r = await web.signup(EMAIL, PASSWORD);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  uin = r.resp.Uin;
  const l = await linkApp(S, web, app);
  assert.equal(l.error, undefined, JSON.stringify(l.body));
  const key = await S.srv.adminCreateAccessKey(uin);
  call = async (action, params = {}) => (await callApi(S.url, {
    action, version: '2026-11-01', params, secretId: key.SecretId, secretKey: key.SecretKey,
  })).body.Response;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // CSP violations, as the page itself sees them.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page = watch(await context.newPage());
});

after(async () => {
  if (browser) await browser.close();
  if (S) assert.equal(await S.stop(), 0);
});

const text = async (selector) => (await page.textContent(selector)).trim();

async function shot(name) {
  if (SCREENSHOT_DIR) await page.screenshot({ path: `${SCREENSHOT_DIR}/bindery-envs-${name}.png`, fullPage: true });
}

// Elements whose text is still their dictionary key: a text the page forgot.
const untranslated = () => page.evaluate(() => [...document.querySelectorAll('[data-i18n]')]
  .filter((e) => e.textContent.trim() === e.getAttribute('data-i18n')).map((e) => e.getAttribute('data-i18n')));

// A small Node.js backend: answers `reply`, /healthz with 200, logs the
// paths under /log/; listens after delayMs; exits with 3 at start when crash.
function nodeApp({ reply, delayMs = 0, crash = false }) {
  return {
    'package.json': JSON.stringify({ name: 'sample', main: 'server.js' }),
    'server.js': `const http = require('http');
${crash ? "console.error('boom: DATABASE_URL is not set'); process.exit(3);" : ''}
console.log(${JSON.stringify(`starting ${reply}`)});
const srv = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200); res.end('ok'); return; }
  if (req.url.startsWith('/log/')) console.log('hit ' + req.url);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(${JSON.stringify(reply)});
});
setTimeout(() => srv.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1'), ${delayMs});
`,
  };
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

// Uploads tree ({path: content}) as a tool does: manifest, missing blobs
// through their pre-signed URLs, commit. Returns the version number.
async function upload(tree, description) {
  const files = Object.entries(tree).map(([Path, body]) => ({
    Path, Sha256: sha(Buffer.from(body)), Size: Buffer.byteLength(body), Mode: 0o644,
  }));
  const u = await call('CreateUpload', { EnvId: envId, Files: files, Description: description });
  assert.equal(u.Error, undefined, JSON.stringify(u));
  const byHash = new Map(Object.values(tree).map((b) => [sha(Buffer.from(b)), b]));
  for (const m of u.MissingBlobs) {
    const r = await fetch(m.Url, { method: 'PUT', body: Buffer.from(byHash.get(m.Sha256)) });
    assert.equal(r.status, 200, await r.text());
  }
  const c = await call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'server.js' });
  assert.equal(c.Error, undefined, JSON.stringify(c));
  return c.Version;
}

async function replyOf(path = '/') {
  const res = await fetch(`${S.url}/env/${envId}${path}`);
  return { status: res.status, text: await res.text() };
}

// Runs start() (a click on the page) and waits for the job it creates with
// action to end; returns its DeployId and final state as the deploy log
// viewer shows them.
async function pageJob(action, start) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/console/api') &&
      r.request().headers()['x-tc-action'] === action),
    start(),
  ]);
  const body = await res.json();
  const id = body.Response.DeployId;
  assert.ok(id, JSON.stringify(body));
  assert.match(id, /^dep-[0-9a-f]{16}$/);
  await page.locator('#notice:not([hidden])', { hasText: id }).waitFor();
  await page.locator(`#deploy-log[data-deploy="${id}"][data-finished]`).waitFor({ timeout: JOB_MS });
  return { id, state: await page.getAttribute('#deploy-log', 'data-finished') };
}

async function deployFromPage(version) {
  await page.selectOption('#deploy-version', String(version));
  await page.locator('#act-deploy:not([disabled])').waitFor();
  return pageJob('CreateDeploy', () => page.click('#act-deploy'));
}

async function succeeded(job) {
  assert.equal((await job).state, 'SUCCEEDED', await text('#deploy-log'));
  return (await job).id;
}

test('sign in and open 开发环境 from the navigation; 一键开通 makes a READY environment', async () => {
  await page.goto(`${S.url}/`);
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${S.url}/account`), page.click('#submit')]);
  await Promise.all([page.waitForURL(`${S.url}/envs`), page.click('.sidenav a[href="/envs"]')]);
  await page.locator('#loading').waitFor({ state: 'hidden' });
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await text('h1'), '开发环境');
  assert.equal(await text('.sidenav [aria-current="page"]'), '开发环境');
  assert.equal(await text('#topbar-email'), EMAIL, 'the frame shows who is signed in');
  const card = `section.app-card[data-app="${app.appid}"]`;
  assert.match(await text(`${card} .card__title`), /部署的小程序/);
  assert.equal(await text(`${card} .card__empty`), '还没有环境。');
  assert.equal(await text(`${card} .act-create`), '一键开通');
  await page.click(`${card} .act-create`);
  await page.locator(`${card} tr.env-row[data-state="READY"]`).waitFor({ timeout: 20000 });
  envId = await page.getAttribute(`${card} tr.env-row`, 'data-env');
  assert.match(envId, /^dev-[a-z2-7]{6}$/);
  assert.equal(await text(`${card} tr.env-row .badge`), '运行就绪');
  const envs = await call('DescribeEnvironments', {});
  assert.deepEqual(envs.Environments.map((e) => e.EnvId), [envId]);
  await shot('created');
});

test('versions uploaded through the API are listed; deploy v1 from the page: the log reaches SUCCEEDED, the proxy answers', async () => {
  assert.equal(await upload(nodeApp({ reply: 'hello v1' }), 'first'), 1);
  assert.equal(await upload(nodeApp({ reply: 'hello v2' }), 'second'), 2);
  await Promise.all([page.waitForURL(`${S.url}/envs/${envId}`), page.click(`tr.env-row[data-env="${envId}"] .act-open`)]);
  await page.locator('#env-detail:not([hidden])').waitFor();
  await page.locator('tr.version-row[data-version="2"]').waitFor();
  assert.equal(await page.locator('tr.version-row').count(), 2);
  assert.equal(await text('tr.version-row[data-version="1"] td:nth-child(2)'), 'first');
  assert.equal(await text('#detail-title'), `环境 ${envId}`);
  assert.equal(await text('#rt-live'), '无（尚未部署）');
  assert.equal(await text('#rt-url'), `${S.url}/env/${envId}/`);
  assert.equal(await text('#deploys-empty'), '还没有部署过。');
  assert.equal(await page.isDisabled('#act-rollback'), true, 'nothing to roll back to yet');
  assert.equal(await page.isDisabled('#act-stop'), true, 'nothing to stop yet');
  assert.equal((await replyOf()).status, 503, 'no live version yet');

  const id = await succeeded(deployFromPage(1));
  const log = await text('#deploy-log');
  for (const step of ['VALIDATE', 'MATERIALIZE', 'START', 'HEALTHCHECK', 'SWITCH']) assert.match(log, new RegExp(step), log);
  assert.match(log, /version 1 is live/);
  assert.match(log, /job SUCCEEDED/);
  assert.match(await text('#deploy-log-status'), /成功/);
  assert.deepEqual(await replyOf(), { status: 200, text: 'hello v1' });
  await page.locator(`tr.deploy-row[data-deploy="${id}"][data-state="SUCCEEDED"]`).waitFor();
  await page.locator('#rt-process[data-state="RUNNING"]').waitFor();
  assert.match(await text('#rt-live'), /版本 1/);
  assert.equal(await text('#rt-restarts'), '0');
  assert.match(await text('tr.version-row[data-version="1"]'), /线上/);
  await shot('deployed-v1');
});

test('the runtime log shows the app\'s lines and follows new ones', async () => {
  await page.locator('#runtime-log', { hasText: 'starting hello v1' }).waitFor({ timeout: 10000 });
  assert.equal(await page.getAttribute('#runtime-log', 'role'), 'log');
  assert.ok(await page.isChecked('#runtime-follow'));
  assert.equal((await replyOf('/log/from-the-test')).status, 200);
  await page.locator('#runtime-log', { hasText: 'hit /log/from-the-test' }).waitFor({ timeout: 15000 });
});

test('deploy v2, then 回滚: a new rollback job in the history, the old reply again', async () => {
  await succeeded(deployFromPage(2));
  assert.deepEqual(await replyOf(), { status: 200, text: 'hello v2' });
  await page.locator('#rt-live', { hasText: '版本 2' }).waitFor();
  assert.match(await text('#rt-live'), /上一个：1/);
  const id = await succeeded(pageJob('RollbackEnvironment', () => page.click('#act-rollback')));
  assert.deepEqual(await replyOf(), { status: 200, text: 'hello v1' });
  const row = `tr.deploy-row[data-deploy="${id}"]`;
  await page.locator(`${row}[data-state="SUCCEEDED"]`).waitFor();
  assert.equal(await page.getAttribute(row, 'data-kind'), 'rollback');
  assert.equal(await text(`${row} .deploy-versions`), 'v2 → v1');
  assert.equal(await text(`${row} .app-cell__name`), '回滚');
  assert.equal(await page.locator('tr.deploy-row').count(), 3);
  const history = await call('DescribeDeploys', { EnvId: envId });
  assert.deepEqual(history.Deploys.map((d) => d.Kind), ['rollback', 'deploy', 'deploy']);
});

test('a version that crashes at start: FAILED at START with its code and the app\'s output; v1 still serves', async () => {
  assert.equal(await upload(nodeApp({ reply: 'never', crash: true }), 'crashes'), 3);
  await page.click('#detail-refresh');
  await page.locator('tr.version-row[data-version="3"]').waitFor();
  const { id, state } = await deployFromPage(3);
  assert.equal(state, 'FAILED');
  assert.match(await text('#deploy-log'), /START_CRASHED at step START/);
  assert.match(await text('#deploy-log'), /boom: DATABASE_URL is not set/);
  assert.match(await text('#deploy-log-status'), /失败 \(START_CRASHED\)/);
  const row = `tr.deploy-row[data-deploy="${id}"]`;
  await page.locator(`${row}[data-state="FAILED"]`).waitFor();
  assert.equal(await text(`${row} .deploy-code`), 'START_CRASHED');
  assert.match(await text(`${row} .deploy-error`), /boom: DATABASE_URL is not set/);
  assert.match(await text(`${row} .deploy-result`), /步骤 START/);
  assert.deepEqual(await replyOf(), { status: 200, text: 'hello v1' });
  await shot('failed');
});

test('a second job while one runs: ResourceInUse.Deploy with the server\'s message; 取消 cancels the running one', async () => {
  assert.equal(await upload(nodeApp({ reply: 'slow', delayMs: 8000 }), 'slow'), 4);
  await page.click('#detail-refresh');
  await page.locator('tr.version-row[data-version="4"]').waitFor();
  await page.selectOption('#deploy-version', '2');
  // Right after the page's own runtime poll, so it cannot have seen the job.
  await page.waitForResponse((r) => r.url().endsWith('/console/api') &&
    r.request().headers()['x-tc-action'] === 'DescribeEnvironmentRuntime', { timeout: 10000 });
  const slow = await call('CreateDeploy', { EnvId: envId, Version: 4 });
  assert.equal(slow.Error, undefined, JSON.stringify(slow));
  await page.click('#act-deploy');
  await page.locator('#page-error:not([hidden])').waitFor();
  assert.equal(await text('#page-error-code'), 'ResourceInUse.Deploy');
  assert.equal(await text('#page-error-title'), '该环境已有任务在进行');
  assert.match(await text('#page-error-message'), new RegExp(slow.DeployId), 'the server\'s message names the running job');
  await page.locator('#act-cancel:not([hidden])').waitFor();
  assert.equal(await page.isDisabled('#act-deploy'), true, 'no second job while one runs');
  await page.click(`tr.deploy-row[data-deploy="${slow.DeployId}"] .act-log`);
  await page.click('#act-cancel');
  await page.locator(`#deploy-log[data-deploy="${slow.DeployId}"][data-finished]`).waitFor({ timeout: JOB_MS });
  assert.equal(await page.getAttribute('#deploy-log', 'data-finished'), 'CANCELED');
  assert.match(await text('#deploy-log'), /CANCELED/);
  await page.locator(`tr.deploy-row[data-deploy="${slow.DeployId}"][data-state="CANCELED"]`).waitFor();
  await page.locator('#act-cancel').waitFor({ state: 'hidden' });
  assert.deepEqual(await replyOf(), { status: 200, text: 'hello v1' });
});

test('停止 (after its confirmation) stops the app: the proxy answers 503', async () => {
  const id = await succeeded(pageJob('StopEnvironment', async () => {
    await page.click('#act-stop');
    await page.locator('#envs-confirm[open]').waitFor();
    assert.match(await text('#envs-confirm-text'), new RegExp(envId));
    await page.click('#envs-confirm-ok');
  }));
  assert.equal(await page.getAttribute(`tr.deploy-row[data-deploy="${id}"]`, 'data-kind'), 'stop');
  assert.equal((await replyOf()).status, 503);
  await page.locator('#rt-process[data-state="NONE"]').waitFor();
  assert.equal(await text('#rt-live'), '版本 1（已停止）');
  assert.equal(await page.isDisabled('#act-stop'), true, 'nothing to stop');
  assert.equal(await page.isDisabled('#act-restart'), false, '重启 starts it again');
});

test('in English: every text translated, the history and the logs too; back in Chinese the same', async () => {
  await page.click('[data-lang="en"]');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await text('h1'), 'Environments');
  assert.equal(await text('#deploys-title'), 'Deploy history');
  assert.equal(await text('#act-rollback'), 'Roll back');
  assert.match(await text('tr.deploy-row[data-kind="rollback"] .app-cell__name'), /Rollback/);
  assert.match(await text('#deploy-log-status'), /Succeeded/);
  assert.match(await text('#notice-text'), /^Job dep-[0-9a-f]{16} \(Stop\) created\.$/, 'texts with values are redrawn too');
  assert.doesNotMatch(await text('#env-detail'), /[\u4e00-\u9fff]/, 'no Chinese left in the deploy console');
  assert.deepEqual(await untranslated(), []);
  await shot('english');
  // A reload keeps the language and the chosen environment.
  await page.reload();
  await page.locator('#env-detail:not([hidden])').waitFor();
  await page.locator('tr.deploy-row').first().waitFor();
  assert.equal(await text('#detail-title'), `Environment ${envId}`);
  assert.equal(await text('.sidenav [aria-current="page"]'), 'Environments');
  assert.deepEqual(await untranslated(), []);
  await page.click('[data-lang="zh-CN"]');
  assert.equal(await text('#deploys-title'), '部署记录');
  assert.deepEqual(await untranslated(), []);
});

test('a link revoked on WeChat\'s side: 部署 is refused with the code, the message and the re-authorize hint', async () => {
  await S.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
  const web = new WebClient(S.url);
  await web.login(EMAIL, PASSWORD);
  await waitFor(async () => ((await linksOf(web))[app.appid] || {}).State === 'revoked', { what: 'the link to be revoked' });
  await page.selectOption('#deploy-version', '1');
  await page.click('#act-deploy');
  await page.locator('#page-error:not([hidden])').waitFor();
  assert.equal(await text('#page-error-code'), 'FailedOperation.WechatAuthorizationRevoked');
  assert.equal(await text('#page-error-title'), '小程序已停止授权');
  assert.match(await text('#page-error-message'), /re-authorize/);
  assert.equal(await page.isVisible('#page-error-hint'), true);
  assert.equal(await page.getAttribute('#page-error-hint a', 'href'), '/center');
  assert.equal((await replyOf()).status, 503, 'nothing was started');
  await shot('revoked');
});

test('the devices page is on the same frame, and no page raised script errors, CSP violations or failed requests', async () => {
  await page.click('.sidenav a[href="/devices"]');
  await page.waitForURL(`${S.url}/devices`);
  await page.locator('#devices-card:not([hidden])').waitFor();
  assert.equal(await text('.sidenav [aria-current="page"]'), '开发者工具');
  assert.equal(await text('#topbar-email'), EMAIL);
  assert.equal(await page.locator('header.topbar').count(), 1, 'one top bar, the frame\'s');
  assert.deepEqual(await untranslated(), []);
  assert.deepEqual(problems, []);
});
