/**
 * Pure view logic for the dashboard UI: from the worker's `state` message to what the menu
 * item and the dialog say, as `_locales` keys with substitutions. No DOM, no browser API.
 *
 * Classic script (loaded before the content script's other files); API on
 * `globalThis.cisRenew.view`. Needs `cisRenew.errors`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const msg = (key, ...subs) => ({ key, subs: subs.map((s) => String(s)) });

  /**
   * "3 March 2026" in `locale` (the browser's UI language; en-GB when not given) for the user's
   * local date of an RFC 3339 instant; '' when unparsable.
   */
  function formatDate(iso, timeZone, locale) {
    const d = new Date(iso);
    if (typeof iso !== 'string' || Number.isNaN(d.getTime())) return '';
    const opts = { day: 'numeric', month: 'long', year: 'numeric' };
    if (timeZone) opts.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(locale || 'en-GB', opts).format(d);
    } catch {
      return new Intl.DateTimeFormat('en-GB', opts).format(d); // an unknown UI language tag
    }
  }

  /** A whole number in `locale` ("1,000" / "1.000"). */
  function formatNumber(n, locale) {
    try {
      return new Intl.NumberFormat(locale || 'en-GB').format(n);
    } catch {
      return String(n);
    }
  }

  /**
   * A message whose wording depends on a count: `{key, subs, count}`. The renderer picks
   * `<key>_<plural category>` (Intl.PluralRules in the UI language), falling back to
   * `<key>_other`; chrome.i18n itself has no plural forms.
   */
  const countMsg = (key, count, ...subs) => ({ key, subs: subs.map((s) => String(s)), count });

  /** The message key for `m` in `locale`, given which keys exist (`has(key)`). */
  function pluralKey(m, locale, has) {
    if (!Number.isInteger(m.count)) return m.key;
    let category = 'other';
    try {
      category = new Intl.PluralRules(locale || 'en').select(m.count);
    } catch {
      /* unknown locale: 'other' */
    }
    const exact = `${m.key}_${m.count === 0 ? 'zero' : category}`;
    if (m.count === 0 && has(exact)) return exact;
    const own = `${m.key}_${category}`;
    return has(own) ? own : `${m.key}_other`;
  }

  /** The holder's name from a subject DN (its CN), or '' ("C=GB, O=NHS, CN=Jane Smith"). */
  function holderName(subject) {
    if (typeof subject !== 'string') return '';
    // RFC 4514 order puts CN first, OpenSSL's order last: take the last CN either way.
    const parts = subject.split(/,(?=\s*[A-Za-z][A-Za-z0-9.-]*\s*=)/);
    let cn = '';
    for (const part of parts) {
      const m = /^\s*CN\s*=\s*(.*?)\s*$/i.exec(part);
      if (m) cn = m[1].replace(/\\(.)/g, '$1');
    }
    return cn;
  }

  /** The card as the sponsor knows it from the dashboard: `{holder, serial}`. */
  function cardIdentity(card) {
    const certs = (card && card.certificates) || [];
    const auth = certs.find((c) => c.role === 'authentication') || certs[0];
    return { holder: holderName(auth && auth.subject), serial: String((card && card.token && card.token.serial) || '') };
  }

  /** Why there is no renewable card, as a message. */
  function reasonMessage(reason, card, fmt) {
    const { REASONS } = ns.errors;
    if (reason === 'NOT_DUE' && card && card.renewableFrom) {
      const date = fmt(card.renewableFrom);
      if (date) return msg('reasonNotDueUntil', date);
    }
    if (reason && Object.prototype.hasOwnProperty.call(REASONS, reason)) return msg(REASONS[reason]);
    return msg('reasonUnknown');
  }

  /** Service refusals by HTTP status: the service's own words go to the log, not the sentence. */
  const SERVICE_STATUS = Object.freeze({
    200: 'errServiceBadAnswer',
    202: 'errServicePending',
    400: 'errServiceBadRequest',
    401: 'errServiceSignedOut',
    403: 'errServiceForbidden',
    404: 'errServiceNotFound',
    409: 'errServiceConflict',
    429: 'errServiceBusy',
  });

  /** An error object `{code, triesLeft?, pin?, reason?, status?}` as a message. */
  function errorMessage(error, fmt) {
    const { messageKey } = ns.errors;
    if (!error) return msg('errInternal');
    switch (error.code) {
      case 'PIN_INCORRECT':
        if (error.pin === 'finalTry' || error.triesLeft === 1) return msg('errPinFinalTry');
        if (Number.isInteger(error.triesLeft)) return countMsg('errPinIncorrectTries', error.triesLeft, error.triesLeft);
        if (error.pin === 'countLow') return msg('errPinCountLow');
        return msg('errPinIncorrect');
      case 'SERVICE_REFUSED':
        if (Object.prototype.hasOwnProperty.call(SERVICE_STATUS, error.status)) return msg(SERVICE_STATUS[error.status]);
        if (Number.isInteger(error.status) && error.status >= 500) return msg('errServiceFailed');
        return msg(messageKey(error.code));
      case 'SERVICE_UNREACHABLE':
        if (Number.isInteger(error.status)) return msg('errServiceUnavailable');
        return msg(messageKey(error.code));
      case 'NOT_RENEWABLE':
        if (error.reason) return reasonMessage(error.reason, null, fmt || formatDate);
        return msg(messageKey(error.code));
      default:
        return msg(messageKey(error.code));
    }
  }

  /** Whether the failure allows simply trying again (a Try again button). */
  function canRetry(error) {
    if (error && error.code === 'SERVICE_REFUSED') return [202, 409, 429].includes(error.status) || (Number.isInteger(error.status) && error.status >= 500);
    const c = error && ns.errors.CODES[error.code];
    return Boolean(c && c.retry);
  }

  /**
   * The Renew Certificate control: `{ enabled, reason: null | {key, subs} }`.
   * @param {object|null} state the worker's `state` (null before the first one)
   * @param {object} [page]       { selectedSerial } from the site adapter
   */
  function menuState(state, fmt = formatDate, page = {}) {
    if (!state) return { enabled: false, reason: msg('menuChecking') };
    if (state.renewalElsewhere) return { enabled: false, reason: msg('menuBusyElsewhere') };
    const r = state.renewal;
    if (r && ['awaitingPin', 'beginning', 'requesting', 'completing'].includes(r.phase)) {
      return { enabled: false, reason: msg('menuRenewing') };
    }
    const host = state.host || {};
    if (host.error) return { enabled: false, reason: errorMessage(host.error, fmt) };
    if (state.statusError) return { enabled: false, reason: errorMessage(state.statusError, fmt) };
    const status = state.status;
    if (!status) return { enabled: false, reason: msg('menuChecking') };
    const card = status.card;
    if (!card) return { enabled: false, reason: reasonMessage(status.reason || 'NO_CARD', null, fmt) };
    // The page says which card the sponsor selected ('' none, null: the page does not say).
    const selected = page.selectedSerial;
    if (selected === '') return { enabled: false, reason: msg('reasonNoSelection') };
    if (typeof selected === 'string' && card.token && !sameSerial(card.token.serial, selected)) {
      return { enabled: false, reason: msg('reasonOtherCard', selected, card.token.serial) };
    }
    // An interrupted renewal is finished by the next one, due or not (the host's status says
    // what remains): offer it.
    if (card.interrupted && card.reason !== 'PIN_LOCKED') return { enabled: true, reason: null, finish: true };
    if (!card.renewable) return { enabled: false, reason: reasonMessage(card.reason, card, fmt) };
    return { enabled: true, reason: null };
  }

  /** Whether two card serials are the same (case, spaces, dashes and leading zeros aside). */
  function sameSerial(a, b) {
    const n = (s) => String(s).toLowerCase().replace(/[^0-9a-z]/g, '').replace(/^0+/, '');
    return n(a) === n(b);
  }

  /** The card holder: the CN of the authentication certificate (or any), else the card label. */
  function cardHolder(card) {
    const certs = (card && card.certificates) || [];
    const ordered = [...certs.filter((c) => c.role === 'authentication'), ...certs];
    for (const c of ordered) {
      const m = /(?:^|[,/]\s*)CN\s*=\s*([^,/]+)/.exec(c.subject || '');
      if (m) return m[1].trim();
    }
    return (card && card.token && card.token.label) || '';
  }

  /** The steps shown as a checklist, and which host/extension steps belong to each. */
  const STEP_GROUPS = Object.freeze([
    { id: 'signIn', key: 'groupSignIn', steps: ['login'] },
    { id: 'keys', key: 'groupKeys', steps: ['generateKey', 'buildRequest'] },
    { id: 'request', key: 'groupRequest', steps: ['request'] },
    { id: 'install', key: 'groupInstall', steps: ['verify', 'install', 'retireOld'] },
    { id: 'check', key: 'groupCheck', steps: ['done'] },
  ]);

  /** The current step's sentence ("Making keys (1 of 2)"). */
  function stepMessage(step, pinPad) {
    if (!step) return msg('stepStarting');
    const counted = Number.isInteger(step.n) && Number.isInteger(step.of) && step.of > 1;
    switch (step.name) {
      case 'login':
        return msg(pinPad ? 'stepLoginPinPad' : 'stepLogin');
      case 'generateKey':
        return counted ? msg('stepGenerateKeyOf', step.n, step.of) : msg('stepGenerateKey');
      case 'buildRequest':
        return counted ? msg('stepBuildRequestOf', step.n, step.of) : msg('stepBuildRequest');
      case 'request':
        return counted ? msg('stepRequestOf', step.n, step.of) : msg('stepRequest');
      case 'verify':
        return msg('stepVerify');
      case 'install':
        return counted ? msg('stepInstallOf', step.n, step.of) : msg('stepInstall');
      case 'retireOld':
        return msg('stepRetireOld');
      case 'done':
        return msg('stepDone');
      default:
        return msg('stepStarting');
    }
  }

  /** Each checklist group's state for the current step: 'done' | 'current' | 'todo'. */
  function checklist(step) {
    const idx = step ? STEP_GROUPS.findIndex((g) => g.steps.includes(step.name)) : -1;
    return STEP_GROUPS.map((g, i) => ({ id: g.id, key: g.key, state: idx < 0 ? 'todo' : i < idx ? 'done' : i === idx ? 'current' : 'todo' }));
  }

  /** A role as a message key. */
  function roleKey(role) {
    return role === 'authentication' ? 'roleAuthentication' : role === 'signing' ? 'roleSigning' : 'roleOther';
  }

  ns.view = Object.freeze({ sameSerial, cardHolder, formatDate, formatNumber, pluralKey, holderName, cardIdentity, reasonMessage, errorMessage, canRetry, menuState, stepMessage, checklist, roleKey, STEP_GROUPS });
})(globalThis);
