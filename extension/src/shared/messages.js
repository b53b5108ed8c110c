/**
 * Messages between the extension's contexts, and their validation in the worker.
 *
 * Channels (long-lived runtime ports; the port name picks the channel):
 *   `cis-renew.content`  dashboard content script <-> worker
 *   `cis-renew.pin`      passcode window (extension page) <-> worker
 *
 * Everything arriving at the worker is untrusted until `validate()` accepts it: a plain object,
 * a known `type` for that channel, exactly the allowed members, each of the right type and
 * size. The sender is checked separately (`senderOrigin`, `isPinSender`): the browser's
 * `sender` is the only source of an origin, never a member of the message.
 */

export const CONTENT_PORT = 'cis-renew.content';
export const PIN_PORT = 'cis-renew.pin';

/** Worker -> content script. */
export const TO_CONTENT = Object.freeze({
  STATE: 'state', // { type, state: view of host, card status and this tab's renewal }
  EST_REQUEST: 'est.request', // { type, requestId, url, role, csr, timeoutMs }
  CARD_ADMIN_REQUEST: 'cardAdmin.request', // { type, requestId, url, op, body, timeoutMs }
  CSRATTRS_REQUEST: 'csrattrs.request', // { type, requestId, url, timeoutMs }
  RENEW_REFUSED: 'renew.refused', // { type, error }: renew.start was refused (busy, card changed...)
});

/** Worker -> passcode window. */
export const TO_PIN = Object.freeze({
  SHOW: 'pin.show', // { type, card: {label, serial}, pinLength: {min,max}, error: null | {code, triesLeft, pin} }
  CHECKING: 'pin.checking', // { type }
});

/** Limits. A PIN longer than this is refused before it reaches the host. */
export const LIMITS = Object.freeze({
  pinMax: 64,
  serialMax: 128,
  requestId: 64,
  pkcs7Max: 256 * 1024,
  reasonMax: 300,
});

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

const str = (max) => (v) => typeof v === 'string' && v.length <= max;
const nonEmptyStr = (max) => (v) => typeof v === 'string' && v.length > 0 && v.length <= max;
const oneOf = (...values) => (v) => values.includes(v);
const optional = (check) => Object.assign((v) => check(v), { optional: true });
const base64 = (max) => (v) => typeof v === 'string' && v.length > 0 && v.length <= max && v.length % 4 === 0 && BASE64.test(v);
const int = (min, max) => (v) => Number.isInteger(v) && v >= min && v <= max;

function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A nested-object check with its own exact member list. */
const shape = (members) => (v) => checkMembers(v, members);

function checkMembers(v, members) {
  if (!isPlainObject(v)) return false;
  for (const k of Object.keys(v)) {
    if (!Object.prototype.hasOwnProperty.call(members, k)) return false;
  }
  for (const [k, check] of Object.entries(members)) {
    const present = Object.prototype.hasOwnProperty.call(v, k);
    if (!present) {
      if (check.optional) continue;
      return false;
    }
    if (!check(v[k])) return false;
  }
  return true;
}

const estError = shape({
  code: oneOf('SERVICE_REFUSED', 'SERVICE_UNREACHABLE', 'TIMEOUT'),
  reason: optional(str(LIMITS.reasonMax)),
  status: optional(int(0, 999)),
});

const csrAttrsError = shape({
  code: oneOf('CSRATTRS_MALFORMED', 'SERVICE_REFUSED', 'SERVICE_UNREACHABLE', 'TIMEOUT'),
  reason: optional(str(LIMITS.reasonMax)),
  status: optional(int(0, 999)),
});

const cardAdminError = shape({
  code: oneOf('CARD_AUTH_FAILED', 'SERVICE_REFUSED', 'SERVICE_UNREACHABLE', 'TIMEOUT'),
  reason: optional(str(LIMITS.reasonMax)),
  status: optional(int(0, 999)),
});

/** A card-management answer: a flat object of short strings (base64 at most a PKCS#7). */
const cardAdminResult = (v) =>
  v === null ||
  (isPlainObject(v) &&
    Object.keys(v).length <= 4 &&
    Object.entries(v).every(([k, x]) => ['renewal', 'witness', 'challenge', 'certificates', 'state'].includes(k) && str(LIMITS.pkcs7Max)(x)));

