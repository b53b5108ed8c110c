/** `pin.cancel` from the passcode window (Cancel button or Esc). */
export function pinCancel({ renewal }) {
  renewal.pinCancelled();
  return true;
}
