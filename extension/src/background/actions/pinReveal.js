/** `pin.reveal` from the owner tab: the passcode window comes to the front (it may be behind the browser). */
export function pinReveal({ renewal, pinWindow }, _msg, { tabKey }) {
  if (renewal.owner !== tabKey || renewal.phase !== 'awaitingPin') return false;
  pinWindow.reveal();
  return true;
}
