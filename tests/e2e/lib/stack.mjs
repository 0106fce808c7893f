// Starts the two real binaries wired together, as `make run` does but on
// free loopback ports with fresh data: `bindery platform` (the WeChat
// emulator) and `bindery serve` with its BINDERY_WECHAT_* pointing at the
// emulator, the emulator's component pushing to serve's /wechat/events, and
// a first component_verify_ticket delivered. Also a web client that keeps
// every cookie (the session and the login page's visitor cookie) and the
// steps of the link flows as a browser and a phone would do them.
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer } from './harness.mjs';
import { startEmulator } from './emulator.mjs';

export const COMPONENT = {
  component_appid: 'wx00000000000000c1',
  secret: '9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b',
  token: 'linksStackToken',
  aes_key: 'LinksStackKey0123456789abcdefghijklmnopqrst',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A loopback port nobody listens on right now (the server binds it next).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export async function waitFor(fn, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

// A `bindery serve` configured for the emulator at emuUrl, on a free port.
async function startWiredServer(emuUrl, name, env) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return startServer({
    name,
    args: ['--listen', `127.0.0.1:${port}`],
    env: {
      BINDERY_PUBLIC_URL: url,
      BINDERY_WECHAT_API_BASE_URL: emuUrl,
      BINDERY_WECHAT_MP_BASE_URL: emuUrl,
      BINDERY_WECHAT_COMPONENT_APPID: COMPONENT.component_appid,
      BINDERY_WECHAT_COMPONENT_APPSECRET: COMPONENT.secret,
      BINDERY_WECHAT_TOKEN: COMPONENT.token,
      BINDERY_WECHAT_ENCODING_AES_KEY: COMPONENT.aes_key,
      BINDERY_PASSWORD_MEMORY_KIB: '64',
      BINDERY_PASSWORD_ITERATIONS: '1',
      ...env,
    },
  });
}

// A second instance beside stack's (same emulator; pass the same
// BINDERY_STORE and BINDERY_MASTER_KEY_FILE in env to share its store).
export function startPeer(stack, { env = {}, name = 'peer' } = {}) {
  return startWiredServer(stack.emu.url, name, env);
}

// env: extra environment for serve (e.g. BINDERY_LINK_CHECK_INTERVAL).
export async function startStack({ env = {}, name = 'links', emulatorArgs = [] } = {}) {
  const emu = await startEmulator({ args: emulatorArgs });
  let srv;
  try {
    srv = await startWiredServer(emu.url, name, env);
    const port = new URL(srv.url).port;
    const ctl = emu.control;
    await ctl.component({
      ...COMPONENT, name: 'Bindery (links test)', ticket_pushes: true,
      auth_event_url: `${srv.url}/wechat/events`, entry_domain: `127.0.0.1:${port}`,
    });
    await deliverTicket(ctl);
    return {
      emu, srv, ctl, url: srv.url,
      stop: async () => {
        const code = await srv.stop();
        await emu.stop();
        return code;
      },
    };
  } catch (e) {
    if (srv) await srv.stop().catch(() => {});
    await emu.stop();
    throw e;
  }
}

// Pushes a ticket and waits until serve has answered "success" to it.
export async function deliverTicket(ctl) {
  const { tickets } = await ctl.pushTicket(COMPONENT.component_appid);
  await waitFor(async () => {
    const s = await ctl.state();
    const job = s.pushes.find((p) => p.info_type === 'component_verify_ticket' && p.xml.includes(tickets[0].ticket));
    return job && job.state === 'delivered';
  }, { what: 'the ticket push to be delivered' });
}

let appSeq = 0;
// A fresh app (mini program or official account) administered by admins.
export async function newApp(ctl, { kind = 'mp', admins, nick } = {}) {
  appSeq += 1;
  const appid = `wx${kind === 'mp' ? 'a' : 'c'}${String(process.pid % 100000).padStart(5, '0')}${String(appSeq).padStart(10, '0')}`.slice(0, 18);
  const wxid = admins ? admins[0] : `wxid_${appid}`;
  for (const w of admins || [wxid]) await ctl.wxuser(w, w);
  await ctl.authorizer({
    appid, kind, nick_name: nick || `${kind === 'mp' ? '小程序' : '公众号'} ${appSeq}`,
    principal_name: '个人', admins: admins || [wxid],
  });
  return { appid, wxid, kind };
}

// A browser: keeps cookies by name, the CSRF token of the session, and
// sends Origin like a browser's fetch from our pages does.
export class WebClient {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
    this.csrf = '';
  }

  cookieHeader() {
    return [...this.cookies].filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join('; ');
  }

  absorb(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  }

  async request(method, path, body, headers = {}) {
    const h = { Origin: this.base, ...headers };
    const cookie = this.cookieHeader();
    if (cookie) h.Cookie = cookie;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual',
    });
    this.absorb(res);
    const text = await res.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    const resp = parsed && parsed.Response;
    if (resp && resp.CsrfToken) this.csrf = resp.CsrfToken;
    return { status: res.status, headers: res.headers, body: parsed, resp, error: resp && resp.Error };
  }

  signup(email, password) { return this.request('POST', '/console/signup', { Email: email, Password: password }); }
  login(email, password) { return this.request('POST', '/console/login', { Email: email, Password: password }); }
  async logout() {
    const r = await this.request('POST', '/console/logout', {}, { 'X-CSRF-Token': this.csrf });
    this.csrf = '';
    return r;
  }
  session() { return this.request('GET', '/console/session'); }
  call(action, params = {}) {
    return this.request('POST', '/console/api', params, { 'X-TC-Action': action, 'X-CSRF-Token': this.csrf });
  }
  // The session's account ID, or null when signed out.
  async uin() {
    const r = await this.session();
    return r.error ? null : r.resp.Uin;
  }
}