/** channel -> type -> members (besides `type`). */
const SCHEMAS = Object.freeze({
  [CONTENT_PORT]: {
    // The user confirmed renewal of the card with this token serial (guards against a card swap).
    'renew.start': { serial: nonEmptyStr(LIMITS.serialMax) },
    'renew.cancel': {},
    // Closes the done / failed / cancelled view.
    'renew.dismiss': {},
    'status.refresh': {},
    // "Show the passcode window" in the busy dialog: bring it to the front.
    'pin.reveal': {},
    'est.response': {
      requestId: (v) => typeof v === 'string' && ID.test(v),
      ok: oneOf(true, false),
      pkcs7: optional(base64(LIMITS.pkcs7Max)),
      error: optional(estError),
    },
    'csrattrs.response': {
      requestId: (v) => typeof v === 'string' && ID.test(v),
      ok: oneOf(true, false),
      keyAlgorithm: optional((v) => v === null || ['p384', 'p256', 'rsa2048', 'rsa3072'].includes(v)),
      error: optional(csrAttrsError),
    },
    'cardAdmin.response': {
      requestId: (v) => typeof v === 'string' && ID.test(v),
      ok: oneOf(true, false),
      result: optional(cardAdminResult),
      error: optional(cardAdminError),
    },
  },
  [PIN_PORT]: {
    // confirmFinalTry: the holder ticked "one more wrong passcode locks the card".
    'pin.submit': { pin: nonEmptyStr(LIMITS.pinMax), confirmFinalTry: optional(oneOf(true)) },
    'pin.cancel': {},
  },
});

/**
 * Validates `msg` for `channel`. Returns the message (a fresh plain copy) or null.
 */
export function validate(channel, msg) {
  const types = SCHEMAS[channel];
  if (!types || !isPlainObject(msg)) return null;
  const type = msg.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(types, type)) return null;
  const { type: _t, ...rest } = msg;
  if (!checkMembers(rest, types[type])) return null;
  if (type === 'cardAdmin.response') {
    if (rest.ok === true && (rest.result === undefined || rest.error !== undefined)) return null;
    if (rest.ok === false && (rest.error === undefined || rest.result !== undefined)) return null;
  }
  if (type === 'est.response') {
    // ok:true carries the PKCS#7 and no error; ok:false the reverse.
    if (rest.ok === true && (rest.pkcs7 === undefined || rest.error !== undefined)) return null;
    if (rest.ok === false && (rest.error === undefined || rest.pkcs7 !== undefined)) return null;
  }
  return structuredCloneSafe(msg);
}

function structuredCloneSafe(msg) {
  return JSON.parse(JSON.stringify(msg));
}

/**
 * The origin of a runtime-port sender as the browser reports it (`sender.origin`, or the
 * origin of `sender.url` where the browser has no `origin`). Null when unknown.
 */
export function senderOrigin(sender) {
  if (!sender || typeof sender !== 'object') return null;
  if (typeof sender.origin === 'string' && sender.origin !== 'null') return sender.origin;
  if (typeof sender.url === 'string') {
    try {
      const o = new URL(sender.url).origin;
      return o === 'null' ? null : o;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * A content-script sender is accepted when it is this extension's content script, in the top
 * frame of a tab whose origin is one of the portal origins.
 */
export function isPortalSender(sender, { extensionId, portalOrigins }) {
  if (!sender || sender.id !== extensionId) return false;
  if (!sender.tab || typeof sender.tab.id !== 'number') return false;
  if (sender.frameId !== undefined && sender.frameId !== 0) return false;
  const origin = senderOrigin(sender);
  return origin !== null && portalOrigins.includes(origin);
}

/** The passcode window: this extension's own pin page, nothing else. */
export function isPinSender(sender, { extensionId, pinPageUrl }) {
  if (!sender || sender.id !== extensionId || typeof sender.url !== 'string') return false;
  let url;
  let expected;
  try {
    url = new URL(sender.url);
    expected = new URL(pinPageUrl);
  } catch {
    return false;
  }
  return url.origin === expected.origin && url.pathname === expected.pathname;
}
