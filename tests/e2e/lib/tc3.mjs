// An independent TC3-HMAC-SHA256 signer (spec cam-and-api §4.2) for
// crafting requests the official SDK will not send: stale timestamps,
// tampered bodies, odd headers.
import { createHash, createHmac } from 'node:crypto';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const hmac = (key, s) => createHmac('sha256', key).update(s).digest();

export function sign({ secretId, secretKey, service = 'cam', host, method = 'POST', query = '',
                       contentType = 'application/json', body = '', timestamp }) {
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10);
  const canonical = [method, '/', query,
    `content-type:${contentType.toLowerCase()}\nhost:${host.toLowerCase()}\n`,
    'content-type;host', sha256(body)].join('\n');
  const scope = `${date}/${service}/tc3_request`;
  const toSign = ['TC3-HMAC-SHA256', String(timestamp), scope, sha256(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request');
  const signature = createHmac('sha256', kSigning).update(toSign).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

// Sends one signed API request; returns { status, headers, body }.
export async function callApi(base, { action, version = '2019-01-16', params = {}, secretId, secretKey,
                                      timestamp = Math.floor(Date.now() / 1000), rawBody,
                                      authorization, method = 'POST', headers = {} }) {
  const url = new URL(base);
  const body = method === 'GET' ? '' : (rawBody !== undefined ? rawBody : JSON.stringify(params));
  const query = method === 'GET' ? new URLSearchParams(params).toString() : '';
  const contentType = method === 'GET' ? 'application/x-www-form-urlencoded' : 'application/json';
  const auth = authorization !== undefined ? authorization
    : sign({ secretId, secretKey, host: url.host, method, query, contentType, body, timestamp });
  const h = { 'Content-Type': contentType, 'X-TC-Timestamp': String(timestamp), ...headers };
  if (action !== null) h['X-TC-Action'] = action;
  if (version !== null) h['X-TC-Version'] = version;
  if (auth !== null) h.Authorization = auth;
  const res = await fetch(`${base}/${query ? `?${query}` : ''}`, { method, headers: h, body: method === 'GET' ? undefined : body });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* keep text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}