// What the entry page does: the WeChat URL for the attempt of entryUrl.
export async function wechatUrlOf(web, entryUrl) {
  const u = new URL(entryUrl);
  const state = u.searchParams.get('state');
  const r = await web.request('GET', `/wechat/authorize/target?state=${encodeURIComponent(state)}`);
  if (r.error) throw new Error(`target: ${JSON.stringify(r.error)}`);
  return { state, url: r.resp.Url };
}

// The PC page of WeChat opened from our entry page, then the phone: scan as
// wxid, pick appid, confirm. Returns the redirect's state and auth_code.
export async function authorizeOnWechat(stack, web, entryUrl, { wxid, appid, func_ids } = {}) {
  const { state, url } = await wechatUrlOf(web, entryUrl);
  const wx = new URL(url);
  const page = await stack.ctl.page(wx.pathname, Object.fromEntries(wx.searchParams), {
    referer: `${stack.url}/wechat/authorize`,
  });
  if (page.errorMarker) throw new Error(`WeChat page refused: ${page.errorMarker}`);
  const scan = await stack.ctl.scan({ session: page.session, wxid, appid, ...(func_ids ? { func_ids } : {}) });
  if (scan.status !== 200) throw new Error(`scan: ${scan.status} ${JSON.stringify(scan.body)}`);
  const back = new URL(scan.body.redirect_url);
  return {
    state: back.searchParams.get('state'), authCode: back.searchParams.get('auth_code'),
    redirectUrl: scan.body.redirect_url, wechatUrl: url, scan: scan.body, expectedState: state,
  };
}

// What the return page does: POST the state and code back. A scan-to-log-in
// signs the browser in: the next page reads its session (and CSRF token).
export async function completeAuthorization(web, { state, authCode }) {
  const r = await web.request('POST', '/wechat/authorized', { State: state, AuthCode: authCode });
  if (r.resp && r.resp.SignedIn) await web.session();
  return r;
}

// 关联 (or 重新授权 with appid) from 账号中心, through to WeChat's redirect.
export async function startLink(stack, web, { wxid, appid, reauthorize = false } = {}) {
  const r = await web.call('CreateLink', reauthorize ? { AuthorizerAppId: appid } : {});
  if (r.error) return { error: r.error };
  return authorizeOnWechat(stack, web, r.resp.AuthorizationUrl, { wxid, appid });
}

export async function linkApp(stack, web, app) {
  const a = await startLink(stack, web, app);
  if (a.error) return { error: a.error };
  const r = await completeAuthorization(web, a);
  return { ...r, flow: a };
}

// The login page's 【微信公众号】, through to WeChat's redirect.
export async function startScanLogin(stack, web, { wxid, appid }) {
  const r = await web.request('POST', '/console/wechat/login', {});
  if (r.error) return { error: r.error };
  return authorizeOnWechat(stack, web, r.resp.AuthorizationUrl, { wxid, appid });
}

export async function scanLogin(stack, web, app) {
  const a = await startScanLogin(stack, web, app);
  if (a.error) return { error: a.error };
  const r = await completeAuthorization(web, a);
  return { ...r, flow: a };
}

// The links of the signed-in account, by appid.
export async function linksOf(web) {
  const r = await web.call('ListLinks', { Limit: 200 });
  if (r.error) throw new Error(`ListLinks: ${JSON.stringify(r.error)}`);
  return Object.fromEntries(r.resp.Links.filter((l) => l.State !== 'unlinked').map((l) => [l.AuthorizerAppId, l]));
}

// Runs one read-only query against a server's store (sqlite3 or psql, as the
// suite runs) and returns the rows as arrays of strings: for proving what
// was, and was not, written.
export function sql(srv, query) {
  const pg = srv.env.BINDERY_STORE;
  const r = pg
    ? spawnSync('psql', [pg, '-qAt', '-F', '|', '-c', query], { encoding: 'utf8' })
    : spawnSync('sqlite3', ['-readonly', join(srv.dataDir, 'bindery.db'), query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sql failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length).map((l) => l.split('|'));
}

// One number from a COUNT(*) or similar.
export const sqlCount = (srv, query) => Number(sql(srv, query)[0][0]);
