/**
 * EST `simplereenroll` client (RFC 7030 section 4.2.2): base64 PKCS#10 in, base64 PKCS#7
 * certs-only out. Pure: the caller passes `fetch`, the base URL and the CSRF token, so the
 * content script uses it with the page's same-origin fetch (the sponsor's session cookie is
 * SameSite=Strict) and the tests with a fake fetch.
 *
 * Result: `{ ok: true, pkcs7 }` or `{ ok: false, error: { code, reason?, status? } }` with
 * code SERVICE_REFUSED (the service said no; `reason` is its text), SERVICE_UNREACHABLE
 * (network, 502/503/504) or TIMEOUT. Never throws.
 *
 * Classic script (content scripts cannot be modules): the API is `globalThis.cisRenew.est`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const PATH = '/.well-known/est/simplereenroll';
  const CSRF_HEADER = 'X-CSRF-Token';
  const MAX_ANSWER = 256 * 1024;
  const REASON_MAX = 300;
  const PKCS7_TYPES = ['application/pkcs7-mime', 'application/x-pkcs7-mime', 'application/pkcs7'];

  /** `${base}/.well-known/est/simplereenroll`, or with an RFC 7030 CA label segment. */
  function reenrollUrl(baseUrl, label) {
    const base = String(baseUrl).replace(/\/+$/, '');
    if (label) return `${base}/.well-known/est/${encodeURIComponent(label)}/simplereenroll`;
    return base + PATH;
  }

  /** Base64 with whitespace (line breaks) removed; null when it is not base64. */
  function cleanBase64(text) {
    const t = String(text).replace(/[\r\n\t ]+/g, '');
    if (!t || t.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return null;
    return t;
  }

  /** A short, single-line, printable reason from a service answer. */
  function cleanReason(text) {
    return String(text)
      .replace(/[\u0000-\u001f\u007f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, REASON_MAX);
  }

  function mediaType(response) {
    const ct = (response.headers && response.headers.get && response.headers.get('content-type')) || '';
    return ct.split(';')[0].trim().toLowerCase();
  }

  /**
   * The service's reason: the sentence from a JSON refusal (`{"error": CODE, "message": ...}`
   * as the stand-in answers, or problem+json `detail`), plain text, or the status text.
   */
  async function reasonOf(response) {
    let body = '';
    try {
      body = await response.text();
    } catch {
      body = '';
    }
    const type = mediaType(response);
    if (type === 'application/json' || type === 'application/problem+json') {
      try {
        const j = JSON.parse(body);
        for (const k of ['message', 'reason', 'detail', 'title', 'error']) {
          if (j && typeof j[k] === 'string' && j[k].trim()) return cleanReason(j[k]);
        }
      } catch {
        /* fall through */
      }
    }
    if (type === 'text/plain' && body.trim()) return cleanReason(body);
    return cleanReason(`${response.status} ${response.statusText || ''}`);
  }

  /**
   * POSTs one CSR. `csr` is base64 DER PKCS#10 (as the host gives it).
   * @param {object} o { fetch, url (from reenrollUrl), csr, csrfToken, timeoutMs, AbortController }
   */
  async function simpleReenroll(o) {
    const fetchFn = o.fetch;
    const csr = cleanBase64(o.csr || '');
    if (!csr) return { ok: false, error: { code: 'SERVICE_REFUSED', reason: 'invalid certificate request' } };
    const headers = { 'Content-Type': 'application/pkcs10', Accept: 'application/pkcs7-mime' };
    if (o.csrfToken) headers[CSRF_HEADER] = o.csrfToken;
    const Abort = o.AbortController || root.AbortController;
    const controller = Abort ? new Abort() : null;
    let timedOut = false;
    const setT = o.setTimeout || root.setTimeout;
    const clearT = o.clearTimeout || root.clearTimeout;
    const timer =
      o.timeoutMs && controller
        ? setT(() => {
            timedOut = true;
            controller.abort();
          }, o.timeoutMs)
        : null;
    let response;
    try {
      response = await fetchFn(o.url, {
        method: 'POST',
        headers,
        body: csr,
        credentials: 'include',
        cache: 'no-store',
        redirect: 'follow',
        signal: controller ? controller.signal : undefined,
      });
    } catch (e) {
      if (timer) clearT(timer);
      if (timedOut || (e && e.name === 'AbortError')) return { ok: false, error: { code: 'TIMEOUT' } };
      return { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: cleanReason((e && e.message) || 'network error') } };
    }
    try {
      if (response.status === 200) {
        const type = mediaType(response);
        if (!PKCS7_TYPES.includes(type)) {
          // Typically a sign-in page after the session ended (fetch followed the redirect).
          return { ok: false, error: { code: 'SERVICE_REFUSED', status: 200, reason: cleanReason(`unexpected answer (${type || 'no content type'})`) } };
        }
        const text = await response.text();
        if (text.length > MAX_ANSWER) return { ok: false, error: { code: 'SERVICE_REFUSED', status: 200, reason: 'answer too large' } };
        const pkcs7 = cleanBase64(text);
        if (!pkcs7) return { ok: false, error: { code: 'SERVICE_REFUSED', status: 200, reason: 'answer is not base64' } };
        return { ok: true, pkcs7 };
      }
      if (response.status === 202) {
        // RFC 7030: accepted for manual approval, retry later.
        return { ok: false, error: { code: 'SERVICE_REFUSED', status: 202, reason: 'waiting for approval; try again later' } };
      }
      const reason = await reasonOf(response);
      if ([502, 503, 504].includes(response.status)) return { ok: false, error: { code: 'SERVICE_UNREACHABLE', status: response.status, reason } };
      return { ok: false, error: { code: 'SERVICE_REFUSED', status: response.status, reason } };
    } catch (e) {
      if (timedOut || (e && e.name === 'AbortError')) return { ok: false, error: { code: 'TIMEOUT' } };
      return { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: cleanReason((e && e.message) || 'read error') } };
    } finally {
      if (timer) clearT(timer);
    }
  }

  ns.est = Object.freeze({ reenrollUrl, simpleReenroll, cleanBase64, cleanReason, CSRF_HEADER, PATH });
})(globalThis);
