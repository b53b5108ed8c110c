/**
 * Extension settings. The only source is managed storage (`storage.managed_schema`, set by IT
 * through group policy / Chromium's managed policy files / Firefox's policies.json); anything
 * missing or malformed falls back to the defaults below. The result is frozen.
 */

/** The hosted CIS dashboard. */
export const DEFAULT_PORTAL_ORIGIN = 'https://manage-care-identities.care-identity-service2.nhs.uk';

export const DEFAULTS = Object.freeze({
  /** Origins of the dashboard pages the extension works on (scheme://host[:port], no path). */
  portalOrigins: Object.freeze([DEFAULT_PORTAL_ORIGIN]),
  /** Base URL of the EST renewal service; `null` means "the dashboard origin the user is on". */
  renewalServiceUrl: null,
  /** Reader-name pattern; informational here (the host's own configuration decides). */
  managedReader: null,
  /** Renewal window in days; informational here (the host decides what is renewable). */
  renewalWindowDays: 90,
  /**
   * Where the site adapter looks in the dashboard, for when its automatic search is not enough:
   * CSS selectors only (never script), each null for "search automatically"; `mode` 'auto'
   * (menu entry where the page has a Select Service menu, else the panel), 'menu' (never the
   * panel) or 'panel' (always the panel).
   */
  siteAdapter: Object.freeze({ mode: 'auto', trigger: null, list: null, item: null, cardSerial: null, page: null }),
});

export const SITE_ADAPTER_MODES = Object.freeze(['auto', 'menu', 'panel']);
const SITE_ADAPTER_SELECTORS = Object.freeze(['trigger', 'list', 'item', 'cardSerial', 'page']);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** One DNS label: letters, digits and inner hyphens (IDNs arrive as punycode `xn--`). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Why `value` is not a usable dashboard origin, or null when it is. Only https, or http on a
 * loopback address (the demo and the tests run the stand-in dashboard there), with a host name
 * made of DNS labels (no wildcards: `https://*` would put the content scripts on every site)
 * or an IP address, and no path, query, fragment or credentials.
 */
