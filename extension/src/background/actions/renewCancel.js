/** `renew.cancel`: only the tab that owns the renewal may cancel it. */
export function renewCancel({ renewal }, _msg, { tabKey }) {
  if (renewal.owner !== tabKey) return false;
  return renewal.cancel();
}
