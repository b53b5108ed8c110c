/**
 * Card-management client (docs/renewal-service.md): relays a PIV card's mutual authentication
 * with the renewal service, which holds the card's management key. Pure, like the EST client:
 * the caller passes `fetch`, the service base URL and the CSRF token, so the content script
 * calls it with the page's same-origin fetch and the sponsor's session (the same origin rules
 * as EST), and the tests with a fake fetch.
 *
 *   begin         POST /card-admin/v1/renewals {cardId, algorithm, witness}
 *                   -> 201 {renewal, witness (decrypted), challenge}
 *   certificates  POST /card-admin/v1/renewals/{renewal}/certificates {response, requests}
 *                   -> 200 {certificates: base64 PKCS#7}; 403 card_auth_failed
 *   installed     POST /card-admin/v1/renewals/{renewal}/installed -> 204
 *   record        GET  /card-admin/v1/cards/{cardId}/renewal -> {renewal, state, certificates?}
 *                   or 404 (no record: result null)
 *
 * Result: `{ ok: true, result }` or `{ ok: false, error: { code, reason?, status? } }` with code
 * CARD_AUTH_FAILED (the service found the card's response wrong), SERVICE_REFUSED,
 * SERVICE_UNREACHABLE or TIMEOUT. Never throws. Classic script: `globalThis.cisRenew.cardAdmin`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const PREFIX = '/card-admin/v1';
  const CSRF_HEADER = 'X-CSRF-Token';
  const MAX_ANSWER = 256 * 1024;
  const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
  const NAME = /^[A-Za-z0-9._-]{1,128}$/;

  const isB64 = (v) => typeof v === 'string' && v.length > 0 && v.length <= MAX_ANSWER && v.length % 4 === 0 && B64.test(v);
  const isName = (v) => typeof v === 'string' && NAME.test(v);

  /** What each operation sends, what it expects back, and how its answer is checked. */
  const OPS = Object.freeze({
    begin: {
      method: 'POST',
      path: (b) => '/renewals',
      body: (b) => ({ cardId: b.cardId, algorithm: b.algorithm, witness: b.witness }),
      ok: [201, 200],
      check: (j) => j && isName(j.renewal) && isB64(j.witness) && isB64(j.challenge) && { renewal: j.renewal, witness: j.witness, challenge: j.challenge },
    },
    certificates: {
      method: 'POST',
      path: (b) => `/renewals/${encodeURIComponent(b.renewal)}/certificates`,
      body: (b) => ({ response: b.response, requests: b.requests }),
      ok: [200],
      check: (j) => j && isB64(j.certificates) && { certificates: j.certificates },
    },
    installed: {
      method: 'POST',
      path: (b) => `/renewals/${encodeURIComponent(b.renewal)}/installed`,
      body: () => ({}),
      ok: [204, 200],
      check: () => ({}),
    },
    record: {
      method: 'GET',
      path: (b) => `/cards/${encodeURIComponent(b.cardId)}/renewal`,
      body: () => undefined,
      ok: [200],
      notFound: true,
      check: (j) =>
        j &&
        isName(j.renewal) &&
        isName(j.state) &&
        (j.certificates === undefined || j.certificates === null || isB64(j.certificates)) && {
          renewal: j.renewal,
          state: j.state,
          ...(isB64(j.certificates) ? { certificates: j.certificates } : {}),
        },
    },
  });

  function url(baseUrl, path) {
    return String(baseUrl).replace(/\/+$/, '') + PREFIX + path;
  }

  function clean(text) {
    return String(text)
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 300);
  }

  async function readJson(response) {
    const text = await response.text();
    if (text.length > MAX_ANSWER) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /**
   * One call. `o`: { fetch, baseUrl, op, body, csrfToken, timeoutMs, AbortController?, setTimeout?, clearTimeout? }
   */
  async function call(o) {
    const op = OPS[o.op];
    if (!op) return { ok: false, error: { code: 'SERVICE_REFUSED', reason: `unknown operation ${clean(o.op)}` } };
    const args = o.body || {};
    const headers = { Accept: 'application/json' };
    const body = op.body(args);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (o.csrfToken) headers[CSRF_HEADER] = o.csrfToken;
    const Abort = o.AbortController || root.AbortController;
    const controller = Abort ? new Abort() : null;
    const setT = o.setTimeout || root.setTimeout;
    const clearT = o.clearTimeout || root.clearTimeout;
    let timedOut = false;
    const timer = o.timeoutMs && controller ? setT(() => ((timedOut = true), controller.abort()), o.timeoutMs) : null;
    try {
      const response = await o.fetch(url(o.baseUrl, op.path(args)), {
        method: op.method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'include',
        cache: 'no-store',
        redirect: 'follow',
        signal: controller ? controller.signal : undefined,
      });
      if (op.notFound && response.status === 404) return { ok: true, result: null };
      if (op.ok.includes(response.status)) {
        const json = response.status === 204 ? {} : await readJson(response);
        const result = op.check(json);
        if (!result) return { ok: false, error: { code: 'SERVICE_REFUSED', status: response.status, reason: 'unexpected answer' } };
        return { ok: true, result };
      }
      const json = await readJson(response).catch(() => undefined);
      const reason = clean((json && (json.message || json.error)) || `${response.status} ${response.statusText || ''}`);
      if (response.status === 403 && json && json.error === 'card_auth_failed') {
        return { ok: false, error: { code: 'CARD_AUTH_FAILED', status: 403, reason } };
      }
      if ([502, 503, 504].includes(response.status)) return { ok: false, error: { code: 'SERVICE_UNREACHABLE', status: response.status, reason } };
      return { ok: false, error: { code: 'SERVICE_REFUSED', status: response.status, reason } };
    } catch (e) {
      if (timedOut || (e && e.name === 'AbortError')) return { ok: false, error: { code: 'TIMEOUT' } };
      return { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: clean((e && e.message) || 'network error') } };
    } finally {
      if (timer) clearT(timer);
    }
  }

  ns.cardAdmin = Object.freeze({ call, url, OPS: Object.keys(OPS), PREFIX });
})(globalThis);
