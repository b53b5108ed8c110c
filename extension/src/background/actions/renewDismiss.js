/** `renew.dismiss`: the owner closes a finished renewal's view. */
export function renewDismiss({ renewal }, _msg, { tabKey }) {
  if (renewal.owner !== tabKey) return false;
  renewal.dismiss();
  return true;
}
