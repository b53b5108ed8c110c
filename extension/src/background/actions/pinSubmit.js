/**
 * `pin.submit` from the passcode window. The PIN goes straight into the renewal's renewBegin
 * request; this function keeps no reference to it.
 */
export function pinSubmit({ renewal }, msg) {
  return renewal.pinSubmitted(msg.pin, { confirmFinalTry: msg.confirmFinalTry === true });
}
