// Prints a wrk Lua script that sends one TC3-signed API request (the
// signature stays valid for the 300 s skew window, longer than a run).
// usage: node sign.mjs HOST:PORT SECRET_ID SECRET_KEY ACTION [JSON_BODY]
import { sign } from '../tests/e2e/lib/tc3.mjs';

const [host, secretId, secretKey, action, body = '{}'] = process.argv.slice(2);
const timestamp = Math.floor(Date.now() / 1000);
const authorization = sign({ secretId, secretKey, host, body, timestamp });
const headers = {
  'Content-Type': 'application/json',
  'X-TC-Action': action,
  'X-TC-Version': '2019-01-16',
  'X-TC-Timestamp': String(timestamp),
  Authorization: authorization,
};
console.log('wrk.method = "POST"');
console.log(`wrk.body = ${JSON.stringify(body)}`);
for (const [k, v] of Object.entries(headers)) console.log(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
// Counts answers that are not a success, so that a fast error can never pass
// for throughput.
console.log(`
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() failures = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"AppId"', 1, true) then failures = failures + 1 end
end
function done()
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failures") end
  print("failed answers: " .. f)
end`);
