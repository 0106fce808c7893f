// The HTTP server itself: health, metrics, request ids, limits, shutdown,
// and configuration errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, BIN } from './lib/harness.mjs';

let srv;
before(async () => { srv = await startServer({ name: 'http' }); });
after(async () => { if (srv) await srv.stop(); });

test('GET /healthz reports the store', async () => {
  const r = await fetch(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.status, 'ok');
  assert.equal(body.store, 'ok');
  assert.ok(['sqlite', 'postgres'].includes(body.backend));
});

test('every response carries an X-Request-Id', async () => {
  const a = await fetch(`${srv.url}/healthz`);
  const b = await fetch(`${srv.url}/no/such/page`);
  assert.equal(b.status, 404);
  assert.match(a.headers.get('x-request-id'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
});

test('GET /metrics counts requests by route and status with a latency histogram', async () => {
  await fetch(`${srv.url}/healthz`);
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(text, /bindery_http_requests_total\{route="healthz",status="200"\} \d+/);
  assert.match(text, /bindery_http_request_duration_seconds_bucket\{route="healthz",le="\+Inf"\} \d+/);
  assert.match(text, /bindery_build_info\{version="[^"]+",store="\w+"\} 1/);
});

test('the login page is served at / with a strict CSP', async () => {
  const r = await fetch(`${srv.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
});

test('static files cannot escape the web directory', async () => {
  for (const p of ['/static/../../etc/passwd', '/static/%2e%2e/%2e%2e/etc/passwd', '/static/', '/static/nope.js']) {
    const r = await fetch(`${srv.url}${p}`);
    assert.equal(r.status, 404, p);
  }
});

test('a wrong method on a known path is refused, not a 5xx', async () => {
  const r = await fetch(`${srv.url}/console/login`, { method: 'DELETE' });
  assert.equal(r.status, 405);
});

test('bad configuration exits 2 and names the key and where it came from', () => {
  const flag = spawnSync(BIN, ['serve', '--http.max-body-bytes', 'lots'], { encoding: 'utf8' });
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /http\.max_body_bytes/);
  assert.match(flag.stderr, /flag --http\.max-body-bytes/);
  const env = spawnSync(BIN, ['serve'], { encoding: 'utf8', env: { ...process.env, BINDERY_SESSION_IDLE_TIMEOUT: '-1' } });
  assert.equal(env.status, 2);
  assert.match(env.stderr, /session\.idle_timeout.*environment BINDERY_SESSION_IDLE_TIMEOUT/);
  const unknown = spawnSync(BIN, ['serve', '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  const help = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--listen/);
  assert.match(help.stdout, /BINDERY_HTTP_MAX_BODY_BYTES/);
});

test('SIGTERM stops the server cleanly after in-flight requests', async () => {
  const s = await startServer({ name: 'shutdown' });
  const inflight = fetch(`${s.url}/console/signup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ Email: 'late@example.com', Password: 'a long password' }),
  });
  await new Promise((r) => setTimeout(r, 20));
  const code = await s.stop();
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(code, 0);
});

test('a body over the ceiling is answered 413, including a chunked one, and the server lives on', async () => {
  const over = await fetch(`${srv.url}/console/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(1100 * 1024),
  });
  assert.equal(over.status, 413);
  assert.equal((await over.json()).Response.Error.Code, 'RequestSizeLimitExceeded');
  // no Content-Length: the ceiling is enforced while reading
  const chunks = new ReadableStream({
    start(c) { for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('y'.repeat(64 * 1024))); c.close(); },
  });
  const chunked = await fetch(`${srv.url}/console/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: chunks, duplex: 'half',
  });
  assert.equal(chunked.status, 413);
  // an absurd body is cut off early: the client may see 413 or a reset
  try {
    const huge = await fetch(`${srv.url}/console/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'z'.repeat(40 * 1024 * 1024),
    });
    assert.equal(huge.status, 413);
  } catch (err) {
    assert.match(String(err.cause && err.cause.code), /ECONNRESET|EPIPE|UND_ERR_SOCKET/);
  }
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});
