/**
 * The one list of error codes the extension knows: the host's wire codes (docs/protocol.md,
 * issues 2 and 3) and the extension's own. Each code has the `_locales` message key shown to the user.
 *
 * Written as a classic script that hangs its API on `globalThis.cisRenew.errors`, because
 * MV3 content scripts cannot be ES modules; the worker and the tests load it with a bare
 * `import './errors.js'` and read the same object.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  /** code -> { key: message key, source: 'host' | 'extension', retry: can the user simply try again } */
  const CODES = Object.freeze({
    // From the host.
    BAD_REQUEST: { key: 'errBadRequest', source: 'host', retry: false },
    MESSAGE_TOO_LARGE: { key: 'errMessageTooLarge', source: 'host', retry: false },
    UNKNOWN_COMMAND: { key: 'errUnknownCommand', source: 'host', retry: false },
    ORIGIN_NOT_ALLOWED: { key: 'errOriginNotAllowed', source: 'host', retry: false },
    CONFIG_INVALID: { key: 'errConfigInvalid', source: 'host', retry: false },
    PCSC_UNAVAILABLE: { key: 'errPcscUnavailable', source: 'host', retry: true },
    TOKEN_UNAVAILABLE: { key: 'errTokenUnavailable', source: 'host', retry: true },
    TOKEN_ERROR: { key: 'errTokenError', source: 'host', retry: true },
    CARD_REMOVED: { key: 'errCardRemoved', source: 'host', retry: true },
    NO_CARD: { key: 'errNoCard', source: 'host', retry: true },
    PIN_INCORRECT: { key: 'errPinIncorrect', source: 'host', retry: true },
    PIN_LOCKED: { key: 'errPinLocked', source: 'host', retry: false },
    PIN_FINAL_TRY: { key: 'errPinFinalTryNeeded', source: 'host', retry: true },
    PIN_INVALID: { key: 'errPinInvalid', source: 'host', retry: true },
    NOT_RENEWABLE: { key: 'errNotRenewable', source: 'host', retry: false },
    CERTIFICATE_MISMATCH: { key: 'errCertificateMismatch', source: 'host', retry: false },
    CERTIFICATE_INVALID: { key: 'errCertificateInvalid', source: 'host', retry: false },
    CERTIFICATE_UNTRUSTED: { key: 'errCertificateUntrusted', source: 'host', retry: false },
    TRUST_NOT_CONFIGURED: { key: 'errTrustNotConfigured', source: 'host', retry: false },
    UNKNOWN_RENEWAL: { key: 'errUnknownRenewal', source: 'host', retry: true },
    BUSY: { key: 'errBusy', source: 'host', retry: true },
    CARD_CHANGED: { key: 'errCardChanged', source: 'host', retry: true },
    KEY_ALGORITHM_NOT_ALLOWED: { key: 'errKeyAlgorithmNotAllowed', source: 'host', retry: false },
    KEY_ALGORITHM_UNSUPPORTED: { key: 'errKeyAlgorithmUnsupported', source: 'host', retry: false },
    // Made by the extension from the host's renewalExpired event (not a wire code).
    RENEWAL_EXPIRED: { key: 'errRenewalExpired', source: 'extension', retry: true },
    CARD_AUTH_FAILED: { key: 'errCardAuthFailed', source: 'host', retry: false },
    RESPONSE_TOO_LARGE: { key: 'errResponseTooLarge', source: 'host', retry: false },
    INTERNAL_ERROR: { key: 'errInternal', source: 'host', retry: true },
    // The extension's own.
    HOST_MISSING: { key: 'errHostMissing', source: 'extension', retry: false },
    HOST_TOO_OLD: { key: 'errHostTooOld', source: 'extension', retry: false },
    SERVICE_REFUSED: { key: 'errServiceRefused', source: 'extension', retry: false },
    SERVICE_UNREACHABLE: { key: 'errServiceUnreachable', source: 'extension', retry: true },
    CSRATTRS_MALFORMED: { key: 'errCsrAttrsMalformed', source: 'extension', retry: false },
    CANCELLED: { key: 'errCancelled', source: 'extension', retry: true },
    TIMEOUT: { key: 'errTimeout', source: 'extension', retry: true },
  });

  /** Message keys for `card.reason` / status `reason` values (why a card is absent or not renewable). */
  const REASONS = Object.freeze({
    NO_READERS: 'reasonNoReaders',
    NO_MANAGED_READER: 'reasonNoManagedReader',
    NO_CARD: 'reasonNoCard',
    NO_TOKEN: 'reasonNoToken',
    NO_CERTIFICATES: 'reasonNoCertificates',
    NOT_DUE: 'reasonNotDue',
    EXPIRED: 'reasonExpired',
    PIN_LOCKED: 'reasonPinLocked',
    PIN_NOT_INITIALIZED: 'reasonPinNotInitialized',
  });

  /** An error carrying a wire code and the extra fields the host sent (triesLeft, reason, ...). */
  class CisError extends Error {
    constructor(code, message, extra) {
      super(message || code);
      this.name = 'CisError';
      this.code = Object.prototype.hasOwnProperty.call(CODES, code) ? code : 'INTERNAL_ERROR';
      if (this.code !== code) this.originalCode = String(code);
      this.extra = extra && typeof extra === 'object' ? { ...extra } : {};
    }

    /** Plain data for messages between extension contexts (no stack, no prototype). */
    toJSON() {
      const out = { code: this.code, message: this.message };
      for (const k of ['triesLeft', 'pin', 'reason', 'status', 'min', 'max']) {
        if (this.extra[k] !== undefined) out[k] = this.extra[k];
      }
      return out;
    }
  }

  /** Turns a host `error` object `{code, message, ...}` into a CisError. */
  function fromWire(error) {
    if (!error || typeof error !== 'object') return new CisError('INTERNAL_ERROR', 'malformed error');
    const { code, message, ...extra } = error;
    return new CisError(String(code), typeof message === 'string' ? message : '', extra);
  }

  /** The message key for a code; unknown codes fall back to INTERNAL_ERROR's. */
  function messageKey(code) {
    return (CODES[code] || CODES.INTERNAL_ERROR).key;
  }

  function isKnown(code) {
    return Object.prototype.hasOwnProperty.call(CODES, code);
  }

  ns.errors = Object.freeze({ CODES, REASONS, CisError, fromWire, messageKey, isKnown });
})(globalThis);