export function originProblem(value) {
  if (typeof value !== 'string') return 'not a string';
  if (value.length > 300) return 'longer than 300 characters';
  if (value.includes('*')) return 'wildcards are not allowed; list each dashboard origin';
  let url;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username || url.password) return 'credentials are not allowed';
  if (url.search || url.hash || value.includes('?') || value.includes('#')) return 'a query or fragment is not allowed';
  if (url.pathname !== '/') return 'a path is not allowed';
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) return 'http is allowed only on a loopback address';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the scheme ${url.protocol} is not allowed`;
  return hostProblem(url.hostname);
}

/** Why a URL's host name is not a plain DNS name or IP address, or null. */
function hostProblem(host) {
  if (host.startsWith('[') || IPV4.test(host)) return null;
  if (host.endsWith('.')) return 'the host name ends with a dot';
  const labels = host.split('.');
  if (!labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels[labels.length - 1])) {
    return `the host name ${JSON.stringify(host)} is not valid`;
  }
  return null;
}

/** The canonical origin string of a usable dashboard origin (see `originProblem`), or null. */
export function parseOrigin(value) {
  if (originProblem(value) !== null) return null;
  return new URL(value).origin;
}

/** Parses the renewal service base URL (same scheme rules as origins; a path is allowed). */
export function parseServiceUrl(value) {
  if (typeof value !== 'string' || value.length > 500) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username || url.password || url.search || url.hash) return null;
  const okScheme = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  if (!okScheme || value.includes('*') || hostProblem(url.hostname) !== null) return null;
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/**
 * Checks one CSS selector from policy. The worker has no DOM to parse it with, so this refuses
 * what no selector needs (control characters, braces, `<`, at-rules) and leaves the rest to the
 * content script, which uses it inside try/catch. Returns the trimmed selector or null.
 */
export function parseSelector(value) {
  if (typeof value !== 'string') return null;
  const s = value.trim();
  if (!s || s.length > 500) return null;
  if (/[\u0000-\u001f\u007f{}<@]/.test(s)) return null;
  return s;
}

/** Parses `siteAdapter`; each bad member is a problem and falls back to its default. */
export function parseSiteAdapter(value, problems) {
  const def = DEFAULTS.siteAdapter;
  if (value === undefined) return def;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('siteAdapter: not an object; searching automatically');
    return def;
  }
  const out = { ...def };
  for (const key of Object.keys(value)) {
    if (key !== 'mode' && !SITE_ADAPTER_SELECTORS.includes(key)) problems.push(`siteAdapter.${key}: unknown setting, ignored`);
  }
  if (value.mode !== undefined) {
    if (SITE_ADAPTER_MODES.includes(value.mode)) out.mode = value.mode;
    else problems.push(`siteAdapter.mode: not one of ${SITE_ADAPTER_MODES.join(', ')}; using auto`);
  }
  for (const key of SITE_ADAPTER_SELECTORS) {
    if (value[key] === undefined || value[key] === '' || value[key] === null) continue;
    const sel = parseSelector(value[key]);
    if (sel) out[key] = sel;
    else problems.push(`siteAdapter.${key}: not a CSS selector; searching automatically`);
  }
  return Object.freeze(out);
}

/**
 * Turns raw managed storage into settings. Returns `{ config, problems }`; each problem names
 * the setting it ignored, so a misconfiguration is visible in the worker's console.
 */
export function normalizeConfig(raw) {
  const problems = [];
  const src = raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
  let portalOrigins = DEFAULTS.portalOrigins;
  if (src.portalOrigins !== undefined) {
    if (Array.isArray(src.portalOrigins)) {
      const parsed = [];
      for (const o of src.portalOrigins) {
        const problem = originProblem(o);
        if (problem === null) {
          const p = parseOrigin(o);
          if (!parsed.includes(p)) parsed.push(p);
        } else problems.push(`portalOrigins: ignored ${JSON.stringify(o)} (${problem})`);
      }
      if (parsed.length) portalOrigins = Object.freeze(parsed);
      else problems.push('portalOrigins: no usable origin; using the default');
    } else problems.push('portalOrigins: not an array; using the default');
  }
  let renewalServiceUrl = DEFAULTS.renewalServiceUrl;
  if (src.renewalServiceUrl !== undefined && src.renewalServiceUrl !== '') {
    renewalServiceUrl = parseServiceUrl(src.renewalServiceUrl);
    if (!renewalServiceUrl) problems.push('renewalServiceUrl: not an https URL; using the dashboard origin');
  }
  let managedReader = DEFAULTS.managedReader;
  if (src.managedReader !== undefined) {
    if (typeof src.managedReader === 'string' && src.managedReader.length <= 200) managedReader = src.managedReader;
    else problems.push('managedReader: not a string');
  }
  let renewalWindowDays = DEFAULTS.renewalWindowDays;
  if (src.renewalWindowDays !== undefined) {
    const n = src.renewalWindowDays;
    if (Number.isInteger(n) && n >= 1 && n <= 3650) renewalWindowDays = n;
    else problems.push('renewalWindowDays: not an integer from 1 to 3650');
  }
  const siteAdapter = parseSiteAdapter(src.siteAdapter, problems);
  return {
    config: Object.freeze({ portalOrigins, renewalServiceUrl, managedReader, renewalWindowDays, siteAdapter }),
    problems,
  };
}

/** The EST base URL for a page on `origin`. */
export function serviceUrlFor(config, origin) {
  return config.renewalServiceUrl || origin;
}

/**
 * Content-script match patterns for the portal origins. Chromium match patterns may carry a
 * port; Firefox's may not (they then match every port, and the worker's origin check still
 * refuses the wrong port).
 */
export function matchPatterns(origins, { withPorts = true } = {}) {
  const out = [];
  for (const o of origins) {
    const url = new URL(o);
    const host = withPorts || !url.port ? url.host : url.hostname;
    const pattern = `${url.protocol}//${host}/*`;
    if (!out.includes(pattern)) out.push(pattern);
  }
  return out;
}

/** Reads managed storage through `storageArea.get()`; any failure means "no policy". */
export async function loadConfig(storageArea) {
  let raw = {};
  try {
    raw = (await storageArea.get(null)) || {};
  } catch {
    raw = {}; // Firefox throws when no policy exists at all.
  }
  return normalizeConfig(raw);
}
