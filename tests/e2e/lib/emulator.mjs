// Starts the real `bindery platform` (the WeChat platform emulator) on
// loopback with a fresh data directory, as harness.mjs starts `serve`, and
// gives tests a client for its control API, its component API and its pages
// (docs/platform.md). Also a push receiver: a tiny HTTP server that plays a
// component's 授权事件接收URL and opens pushes with Node's crypto (spec §7).
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_FIXTURES = join(root, 'fixtures', 'platform.json');

// Starts the emulator; resolves once it listens. options.args are extra
// flags (e.g. ['--fixtures', DEFAULT_FIXTURES]).
export async function startEmulator({ env = {}, args = [] } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'bindery-emu-'));
  const fullEnv = { ...process.env, BINDERY_LOG_ACCESS: 'false', ...env };
  const proc = spawn(BIN, ['platform', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code}:\n${log}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    dataDir,
    proc,
    log: () => log,
    control: new EmulatorClient(url),
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
        proc.kill('SIGTERM');
        const code = await exited;
        await rm(dataDir, { recursive: true, force: true });
        return code;
      }
      await rm(dataDir, { recursive: true, force: true });
      return proc.exitCode;
    },
  };
}

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// The emulator's control API, component API and pages.
export class EmulatorClient {
  constructor(base) {
    this.base = base;
  }

  // POSTs JSON; returns { status, body } (body parsed when JSON).
  async request(path, body, { method = 'POST', headers = {} } = {}) {
    const res = await fetch(this.base + path, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: method === 'GET' ? undefined : (typeof body === 'string' ? body : JSON.stringify(body ?? {})),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: parsed };
  }

