// Login for developer tools (docs/devtools.md), end to end: the real CLI
// binary (`bindery login/whoami/console/logout`) as a child process against
// `bindery serve`; the RFC 8628 device flow by hand (pending, slow_down,
// denied, expired, single use); refresh-token rotation and reuse revoking
// the whole device; the temporary credentials with the official Node SDK
// (good, wrong token, no token, expired, revoked); console sign-in links
// (once, never twice, not after their lifetime, allow-list, asks before
// switching principals, code gone from the final URL); one approval and one
// console link in Chromium; wrong user codes throttled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CommonClient } from 'tencentcloud-sdk-nodejs/tencentcloud/common/common_client.js';
import tencentcloud from 'tencentcloud-sdk-nodejs';
import { BIN, startServer, ConsoleClient } from './lib/harness.mjs';
import { freePort, sleep, waitFor, startStack, newApp } from './lib/stack.mjs';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const PASSWORD = 'a devtools password 1';
const CODE_RE = /[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/;

let main; // default lifetimes, 1 s poll interval, 3 wrong codes before back-off
let short; // 2 s credentials and console links, 4 s device codes
const homes = [];

async function startTools(name, env) {
  const port = await freePort();
  const srv = await startServer({
    name,
    args: ['--listen', `127.0.0.1:${port}`],
    env: {
      BINDERY_PUBLIC_URL: `http://127.0.0.1:${port}`,
      BINDERY_PASSWORD_MEMORY_KIB: '64',
      BINDERY_PASSWORD_ITERATIONS: '1',
      BINDERY_TOOLS_POLL_INTERVAL: '1',
      ...env,
    },
  });
  return srv;
}

before(async () => {
  main = await startTools('tools', { BINDERY_TOOLS_MAX_CODE_FAILURES: '3' });
  short = await startTools('toolsshort', {
    BINDERY_TOOLS_CREDENTIAL_TTL: '2',
    BINDERY_TOOLS_CONSOLE_LINK_TTL: '2',
    BINDERY_TOOLS_DEVICE_CODE_TTL: '4',
  });
});

after(async () => {
  for (const h of homes) await rm(h, { recursive: true, force: true });
  await main.stop();
  await short.stop();
});

// A fresh account signed in to the console.
let accountSeq = 0;
async function signedIn(srv) {
  accountSeq += 1;
  const email = `dev${accountSeq}@example.com`;
  const uin = await srv.adminCreateAccount(email, PASSWORD);
  const c = new ConsoleClient(srv.url);
  const r = await c.login(email, PASSWORD);
  assert.equal(r.body.Response.Uin, uin);
  return { c, uin, email };
}

async function newHome() {
  const h = await mkdtemp(join(tmpdir(), 'bindery-cli-'));
  homes.push(h);
  return h;
}

function cliEnv(home) {
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.BINDERY_SERVER;
  return env;
}

// Runs the CLI to completion: { code, stdout, stderr }.
function cli(home, args) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// Starts `bindery login`; .code() resolves with the user code it shows,
// .done with { code, stdout, stderr } when it exits.
function startLogin(home, srv, extra = ['--no-qr']) {
  const p = spawn(BIN, ['login', '--server', srv.url, ...extra], { env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d) => { out.stdout += d; });
  p.stderr.on('data', (d) => { out.stderr += d; });
  const done = new Promise((resolve) => p.on('exit', (code) => resolve({ code, ...out })));
  return {
    proc: p,
    out,
    done,
    code: () => waitFor(() => { const m = CODE_RE.exec(out.stdout); return m && m[0]; }, { what: 'the user code' }),
  };
}

const credPath = (home) => join(home, 'config', 'bindery', 'credentials');
const readCreds = async (home) => JSON.parse(await readFile(credPath(home), 'utf8'));

// A complete CLI login approved through the console API.
async function cliLogin(srv, user) {
  const home = await newHome();
  const login = startLogin(home, srv);
  const code = await login.code();
  const r = await user.c.call('ApproveDeviceAuthorization', { UserCode: code });
  assert.equal(r.body.Response.Result, 'Approved', JSON.stringify(r.body));
  const res = await login.done;
  assert.equal(res.code, 0, res.stderr);
  return home;
}

// The device flow by hand: form-encoded POSTs.
async function form(srv, path, fields, headers = {}) {
  const res = await fetch(srv.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const poll = (srv, deviceCode, clientId = 'tool-e2e') =>
  form(srv, '/oauth/token', { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });

// Device authorization + approval + exchange, by hand: the token response.
async function tokensFor(srv, user, clientId = 'tool-e2e') {
  const da = await form(srv, '/oauth/device_authorization', { client_id: clientId, scope: 'bindery' });
  assert.equal(da.status, 200);
  const ok = await user.c.call('ApproveDeviceAuthorization', { UserCode: da.body.user_code });
  assert.equal(ok.body.Response.Result, 'Approved', JSON.stringify(ok.body));
  const t = await poll(srv, da.body.device_code, clientId);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body;
}

function sdk(srv, cred, service = 'cam', version = '2019-01-16') {
  return new CommonClient(`${service}.tencentcloudapi.com`, version, {
    credential: cred,
    region: '',
    profile: { httpProfile: { endpoint: `127.0.0.1:${srv.port}`, protocol: 'http://', reqTimeout: 10 } },
  });
}

const tmpCred = (t) => ({ secretId: t.Credentials.TmpSecretId, secretKey: t.Credentials.TmpSecretKey, token: t.Credentials.Token });

async function sdkError(promise) {
  try {
    await promise;
  } catch (e) {
    return e.code;
  }
  assert.fail('the call succeeded');
}

// ---------------------------------------------------------------------------

test('bindery login: device flow approved in the console, credentials 0600, whoami', async () => {
  const user = await signedIn(main);
  const home = await newHome();
  const login = startLogin(home, main, []); // with the QR code
  const code = await login.code();
  assert.match(login.out.stdout, new RegExp(`${main.url}/device`));
  assert.match(login.out.stdout, /[\u2580\u2584\u2588]{10,}/, 'a QR code drawn with half blocks');
  // Pending: the CLI keeps polling while nobody approves.
  await sleep(2500);
  assert.equal(login.proc.exitCode, null, 'the CLI waits for the approval');
  // The console shows what asks, from where, for which account.
  const d = await user.c.call('DescribeDeviceAuthorization', { UserCode: code.toLowerCase() });
  const req = d.body.Response;
  assert.equal(req.UserCode, code);
  assert.equal(req.ClientId, 'bindery-cli');
  assert.equal(req.SourceIp, '127.0.0.1');
  assert.equal(req.Scope, 'bindery');
  assert.match(req.UserAgent, /^bindery-cli\//);
  assert.equal(req.Account.OwnerUin, user.uin);
  assert.ok(req.RequestedAt && req.ExpiresAt);
  const r = await user.c.call('ApproveDeviceAuthorization', { UserCode: code });
  assert.equal(r.body.Response.Result, 'Approved');
  const res = await login.done;
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, new RegExp(`Logged in to ${main.url} as uin ${user.uin}`));

  const st = await stat(credPath(home));
  assert.equal(st.mode & 0o777, 0o600, 'credentials file mode');
  assert.equal((await stat(join(home, 'config', 'bindery'))).mode & 0o777, 0o700);
  const creds = await readCreds(home);
  assert.equal(creds.server, main.url);
  assert.match(creds.tmp_secret_id, /^AKID[A-Za-z0-9]{44}$/);
  assert.equal(creds.uin, user.uin);

  const who = await cli(home, ['whoami', '--json']);
  assert.equal(who.code, 0, who.stderr);
  const w = JSON.parse(who.stdout);
  assert.equal(w.Uin, user.uin);
  assert.equal(w.OwnerUin, user.uin);
  assert.equal(w.DeviceId, creds.device_id);

  // Approving the same code again is refused.
  const again = await user.c.call('ApproveDeviceAuthorization', { UserCode: code });
  assert.equal(again.body.Response.Error.Code, 'FailedOperation.DeviceAlreadyDecided');

  // Logging in again replaces the login: the previous device is revoked.
  const relogin = startLogin(home, main);
  await user.c.call('ApproveDeviceAuthorization', { UserCode: await relogin.code() });
  const res2 = await relogin.done;
  assert.equal(res2.code, 0, res2.stderr);
  assert.match(res2.stdout, new RegExp(`previous login \\(device ${creds.device_id}\\) was revoked`));
  const devices = (await user.c.call('DescribeDevices')).body.Response.Devices;
  assert.equal(devices.find((x) => x.DeviceId === creds.device_id).State, 'Revoked');
  const now = await readCreds(home);
  assert.equal(devices.find((x) => x.DeviceId === now.device_id).State, 'Active');
});

test('the token endpoint: pending, slow_down (+5 s), approval once, then invalid_grant', async () => {
  const user = await signedIn(main);
  const da = await form(main, '/oauth/device_authorization', { client_id: 'tool-e2e', scope: 'bindery' });
  assert.equal(da.status, 200);
  assert.equal(da.headers.get('cache-control'), 'no-store');
  assert.match(da.body.user_code, new RegExp(`^${CODE_RE.source}$`));
  assert.equal(da.body.expires_in, 600);
  assert.equal(da.body.interval, 1);
  assert.equal(da.body.verification_uri, `${main.url}/device`);
  assert.equal(da.body.verification_uri_complete, `${main.url}/device?user_code=${da.body.user_code}`);
  assert.equal(da.body.device_code.length, 43);

  let p = await poll(main, da.body.device_code);
  assert.equal(p.status, 400);
  assert.equal(p.body.error, 'authorization_pending');
  assert.equal(p.headers.get('cache-control'), 'no-store');
  p = await poll(main, da.body.device_code);
  assert.equal(p.body.error, 'slow_down');
  assert.equal(p.body.interval, 6);
  await sleep(2100); // < 6 s: still too fast
  p = await poll(main, da.body.device_code);
  assert.equal(p.body.error, 'slow_down');
  assert.equal(p.body.interval, 11);

  await user.c.call('ApproveDeviceAuthorization', { UserCode: da.body.user_code });
  await sleep(1000);
  p = await poll(main, da.body.device_code, 'another-tool');
  assert.equal(p.body.error, 'invalid_grant', 'the code belongs to its client_id');
  await sleep(11000);
  p = await poll(main, da.body.device_code);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.headers.get('cache-control'), 'no-store');
  assert.equal(p.body.expires_in, 7200);
  assert.equal(p.body.access_token, p.body.Credentials.Token);
  assert.ok(p.body.refresh_token && p.body.Credentials.TmpSecretId && p.body.Credentials.TmpSecretKey);
  assert.equal(p.body.Uin, user.uin);
  await sleep(1000);
  p = await poll(main, da.body.device_code);
  assert.equal(p.status, 400);
  assert.equal(p.body.error, 'invalid_grant', 'a device code is exchanged once');
});

test('the token endpoint: denied, bad requests in RFC 6749 §5.2 shape', async () => {
  const user = await signedIn(main);
  const da = await form(main, '/oauth/device_authorization', { client_id: 'tool-e2e' });
  const d = await user.c.call('DenyDeviceAuthorization', { UserCode: da.body.user_code });
  assert.equal(d.body.Response.Result, 'Denied');
  const p = await poll(main, da.body.device_code);
  assert.equal(p.status, 400);
  assert.equal(p.body.error, 'access_denied');

  const cases = [
    [{ client_id: 'tool-e2e', grant_type: 'password' }, 'unsupported_grant_type'],
    [{ client_id: 'tool-e2e' }, 'invalid_request'],
    [{ client_id: 'tool-e2e', grant_type: DEVICE_GRANT }, 'invalid_request'],
    [`grant_type=${encodeURIComponent(DEVICE_GRANT)}&device_code=a&device_code=b&client_id=x`, 'invalid_request'],
    [{ client_id: 'tool-e2e', grant_type: DEVICE_GRANT, device_code: 'x'.repeat(43) }, 'invalid_grant'],
    [{ client_id: 'tool-e2e', grant_type: 'refresh_token', refresh_token: 'nope' }, 'invalid_grant'],
  ];
  for (const [fields, error] of cases) {
    const r = await form(main, '/oauth/token', fields);
    assert.equal(r.status, 400, JSON.stringify(fields));
    assert.equal(r.body.error, error, JSON.stringify(fields));
    assert.equal(typeof r.body.error_description, 'string');
  }
  const json = await fetch(`${main.url}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(json.status, 400);
  assert.equal((await json.json()).error, 'invalid_request');
  for (const bad of ['', 'a b', 'x'.repeat(65), 'tool/../x']) {
    const r = await form(main, '/oauth/device_authorization', { client_id: bad });
    assert.equal(r.body.error, 'invalid_request', `client_id ${JSON.stringify(bad)}`);
  }
  const huge = await form(main, '/oauth/device_authorization', { client_id: 'x', scope: 's'.repeat(10000) });
  assert.equal(huge.body.error, 'invalid_request');
});

test('approving needs a signed-in console user: not through the API, not cross-site', async () => {
  const user = await signedIn(main);
  const t = await tokensFor(main, user);
  const da = await form(main, '/oauth/device_authorization', { client_id: 'tool-e2e' });
  const client = sdk(main, tmpCred(t), 'bindery', '2026-11-01');
  assert.equal(await sdkError(client.request('ApproveDeviceAuthorization', { UserCode: da.body.user_code })),
    'UnsupportedOperation.ConsoleOnly');
  const noCsrf = await user.c.request('/console/api', { UserCode: da.body.user_code },
    { 'X-TC-Action': 'ApproveDeviceAuthorization', 'X-CSRF-Token': 'wrong' });
  assert.equal(noCsrf.body.Response.Error.Code, 'AuthFailure.CsrfTokenInvalid');
  const anon = new ConsoleClient(main.url);
  const r = await anon.call('ApproveDeviceAuthorization', { UserCode: da.body.user_code });
  assert.equal(r.body.Response.Error.Code, 'AuthFailure.SessionInvalid');
  const p = await poll(main, da.body.device_code);
  assert.equal(p.body.error, 'authorization_pending');
});

test('temporary credentials with the official SDK: good, wrong token, no token, revoked', async () => {
  const user = await signedIn(main);
  const t = await tokensFor(main, user);
  const cred = tmpCred(t);
  const who = await sdk(main, cred).request('GetUserAppId', {});
  assert.equal(who.Uin, user.uin);
  assert.equal(who.OwnerUin, user.uin);
  const devices = await sdk(main, cred, 'bindery', '2026-11-01').request('DescribeDevices', {});
  const mine = devices.Devices.find((d) => d.DeviceId === t.device_id);
  assert.equal(mine.State, 'Active');
  assert.equal(mine.ClientId, 'tool-e2e');

  assert.equal(await sdkError(sdk(main, { ...cred, token: `${cred.token.slice(0, -1)}x` }).request('GetUserAppId', {})),
    'AuthFailure.TokenFailure');
  assert.equal(await sdkError(sdk(main, { ...cred, token: undefined }).request('GetUserAppId', {})),
    'AuthFailure.TokenFailure');
  // Another device's token does not go with this SecretId.
  const other = await tokensFor(main, user);
  assert.equal(await sdkError(sdk(main, { ...cred, token: other.Credentials.Token }).request('GetUserAppId', {})),
    'AuthFailure.TokenFailure');
  assert.equal(await sdkError(sdk(main, { ...cred, secretKey: 'x'.repeat(40) }).request('GetUserAppId', {})),
    'AuthFailure.SignatureFailure');

  // Revoked from the console's devices list: dead at once, refresh too.
  const rv = await user.c.call('RevokeDevice', { DeviceId: t.device_id });
  assert.equal(rv.body.Response.DeviceId, t.device_id);
  assert.equal(await sdkError(sdk(main, cred).request('GetUserAppId', {})), 'AuthFailure.SecretIdNotFound');
  const r = await form(main, '/oauth/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'tool-e2e' });
  assert.equal(r.body.error, 'invalid_grant');
  // The other device is untouched.
  assert.equal((await sdk(main, tmpCred(other)).request('GetUserAppId', {})).Uin, user.uin);
  const list = (await user.c.call('DescribeDevices')).body.Response.Devices;
  assert.equal(list.find((d) => d.DeviceId === t.device_id).State, 'Revoked');
  // Someone else's device is not found in this account.
  const stranger = await signedIn(main);
  const nf = await stranger.c.call('RevokeDevice', { DeviceId: other.device_id });
  assert.equal(nf.body.Response.Error.Code, 'ResourceNotFound.Device');
});

test('temporary credentials expire (TokenFailure) and the refresh token renews them', async () => {
  const user = await signedIn(short);
  const t = await tokensFor(short, user);
  assert.equal(t.expires_in, 2);
  assert.equal((await sdk(short, tmpCred(t)).request('GetUserAppId', {})).Uin, user.uin);
  await sleep(2500);
  assert.equal(await sdkError(sdk(short, tmpCred(t)).request('GetUserAppId', {})), 'AuthFailure.TokenFailure');
  const r = await form(short, '/oauth/token', { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: 'tool-e2e' });
  assert.equal(r.status, 200);
  assert.equal((await sdk(short, tmpCred(r.body)).request('GetUserAppId', {})).Uin, user.uin);
});

test('refresh tokens rotate; a reused one revokes the whole device', async () => {
  const user = await signedIn(main);
  const t1 = await tokensFor(main, user);
  const refresh = (rt, clientId = 'tool-e2e') => form(main, '/oauth/token', { grant_type: 'refresh_token', refresh_token: rt, client_id: clientId });
  const r2 = await refresh(t1.refresh_token);
  assert.equal(r2.status, 200);
  assert.notEqual(r2.body.refresh_token, t1.refresh_token);
  assert.equal(r2.body.device_id, t1.device_id);
  assert.equal((await refresh(r2.body.refresh_token, 'another-tool')).body.error, 'invalid_grant');
  const r3 = await refresh(r2.body.refresh_token);
  assert.equal(r3.status, 200);
  assert.equal((await sdk(main, tmpCred(r3.body)).request('GetUserAppId', {})).Uin, user.uin);
  // t1's refresh token, used a second time: the device ends.
  const reuse = await refresh(t1.refresh_token);
  assert.equal(reuse.status, 400);
  assert.equal(reuse.body.error, 'invalid_grant');
  assert.match(reuse.body.error_description, /already used/);
  assert.equal(await sdkError(sdk(main, tmpCred(r3.body)).request('GetUserAppId', {})), 'AuthFailure.SecretIdNotFound');
  assert.equal((await refresh(r3.body.refresh_token)).body.error, 'invalid_grant');
  const d = (await user.c.call('DescribeDevices')).body.Response.Devices.find((x) => x.DeviceId === t1.device_id);
  assert.equal(d.State, 'Revoked');
  assert.equal(d.RevokedReason, 'refresh_token_reused');
});

test('the CLI refreshes expired credentials itself and says when the login is over', async () => {
  const user = await signedIn(short);
  const home = await cliLogin(short, user);
  const before1 = await readCreds(home);
  await sleep(2200);
  const who = await cli(home, ['whoami', '--json']);
  assert.equal(who.code, 0, who.stderr);
  assert.equal(JSON.parse(who.stdout).Uin, user.uin);
  const after1 = await readCreds(home);
  assert.notEqual(after1.refresh_token, before1.refresh_token, 'rotated');
  assert.equal((await stat(credPath(home))).mode & 0o777, 0o600);
  // A file that claims fresh credentials the server has expired: the CLI
  // hears AuthFailure.TokenFailure, refreshes, and retries.
  await sleep(2200);
  await writeFile(credPath(home), JSON.stringify({ ...after1, expires_at: Math.floor(Date.now() / 1000) + 3600 }), { mode: 0o600 });
  const again = await cli(home, ['whoami']);
  assert.equal(again.code, 0, again.stderr);
  assert.notEqual((await readCreds(home)).refresh_token, after1.refresh_token);
  // Revoked in the console: a clear "run bindery login again".
  const rv = await user.c.call('RevokeDevice', { DeviceId: after1.device_id });
  assert.equal(rv.body.Response.DeviceId, after1.device_id);
  const dead = await cli(home, ['whoami']);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /run bindery login again/);
});

test('device codes expire: expired_token, and bindery login says so', async () => {
  const da = await form(short, '/oauth/device_authorization', { client_id: 'tool-e2e' });
  assert.equal(da.body.expires_in, 4);
  const home = await newHome();
  const login = startLogin(home, short);
  await login.code();
  await sleep(4200);
  const p = await poll(short, da.body.device_code);
  assert.equal(p.body.error, 'expired_token');
  const res = await login.done;
  assert.equal(res.code, 1);
  assert.match(res.stderr, /expired/);
  await assert.rejects(stat(credPath(home)), 'no credentials saved');
});

test('bindery logout revokes the device and deletes the file', async () => {
  const user = await signedIn(main);
  const home = await cliLogin(main, user);
  const creds = await readCreds(home);
  const cred = { secretId: creds.tmp_secret_id, secretKey: creds.tmp_secret_key, token: creds.token };
  assert.equal((await sdk(main, cred).request('GetUserAppId', {})).Uin, user.uin);
  const out = await cli(home, ['logout']);
  assert.equal(out.code, 0, out.stderr);
  await assert.rejects(stat(credPath(home)));
  assert.equal(await sdkError(sdk(main, cred).request('GetUserAppId', {})), 'AuthFailure.SecretIdNotFound');
  const d = (await user.c.call('DescribeDevices')).body.Response.Devices.find((x) => x.DeviceId === creds.device_id);
  assert.equal(d.RevokedReason, 'logout');
  const who = await cli(home, ['whoami']);
  assert.equal(who.code, 1);
  assert.match(who.stderr, /run bindery login/);
});

// ---- console sign-in links ------------------------------------------------

const linkOf = (out) => out.stdout.trim().split('\n').pop();

async function open(url, cookie) {
  return fetch(url, { redirect: 'manual', headers: cookie ? { Cookie: cookie } : {} });
}

test('bindery console: a link signs in once, at an allowed page, without the code in the final URL', async () => {
  const user = await signedIn(main);
  const home = await cliLogin(main, user);
  const out = await cli(home, ['console', '--page', '/center']);
  assert.equal(out.code, 0, out.stderr);
  const url = linkOf(out);
  assert.match(url, new RegExp(`^${main.url}/console/signin\\?c=[A-Za-z0-9_-]{43}$`));
  const r1 = await open(url);
  assert.equal(r1.status, 303);
  assert.equal(r1.headers.get('location'), '/center');
  assert.match(r1.headers.get('cache-control'), /no-store/);
  assert.equal(r1.headers.get('referrer-policy'), 'no-referrer');
  const cookie = /bindery_session=[^;]+/.exec(r1.headers.get('set-cookie'))[0];
  const s = await (await fetch(`${main.url}/console/session`, { headers: { Cookie: cookie } })).json();
  assert.equal(s.Response.Uin, user.uin);
  // Never twice.
  const r2 = await open(url);
  assert.equal(r2.status, 303);
  assert.equal(r2.headers.get('location'), '/console/signin/failed?reason=used');
  assert.equal(r2.headers.get('set-cookie'), null);
  const r3 = await open(`${main.url}/console/signin?c=${'A'.repeat(43)}`);
  assert.equal(r3.headers.get('location'), '/console/signin/failed?reason=unknown');
  const failed = await (await fetch(`${main.url}/console/signin/failed?reason=used`)).text();
  assert.match(failed, /bindery console/);

  // Outside the allow-list: refused, never an open redirect.
  for (const page of ['https://evil.example/', '//evil.example', '/account/../x', '/nowhere', '/account?next=//x']) {
    const bad = await cli(home, ['console', '--page', page]);
    assert.equal(bad.code, 1, page);
    assert.match(bad.stderr, /InvalidParameterValue\.ConsolePage/, page);
  }
  // Minting and use are audited (the audit rows are read by the operator).
  const creds = await readCreds(home);
  const viaSdk = await sdk(main, { secretId: creds.tmp_secret_id, secretKey: creds.tmp_secret_key, token: creds.token }, 'bindery', '2026-11-01')
    .request('CreateConsoleLoginUrl', {});
  assert.equal(viaSdk.Page, '/account');
  assert.equal(viaSdk.ExpiresIn, 60);
});

test('console links expire after their lifetime', async () => {
  const user = await signedIn(short);
  const t = await tokensFor(short, user);
  const link = await sdk(short, tmpCred(t), 'bindery', '2026-11-01').request('CreateConsoleLoginUrl', { Page: '/devices' });
  assert.equal(link.ExpiresIn, 2);
  await sleep(2200);
  const r = await open(link.Url);
  assert.equal(r.headers.get('location'), '/console/signin/failed?reason=expired');
  assert.equal(r.headers.get('set-cookie'), null);
});

test('a link asks before switching a browser signed in as someone else', async () => {
  const a = await signedIn(main);
  const b = await signedIn(main);
  const t = await tokensFor(main, a);
  const link = await sdk(main, tmpCred(t), 'bindery', '2026-11-01').request('CreateConsoleLoginUrl', { Page: '/center' });
  const code = new URL(link.Url).searchParams.get('c');
  const r = await open(link.Url, b.c.cookie);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), `/console/signin/confirm#c=${code}`);
  assert.equal(r.headers.get('set-cookie'), null, 'nothing switched yet');
  // B is still signed in, and the link is still good.
  assert.equal((await b.c.session()).Response.Uin, b.uin);
  const peek = await b.c.request('/console/signin/peek', { Code: code });
  assert.equal(peek.body.Response.Uin, a.uin);
  const go = await b.c.request('/console/signin', { Code: code });
  assert.equal(go.body.Response.Next, '/center');
  assert.equal((await b.c.session()).Response.Uin, a.uin, 'the browser is now A');
  const twice = await b.c.request('/console/signin', { Code: code });
  assert.equal(twice.body.Response.Error.Code, 'FailedOperation.ConsoleLinkInvalid');
  // The same principal is not asked: straight in.
  const link2 = await sdk(main, tmpCred(t), 'bindery', '2026-11-01').request('CreateConsoleLoginUrl', {});
  const r2 = await open(link2.Url, b.c.cookie);
  assert.equal(r2.headers.get('location'), '/account');
});

// ---- Chromium -------------------------------------------------------------

test('in Chromium: sign in from the device page, approve a CLI login, then open a console link', async () => {
  const user = await signedIn(main);
  const problems = [];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });

    const home = await newHome();
    const login = startLogin(home, main);
    const code = await login.code();
    // The URL the QR code carries: not signed in yet, so via the login page.
    await page.goto(`${main.url}/device?user_code=${code}`);
    await page.waitForURL(/\/\?next=/);
    await page.fill('#email', user.email);
    await page.fill('#password', PASSWORD);
    await page.click('#submit');
    await page.waitForURL(`${main.url}/device?user_code=${code}`);
    await page.waitForSelector('#request-card:not([hidden])');
    assert.equal(await page.textContent('#req-code'), code);
    assert.equal(await page.textContent('#req-client'), 'bindery-cli');
    assert.equal(await page.textContent('#req-ip'), '127.0.0.1');
    assert.match(await page.textContent('#req-account'), new RegExp(user.uin));
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.match(await page.textContent('#approve'), /批准/);
    await page.click('#approve');
    await page.waitForSelector('#notice:not([hidden])');
    const res = await login.done;
    assert.equal(res.code, 0, res.stderr);
    const creds = await readCreds(home);
    // The devices list shows it (once the CLI has its tokens), in English too.
    await page.goto(`${main.url}/devices`);
    await page.click('[data-lang="en"]');
    await page.waitForSelector(`tr[data-device="${creds.device_id}"]`);
    assert.match(await page.textContent(`tr[data-device="${creds.device_id}"]`), /Active/);

    // A console link in a fresh browser profile: signed in, code gone.
    const out = await cli(home, ['console', '--page', '/center']);
    const url = linkOf(out);
    const fresh = await browser.newContext();
    const p2 = await fresh.newPage();
    p2.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await p2.goto(url);
    await p2.waitForURL(`${main.url}/center`);
    assert.ok(!p2.url().includes('c='), 'the code is not in the final URL');
    await p2.waitForSelector('#methods-card:not([hidden])');
    // Second time: the page that says what to do.
    await p2.goto(url);
    await p2.waitForURL(/\/console\/signin\/failed\?reason=used$/);
    await p2.waitForSelector('#failed:not([hidden])');
    assert.match(await p2.textContent('#failed'), /bindery console/);

    // Asked before switching: the first browser is signed in as the user;
    // a link of another account shows the question, without the code.
    const other = await signedIn(main);
    const t = await tokensFor(main, other);
    const link = await sdk(main, tmpCred(t), 'bindery', '2026-11-01').request('CreateConsoleLoginUrl', { Page: '/account' });
    await page.goto(link.Url);
    await page.waitForSelector('#confirm:not([hidden])');
    assert.equal(page.url(), `${main.url}/console/signin/confirm`);
    assert.match(await page.textContent('#confirm-text'), new RegExp(other.uin));
    await page.click('#switch');
    await page.waitForURL(`${main.url}/account`);
    await page.waitForSelector('#account-card:not([hidden])');
    assert.equal(await page.textContent('#uin'), other.uin);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

// The seed's "the dev tool acts for the linked mini program": the approval
// page sends a signed-out browser to the login page, the mini program's
// admin scans with WeChat (the emulator's phone), and the browser comes back
// to the approval page; the tool then acts in the account the mini program
// is linked to.
test('in Chromium: approve a CLI login after scan-to-log-in with the linked mini program', async () => {
  const S = await startStack({ name: 'tools_scan', env: { BINDERY_TOOLS_POLL_INTERVAL: '1' } });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const problems = [];
  try {
    const app = await newApp(S.ctl, { kind: 'mp', nick: '工具的小程序' });
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    const home = await newHome();
    const login = startLogin(home, S.srv);
    const code = await login.code();
    await page.goto(`${S.url}/device?user_code=${code}`);
    await page.waitForURL(/\/\?next=/);
    await page.click('#wechat-login');
    await page.waitForURL((u) => u.pathname === '/cgi-bin/componentloginpage', { timeout: 10000 });
    await page.waitForSelector('#qr svg');
    const session = await page.getAttribute('#qr-status', 'data-poll');
    const scanned = await S.ctl.scan({ session, wxid: app.wxid, appid: app.appid });
    assert.equal(scanned.status, 200, JSON.stringify(scanned.body));
    await page.waitForURL(`${S.url}/device?user_code=${code}`, { timeout: 15000 });
    await page.waitForSelector('#request-card:not([hidden])');
    await page.click('#approve');
    await page.waitForSelector('#notice:not([hidden])');
    const res = await login.done;
    assert.equal(res.code, 0, res.stderr);
    // The tool's credentials list the mini program among the account's links.
    const creds = await readCreds(home);
    const links = await sdk(S.srv, { secretId: creds.tmp_secret_id, secretKey: creds.tmp_secret_key, token: creds.token }, 'bindery', '2026-11-01')
      .request('ListLinks', {});
    assert.deepEqual(links.Links.map((l) => l.AuthorizerAppId), [app.appid]);
    assert.equal(links.Links[0].State, 'active');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    assert.equal(await S.stop(), 0);
  }
});

// Several instances share PostgreSQL: a device login started on one is
// approved and exchanged on another, and revoking it anywhere ends it
// everywhere at once.
const pgBase = process.env.BINDERY_E2E_PG_URL;
test('two instances on one PostgreSQL: flow across instances, revocation seen by both', {
  skip: pgBase ? false : 'runs on PostgreSQL only (BINDERY_E2E_PG_URL is not set)',
}, async () => {
  const db = `tools_${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync('psql', [pgBase, '-qAtc', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const url = new URL(pgBase);
  url.pathname = `/${db}`;
  const keyDir = await newHome();
  const env = { BINDERY_STORE: url.toString(), BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key') };
  const a = await startTools('toolsa', env);
  const b = await startTools('toolsb', env);
  try {
    const user = await signedIn(a);
    const da = await form(a, '/oauth/device_authorization', { client_id: 'tool-e2e' });
    const ok = await user.c.call('ApproveDeviceAuthorization', { UserCode: da.body.user_code });
    assert.equal(ok.body.Response.Result, 'Approved');
    const t = await poll(b, da.body.device_code);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal((await sdk(a, tmpCred(t.body)).request('GetUserAppId', {})).Uin, user.uin);
    assert.equal((await sdk(b, tmpCred(t.body)).request('GetUserAppId', {})).Uin, user.uin);
    const link = await sdk(b, tmpCred(t.body), 'bindery', '2026-11-01').request('CreateConsoleLoginUrl', {});
    const viaA = link.Url.replace(b.url, a.url);
    assert.equal((await open(viaA)).headers.get('location'), '/account');
    assert.equal((await open(link.Url)).headers.get('location'), '/console/signin/failed?reason=used');
    await user.c.call('RevokeDevice', { DeviceId: t.body.device_id });
    assert.equal(await sdkError(sdk(b, tmpCred(t.body)).request('GetUserAppId', {})), 'AuthFailure.SecretIdNotFound');
    const rf = await form(b, '/oauth/token', { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: 'tool-e2e' });
    assert.equal(rf.body.error, 'invalid_grant');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('device logins started from one address are rate-limited', async () => {
  let limited = null;
  for (let i = 0; i < 130 && !limited; i++) {
    const r = await form(short, '/oauth/device_authorization', { client_id: 'burst' });
    if (r.status !== 200) limited = r;
  }
  assert.ok(limited, 'a burst of device logins is slowed down');
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error, 'slow_down');
  assert.match(limited.headers.get('retry-after'), /^\d+$/);
});

// Last: it leaves 127.0.0.1 throttled for user codes on this server.
test('wrong user codes are throttled per address and session', async () => {
  const user = await signedIn(main);
  const da = await form(main, '/oauth/device_authorization', { client_id: 'tool-e2e' });
  for (const wrong of ['BCDF-GHJK', 'not a code', 'ZZZZ-ZZZZ']) {
    const r = await user.c.call('DescribeDeviceAuthorization', { UserCode: wrong });
    assert.equal(r.body.Response.Error.Code, 'InvalidParameterValue.UserCode', wrong);
  }
  // Now even the right code waits: guessing is slowed down for everyone here.
  const r = await user.c.call('ApproveDeviceAuthorization', { UserCode: da.body.user_code });
  assert.equal(r.body.Response.Error.Code, 'RequestLimitExceeded.UserCode');
  assert.match(r.body.Response.Error.Message, /retry in \d+ seconds/);
  const huge = await user.c.call('DescribeDeviceAuthorization', { UserCode: 'B'.repeat(5000) });
  assert.equal(huge.body.Response.Error.Code, 'InvalidParameterValue');
});
