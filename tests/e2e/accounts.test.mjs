// Sign-up, login, sessions, CSRF and throttling over HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ConsoleClient, postJson } from './lib/harness.mjs';

let srv;
before(async () => {
  // Trust X-Forwarded-For so that each test can come from its own address.
  srv = await startServer({ name: 'accounts', env: { BINDERY_HTTP_TRUST_PROXY: 'true', BINDERY_SESSION_IDLE_TIMEOUT: '3' } });
});
after(async () => { await srv.stop(); });

const code = (r) => r.body.Response.Error && r.body.Response.Error.Code;
let ipCounter = 1;
const freshIp = () => ({ 'X-Forwarded-For': `198.51.100.${ipCounter++}` });

test('sign-up gives a 12-digit account ID and a session', async () => {
  const c = new ConsoleClient(srv.url);
  const r = await c.signup('Alice@Example.com ', 'a long enough password');
  assert.equal(code(r), undefined, JSON.stringify(r.body));
  assert.match(r.body.Response.Uin, /^[1-9]\d{11}$/);
  assert.equal(r.body.Response.Email, 'alice@example.com');
  const cookie = r.headers.get('set-cookie');
  assert.match(cookie, /bindery_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax/);
  const s = await c.session();
  assert.equal(s.Response.Uin, r.body.Response.Uin);
});

test('sign-up refuses bad emails, weak passwords and taken emails', async () => {
  const c = new ConsoleClient(srv.url);
  assert.equal(code(await c.signup('not-an-email', 'a long enough password')), 'InvalidParameterValue');
  assert.equal(code(await c.signup('bob@example.com', 'short')), 'InvalidParameter.PasswordViolatedRules');
  assert.equal(code(await c.signup('bob@example.com', 'BOB@example.com')), 'InvalidParameter.PasswordViolatedRules');
  assert.equal(code(await c.signup('bob@example.com', 'x'.repeat(2000))), 'InvalidParameter.PasswordViolatedRules');
  assert.equal(code(await c.signup('', 'a long enough password')), 'InvalidParameterValue');
  assert.equal(code(await c.request('/console/signup', { Password: 'a long enough password' })), 'MissingParameter');
  assert.equal(code(await c.signup('bob@example.com', 'a long enough password')), undefined);
  assert.equal(code(await c.signup('BOB@example.com', 'another long password')), 'ResourceInUse.Email');
});

test('malformed bodies and wrong content types are refused cleanly', async () => {
  const r1 = await postJson(`${srv.url}/console/login`, '{"Email":');
  assert.equal(r1.status, 200);
  assert.equal(code(r1), 'InvalidParameter');
  const r2 = await fetch(`${srv.url}/console/login`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
  assert.equal((await r2.json()).Response.Error.Code, 'AuthFailure.CsrfTokenInvalid');
  const r3 = await postJson(`${srv.url}/console/login`, { Email: 'a@b.c', Password: 'x' }, { Origin: 'https://evil.example' });
  assert.equal(code(r3), 'AuthFailure.CsrfTokenInvalid');
});

test('login: right password signs in and rotates the session; wrong ones do not', async () => {
  const c = new ConsoleClient(srv.url);
  const ip = freshIp();
  const signup = await c.request('/console/signup', { Email: 'carol@example.com', Password: 'carol password 1' }, ip);
  const firstCookie = c.cookie;
  assert.equal(code(await c.request('/console/login', { Email: 'carol@example.com', Password: 'wrong password!' }, ip)), 'FailedOperation.LoginFailed');
  assert.equal(code(await c.request('/console/login', { Email: 'nobody@example.com', Password: 'wrong password!' }, ip)), 'FailedOperation.LoginFailed');
  const ok = await c.request('/console/login', { Email: 'carol@example.com', Password: 'carol password 1' }, ip);
  assert.equal(ok.body.Response.Uin, signup.body.Response.Uin);
  assert.notEqual(c.cookie, firstCookie, 'the session id is rotated at login');
  const old = await fetch(`${srv.url}/console/session`, { headers: { Cookie: firstCookie } });
  assert.equal((await old.json()).Response.Error.Code, 'AuthFailure.SessionInvalid');
});

test('logout needs the CSRF token and ends the session', async () => {
  const c = new ConsoleClient(srv.url);
  await c.signup('dave@example.com', 'dave password 1');
  assert.equal(code(await c.request('/console/logout', {}, { 'X-CSRF-Token': 'forged' })), 'AuthFailure.CsrfTokenInvalid');
  assert.equal(code(await c.request('/console/logout', {}, { 'X-CSRF-Token': '' })), 'AuthFailure.CsrfTokenInvalid');
  assert.ok((await c.session()).Response.Uin, 'still signed in after refused logouts');
  const cookie = c.cookie;
  assert.equal(code(await c.logout()), undefined);
  const s = await fetch(`${srv.url}/console/session`, { headers: { Cookie: cookie } });
  assert.equal((await s.json()).Response.Error.Code, 'AuthFailure.SessionInvalid');
});

test('an idle session expires', async () => {
  const c = new ConsoleClient(srv.url);
  await c.signup('erin@example.com', 'erin password 1');
  assert.ok((await c.session()).Response.Uin);
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal((await c.session()).Response.Error.Code, 'AuthFailure.SessionInvalid');
});

test('after 5 failures the account is throttled with a retry time, even for the right password', async () => {
  const c = new ConsoleClient(srv.url);
  await c.request('/console/signup', { Email: 'frank@example.com', Password: 'frank password 1' }, freshIp());
  for (let i = 0; i < 5; i++) {
    const r = await c.request('/console/login', { Email: 'frank@example.com', Password: `wrong ${i} password` }, freshIp());
    assert.equal(code(r), 'FailedOperation.LoginFailed', `attempt ${i}`);
  }
  const blocked = await c.request('/console/login', { Email: 'frank@example.com', Password: 'frank password 1' }, freshIp());
  assert.equal(code(blocked), 'RequestLimitExceeded.LoginThrottled');
  assert.match(blocked.body.Response.Error.Message, /retry in \d+ seconds/);
  assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
});

test('many failures from one address throttle that address for every account', async () => {
  const ip = freshIp();
  const c = new ConsoleClient(srv.url);
  await c.request('/console/signup', { Email: 'grace@example.com', Password: 'grace password 1' }, freshIp());
  let throttled = null;
  for (let i = 0; i < 25 && !throttled; i++) {
    const r = await c.request('/console/login', { Email: `guess${i}@example.com`, Password: 'guess password' }, ip);
    if (code(r) === 'RequestLimitExceeded.LoginThrottled') throttled = i;
  }
  assert.equal(throttled, 20, 'the address is blocked after 4 x 5 failures');
  const r = await c.request('/console/login', { Email: 'grace@example.com', Password: 'grace password 1' }, ip);
  assert.equal(code(r), 'RequestLimitExceeded.LoginThrottled');
  const elsewhere = await c.request('/console/login', { Email: 'grace@example.com', Password: 'grace password 1' }, freshIp());
  assert.equal(code(elsewhere), undefined);
});

test('200 concurrent sign-ups give 200 accounts with 200 distinct IDs and no 5xx', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    postJson(`${srv.url}/console/signup`, { Email: `bulk${i}@example.com`, Password: `bulk password ${i}` })));
  for (const r of results) assert.ok(r.status < 500, `status ${r.status}`);
  const ids = results.map((r) => r.body.Response.Uin);
  assert.ok(ids.every((id) => /^[1-9]\d{11}$/.test(id)), JSON.stringify(results.find((r) => !r.body.Response.Uin)?.body));
  assert.equal(new Set(ids).size, 200);
});
