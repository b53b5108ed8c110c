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

  // --- csrattrs (RFC 7030 section 4.5): which key algorithm the CA wants ---

  const CSRATTRS_MAX = 16 * 1024;
  const MAX_ITEMS = 64;
  // DER OBJECT IDENTIFIER contents (hex) we recognise.
  const OID_EC = '2a8648ce3d0201'; // id-ecPublicKey
  const OID_RSA = '2a864886f70d010101'; // rsaEncryption
  const CURVES = { '2a8648ce3d030107': 'p256', '2b81040022': 'p384' };
  const RSA_BITS = { 2048: 'rsa2048', 3072: 'rsa3072' };

  /** `${base}/.well-known/est/csrattrs`. */
  function csrAttrsUrl(baseUrl) {
    return `${String(baseUrl).replace(/\/+$/, '')}/.well-known/est/csrattrs`;
  }

  /**
   * One DER TLV at `at` within `end`: { tag, start (of contents), end } or null. Definite,
   * short or long (up to 4 bytes) lengths only, and never past `end`: garbage is null, not a throw.
   */
  function tlv(bytes, at, end) {
    if (at + 2 > end) return null;
    const tag = bytes[at];
    if ((tag & 0x1f) === 0x1f) return null; // multi-byte tags: not in CsrAttrs
    let len = bytes[at + 1];
    let start = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || start + n > end) return null;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + bytes[start + i];
      start += n;
    }
    if (start + len > end) return null;
    return { tag, start, end: start + len };
  }

  function hex(bytes, from, to) {
    let out = '';
    for (let i = from; i < to; i++) out += bytes[i].toString(16).padStart(2, '0');
    return out;
  }

  /** Small non-negative INTEGER contents, or -1. */
  function smallInt(bytes, from, to) {
    if (to - from < 1 || to - from > 4 || bytes[from] & 0x80) return -1;
    let v = 0;
    for (let i = from; i < to; i++) v = v * 256 + bytes[i];
    return v;
  }

  /**
   * The key algorithm a DER `CsrAttrs` names: `{ ok: true, keyAlgorithm }` with `p384`, `p256`,
   * `rsa2048`, `rsa3072`, or null when it names none we know; `{ ok: false }` when it is not a
   * well-formed `SEQUENCE OF AttrOrOID`. Only the outer structure and the key OIDs are read:
   * an `id-ecPublicKey` attribute whose value is a curve OID, an `rsaEncryption` attribute
   * whose value is the modulus size (RFC 9908), or a bare `rsaEncryption` OID (2048 bits).
   */
  function parseCsrAttrs(bytes) {
    if (!(bytes instanceof Uint8Array) || bytes.length > CSRATTRS_MAX) return { ok: false };
    const outer = tlv(bytes, 0, bytes.length);
    if (!outer || outer.tag !== 0x30 || outer.end !== bytes.length) return { ok: false };
    let found = null;
    let at = outer.start;
    for (let items = 0; at < outer.end; items++) {
      if (items >= MAX_ITEMS) return { ok: false };
      const item = tlv(bytes, at, outer.end);
      if (!item) return { ok: false };
      at = item.end;
      if (item.tag === 0x06) {
        if (!found && hex(bytes, item.start, item.end) === OID_RSA) found = 'rsa2048';
        continue;
      }
      if (item.tag !== 0x30) return { ok: false };
      const type = tlv(bytes, item.start, item.end);
      if (!type || type.tag !== 0x06) return { ok: false };
      const set = tlv(bytes, type.end, item.end);
      if (!set || set.tag !== 0x31 || set.end !== item.end) return { ok: false };
      const oid = hex(bytes, type.start, type.end);
      if (found || (oid !== OID_EC && oid !== OID_RSA)) continue;
      for (let v = set.start; v < set.end; ) {
        const value = tlv(bytes, v, set.end);
        if (!value) return { ok: false };
        v = value.end;
        if (oid === OID_EC && value.tag === 0x06) found = found || CURVES[hex(bytes, value.start, value.end)] || null;
        if (oid === OID_RSA && value.tag === 0x02) found = found || RSA_BITS[smallInt(bytes, value.start, value.end)] || null;
      }
    }
    return { ok: true, keyAlgorithm: found };
  }

  function fromBase64(text) {
    const clean = cleanBase64(text);
    if (!clean) return null;
    try {
      const bin = root.atob(clean);
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch {
      return null;
    }
  }

  /**
   * GETs `csrattrs` with the sponsor's session. Result: `{ ok: true, keyAlgorithm }` (null when
   * the service answers 404/204 or names nothing we know) or `{ ok: false, error }` with code
   * CSRATTRS_MALFORMED (a 200 that is not a CsrAttrs), SERVICE_REFUSED, SERVICE_UNREACHABLE or
   * TIMEOUT. Never throws.
   * @param {object} o { fetch, url (from csrAttrsUrl), timeoutMs, AbortController }
   */
  async function csrAttrs(o) {
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
    try {
      const response = await o.fetch(o.url, {
        method: 'GET',
        headers: { Accept: 'application/csrattrs' },
        credentials: 'include',
        cache: 'no-store',
        redirect: 'follow',
        signal: controller ? controller.signal : undefined,
      });
      // RFC 7030: 204 and 404 mean "no attributes".
      if (response.status === 204 || response.status === 404) return { ok: true, keyAlgorithm: null };
      if (response.status !== 200) {
        const reason = await reasonOf(response);
        const code = [502, 503, 504].includes(response.status) ? 'SERVICE_UNREACHABLE' : 'SERVICE_REFUSED';
        return { ok: false, error: { code, status: response.status, reason } };
      }
      const text = await response.text();
      const bytes = text.length <= CSRATTRS_MAX * 2 ? fromBase64(text) : null;
      const parsed = bytes ? parseCsrAttrs(bytes) : { ok: false };
      if (!parsed.ok) return { ok: false, error: { code: 'CSRATTRS_MALFORMED', status: 200 } };
      return { ok: true, keyAlgorithm: parsed.keyAlgorithm };
    } catch (e) {
      if (timedOut || (e && e.name === 'AbortError')) return { ok: false, error: { code: 'TIMEOUT' } };
      return { ok: false, error: { code: 'SERVICE_UNREACHABLE', reason: cleanReason((e && e.message) || 'network error') } };
    } finally {
      if (timer) clearT(timer);
    }
  }

  ns.est = Object.freeze({
    reenrollUrl,
    simpleReenroll,
    csrAttrsUrl,
    csrAttrs,
    parseCsrAttrs,
    cleanBase64,
    cleanReason,
    CSRF_HEADER,
    PATH,
  });
})(globalThis);
