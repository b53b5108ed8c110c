import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../src/est/client.js';

const { simpleReenroll, reenrollUrl, cleanBase64 } = globalThis.cisRenew.est;
const CSR = 'MIIBCgYJKoZIhvcNAQ==';

/** A fake fetch answering with (status, content type, body), recording the request. */
function fakeFetch(status, type, body, { statusText = '' } = {}) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    return {
      status,
      statusText,
      headers: { get: (h) => (h.toLowerCase() === 'content-type' ? type : null) },
      text: async () => body,
    };
  };
  fn.calls = calls;
  return fn;
}

test('reenrollUrl_buildsTheWellKnownPath', () => {
  const cases = [
    ['https://cis.example', undefined, 'https://cis.example/.well-known/est/simplereenroll'],
    ['https://cis.example/', undefined, 'https://cis.example/.well-known/est/simplereenroll'],
    ['http://127.0.0.1:8443/ra', undefined, 'http://127.0.0.1:8443/ra/.well-known/est/simplereenroll'],
    ['https://cis.example', 'signing ca', 'https://cis.example/.well-known/est/signing%20ca/simplereenroll'],
  ];
  for (const [base, label, want] of cases) assert.equal(reenrollUrl(base, label), want);
});

test('simpleReenroll_200_postsCsrWithSessionAndCsrf_returnsPkcs7', async () => {
  const fetch = fakeFetch(200, 'application/pkcs7-mime; smime-type=certs-only', 'MIIB\r\nAAAA\r\n');
  const r = await simpleReenroll({ fetch, url: 'https://cis.example/.well-known/est/simplereenroll', csr: CSR, csrfToken: 'tok123' });
  assert.deepEqual(r, { ok: true, pkcs7: 'MIIBAAAA' });
  const { url, init } = fetch.calls[0];
  assert.equal(url, 'https://cis.example/.well-known/est/simplereenroll');
  assert.equal(init.method, 'POST');
  assert.equal(init.body, CSR);
  assert.equal(init.credentials, 'include');
  assert.equal(init.headers['Content-Type'], 'application/pkcs10');
  assert.equal(init.headers['X-CSRF-Token'], 'tok123');
});

test('simpleReenroll_answers_mapToCodes', async () => {
  const cases = [
    { status: 400, type: 'text/plain', body: 'subject does not match the selected card\n', code: 'SERVICE_REFUSED', reason: 'subject does not match the selected card' },
    { status: 403, type: 'application/json', body: '{"reason":"sponsor may not renew this user"}', code: 'SERVICE_REFUSED', reason: 'sponsor may not renew this user' },
    // the stand-in's refusals: the sentence, not the code
    { status: 422, type: 'application/json', body: '{"error":"not-due","message":"The certificate expires on 1 May 2027; renewal opens on 31 January 2027."}', code: 'SERVICE_REFUSED', reason: 'The certificate expires on 1 May 2027; renewal opens on 31 January 2027.' },
    { status: 409, type: 'application/json', body: '{"error":"already-renewed"}', code: 'SERVICE_REFUSED', reason: 'already-renewed' },
    { status: 413, type: 'text/html', body: '', statusText: 'Payload Too Large', code: 'SERVICE_REFUSED', reason: '413 Payload Too Large' },
    { status: 401, type: 'text/html', body: '<h1>Sign in</h1>', statusText: 'Unauthorized', code: 'SERVICE_REFUSED', reason: '401 Unauthorized' },
    { status: 503, type: 'text/plain', body: 'CA offline', code: 'SERVICE_UNREACHABLE', reason: 'CA offline' },
    { status: 202, type: 'text/plain', body: '', code: 'SERVICE_REFUSED', reason: 'waiting for approval; try again later' },
    { status: 200, type: 'text/html', body: '<html>sign in</html>', code: 'SERVICE_REFUSED', reason: 'unexpected answer (text/html)' },
    { status: 200, type: '', body: 'MIIB', code: 'SERVICE_REFUSED', reason: 'unexpected answer (no content type)' },
    { status: 200, type: 'application/pkcs7-mime', body: 'not base64!', code: 'SERVICE_REFUSED', reason: 'answer is not base64' },
    { status: 500, type: 'text/plain', body: 'line1\nline2\u0007' + 'x'.repeat(400), code: 'SERVICE_REFUSED' },
  ];
  for (const c of cases) {
    const r = await simpleReenroll({ fetch: fakeFetch(c.status, c.type, c.body, c), url: 'https://x/', csr: CSR });
    assert.equal(r.ok, false, JSON.stringify(c));
    assert.equal(r.error.code, c.code, JSON.stringify(c));
    if (c.reason) assert.equal(r.error.reason, c.reason);
    assert.ok(!r.error.reason || (r.error.reason.length <= 300 && !/[\u0000-\u001f]/.test(r.error.reason)), 'reason is short and printable');
    assert.equal(r.error.status, c.status);
  }
});

test('simpleReenroll_networkError_isUnreachable', async () => {
  const r = await simpleReenroll({
    fetch: async () => {
      throw new TypeError('Failed to fetch');
    },
    url: 'https://x/',
    csr: CSR,
  });
  assert.deepEqual(r, { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: 'Failed to fetch' } });
});

test('simpleReenroll_slowService_timesOut', async () => {
  const fetch = (url, init) =>
    new Promise((_res, rej) => {
      init.signal.addEventListener('abort', () => rej(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    });
  const r = await simpleReenroll({ fetch, url: 'https://x/', csr: CSR, timeoutMs: 5 });
  assert.deepEqual(r, { ok: false, error: { code: 'TIMEOUT' } });
});

test('simpleReenroll_badCsr_neverFetches', async () => {
  const fetch = fakeFetch(200, 'application/pkcs7-mime', 'MIIB');
  for (const csr of ['', 'abc', '<script>', null]) {
    const r = await simpleReenroll({ fetch, url: 'https://x/', csr });
    assert.equal(r.ok, false);
  }
  assert.equal(fetch.calls.length, 0);
});

test('cleanBase64_cases', () => {
  const cases = [
    ['MIIB', 'MIIB'],
    ['MI IB\n', 'MIIB'],
    ['MIIBAA==', 'MIIBAA=='],
    ['MIIBA', null],
    ['MI-B', null],
    ['', null],
  ];
  for (const [input, want] of cases) assert.equal(cleanBase64(input), want, input);
});