  // A control call that must succeed; returns the body.
  async control(path, body) {
    const r = await this.request(`/__emu/control/${path}`, body);
    if (r.status !== 200) throw new Error(`control ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  wxuser(wxid, nickname = wxid) { return this.control('wxusers', { wxid, nickname }); }
  authorizer(a) { return this.control('authorizers', a); }
  component(c) { return this.control('components', c); }
  clock(advanceSeconds) { return this.control('clock', { advance_seconds: advanceSeconds }); }
  pushes(p) { return this.control('pushes', p); }
  faults(f) { return this.control('faults', f); }
  settings(s) { return this.control('settings', s); }
  pushTicket(componentAppid) {
    return this.control('push-ticket', componentAppid ? { component_appid: componentAppid } : {});
  }
  rotateKey(componentAppid, aesKey) {
    return this.control('rotate-key', aesKey ? { component_appid: componentAppid, aes_key: aesKey }
      : { component_appid: componentAppid });
  }
  // Does what the phone pages do: scan the QR of `session` as `wxid`, pick
  // `appid`, tick `func_ids` (default: the page's ticks) and confirm.
  scan(body) { return this.request('/__emu/control/scan', body); }
  revoke(componentAppid, appid) {
    return this.control('revoke', { component_appid: componentAppid, appid });
  }
  async state() {
    const r = await this.request('/__emu/control/state', null, { method: 'GET' });
    return r.body;
  }
  // Every per-authorizer call counter: { api: { appid: n } }, no row limit.
  async calls() {
    const r = await this.request('/__emu/control/calls', null, { method: 'GET' });
    return r.body;
  }
  // The checks (api_get_authorizer_info / _list calls) counted for appid.
  async checks(appid) {
    const s = await this.state();
    return s.authorizers.find((a) => a.appid === appid).checks;
  }
  async pushJobs(filter = {}) {
    const s = await this.state();
    return s.pushes.filter((p) => Object.entries(filter).every(([k, v]) => p[k] === v));
  }

  // The component API: POST /cgi-bin/component/NAME?component_access_token=T.
  async api(name, body, { token, tokenParam = 'component_access_token', path } = {}) {
    const q = token ? `?${tokenParam}=${encodeURIComponent(token)}` : '';
    const r = await this.request(`${path || `/cgi-bin/component/${name}`}${q}`, body);
    return r.body;
  }

  // GET an authorization page; returns the page and what tests look for.
  async page(path, params, { referer, cookie } = {}) {
    const qs = new URLSearchParams(params).toString();
    const headers = {};
    if (referer) headers.Referer = referer;
    if (cookie) headers.Cookie = cookie;
    const res = await fetch(`${this.base}${path}${qs ? `?${qs}` : ''}`, { headers, redirect: 'manual' });
    const html = await res.text();
    const marker = /<meta name="emu-error" content="([^"]*)">/.exec(html);
    const link = /id="qr-link" href="([^"]*)"/.exec(html);
    const poll = /data-poll="([^"]*)"/.exec(html);
    return {
      status: res.status,
      headers: res.headers,
      html,
      errorMarker: marker ? marker[1] : null,
      qrLink: link ? unescapeHtml(link[1]) : null,
      session: poll ? poll[1] : null,
    };
  }
  loginPage(params, opts) { return this.page('/cgi-bin/componentloginpage', params, opts); }
  async qrStatus(session) {
    const r = await this.request(`/__emu/qr/status?s=${encodeURIComponent(session)}`, null, { method: 'GET' });
    return r.body;
  }
  // POSTs a form (fields: array of [name, value]); returns status, location, html, cookie.
  async form(path, fields, { cookie } = {}) {
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (cookie) headers.Cookie = cookie;
    const res = await fetch(this.base + path, {
      method: 'POST', headers, body: new URLSearchParams(fields).toString(), redirect: 'manual',
    });
    const set = res.headers.get('set-cookie');
    return {
      status: res.status,
      location: res.headers.get('location'),
      html: await res.text(),
      cookie: set ? set.split(';')[0] : null,
    };
  }
  // Logs into the mp console as wxid for appid and clicks 【停止授权】 of componentAppid.
  async stopAuthorization(wxid, appid, componentAppid) {
    const login = await this.form('/__emu/mp/login', [['wxuser', wxid], ['appid', appid]]);
    if (login.status !== 303) throw new Error(`mp login: ${login.status} ${login.html}`);
    const page = await fetch(this.base + login.location, { headers: { Cookie: login.cookie } });
    const html = await page.text();
    if (!html.includes(`data-component="${componentAppid}"`)) throw new Error(`no grant of ${componentAppid} on the mp page`);
    return this.form('/__emu/mp/thirdparty/revoke', [['appid', appid], ['component_appid', componentAppid]],
      { cookie: login.cookie });
  }

  async waitFor(fn, { timeout = 10000, interval = 50 } = {}) {
    const end = Date.now() + timeout;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}

// ---- message crypto (spec §7), independent of the C code ----

export function aesKeyOf(encodingAesKey) {
  // Node's base64 decoder ignores the trailing bits, as §7.1 requires.
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new Error('bad EncodingAESKey');
  return key;
}

export function signature(...parts) {
  return createHash('sha1').update([...parts].map(String).sort().join('')).digest('hex');
}

// Decrypts an Encrypt value; returns { msg, appid, random }.
export function decrypt(encodingAesKey, encrypt) {
  const key = aesKeyOf(encodingAesKey);
  const d = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  d.setAutoPadding(false);
  const plain = Buffer.concat([d.update(Buffer.from(encrypt, 'base64')), d.final()]);
  const pad = plain[plain.length - 1];
  if (pad < 1 || pad > 32) throw new Error(`bad padding ${pad}`);
  for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) throw new Error('bad padding');
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) throw new Error('plaintext too short');
  const len = body.readUInt32BE(16);
  if (20 + len > body.length) throw new Error('bad length');
  return {
    random: body.subarray(0, 16),
    msg: body.subarray(20, 20 + len).toString('utf8'),
    appid: body.subarray(20 + len).toString('utf8'),
  };
}

// Encrypts like WeChat (for tests that need a reference ciphertext).
export function encrypt(encodingAesKey, appid, msg) {
  const key = aesKeyOf(encodingAesKey);
  const m = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(m.length);
  const full = Buffer.concat([randomBytes(16), len, m, Buffer.from(appid)]);
  const pad = 32 - (full.length % 32);
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.concat([full, Buffer.alloc(pad, pad)])), c.final()]).toString('base64');
}

// The fields of a flat WeChat XML document (CDATA or plain text).
export function xmlFields(xml) {
  const out = {};
  const re = /<(\w+)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g;
  let m;
  while ((m = re.exec(xml))) out[m[1]] = m[2] !== undefined ? m[2] : m[3];
  return out;
}

// A component's 授权事件接收URL: records every push, verifies and opens it
// with the component's token and key, answers "success" (or what
// `respond(push)` returns: { status, body }).
export async function startPushReceiver({ token, aesKey, appid, path = '/wechat/events' }) {
  const pushes = [];
  const receiver = {
    pushes,
    respond: null,
    url: '',
    keys: { token, aesKey, appid },
    close: () => new Promise((r) => server.close(r)),
    // Waits for a push matching pred (on the opened event's fields).
    waitFor: async (pred, timeout = 10000) => {
      const end = Date.now() + timeout;
      for (;;) {
        const p = pushes.find((x) => x.event && pred(x.event, x));
        if (p) return p;
        if (Date.now() > end) throw new Error(`no matching push; got ${JSON.stringify(pushes.map((x) => x.event || x.error))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      const q = Object.fromEntries(u.searchParams);
      const body = Buffer.concat(chunks).toString('utf8');
      const push = { path: u.pathname, query: q, body, contentType: req.headers['content-type'], at: Date.now() };
      try {
        const outer = xmlFields(body);
        push.outer = outer;
        const k = receiver.keys;
        push.msgSignatureOk = q.msg_signature === signature(k.token, q.timestamp, q.nonce, outer.Encrypt);
        push.signatureOk = q.signature === signature(k.token, q.timestamp, q.nonce);
        const opened = decrypt(k.aesKey, outer.Encrypt);
        push.appid = opened.appid;
        push.xml = opened.msg;
        push.event = xmlFields(opened.msg);
      } catch (e) {
        push.error = String(e);
      }
      pushes.push(push);
      const answer = receiver.respond ? receiver.respond(push) : null;
      res.writeHead(answer?.status ?? 200, { 'Content-Type': 'text/plain' });
      res.end(answer?.body ?? 'success');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  receiver.url = `http://127.0.0.1:${server.address().port}${path}`;
  return receiver;
}
