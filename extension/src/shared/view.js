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

  /** "3 March 2026" (the user's local date of an RFC 3339 instant); '' when unparsable. */
  function formatDate(iso, timeZone) {
    const d = new Date(iso);
    if (typeof iso !== 'string' || Number.isNaN(d.getTime())) return '';
    const opts = { day: 'numeric', month: 'long', year: 'numeric' };
    if (timeZone) opts.timeZone = timeZone;
    return new Intl.DateTimeFormat('en-GB', opts).format(d);
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

  /** An error object `{code, triesLeft?, pin?, reason?}` as a message. */
  function errorMessage(error, fmt) {
    const { messageKey } = ns.errors;
    if (!error) return msg('errInternal');
    switch (error.code) {
      case 'PIN_INCORRECT':
        if (error.pin === 'finalTry' || error.triesLeft === 1) return msg('errPinFinalTry');
        if (Number.isInteger(error.triesLeft)) return msg('errPinIncorrectTries', error.triesLeft);
        if (error.pin === 'countLow') return msg('errPinCountLow');
        return msg('errPinIncorrect');
      case 'SERVICE_REFUSED':
      case 'SERVICE_UNREACHABLE':
        if (error.reason) return msg(messageKey(error.code) + 'Reason', error.reason);
        return msg(messageKey(error.code));
      case 'NOT_RENEWABLE':
        if (error.reason) return reasonMessage(error.reason, null, fmt || formatDate);
        return msg(messageKey(error.code));
      default:
        return msg(messageKey(error.code));
    }
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

  ns.view = Object.freeze({ sameSerial, cardHolder, formatDate, reasonMessage, errorMessage, menuState, stepMessage, checklist, roleKey, STEP_GROUPS });
})(globalThis);
