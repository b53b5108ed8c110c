/** `renew.start` from a dashboard tab: the user confirmed; start the renewal owned by that tab. */
import '../../shared/errors.js';
import { TO_CONTENT } from '../../shared/messages.js';

const { CisError } = globalThis.cisRenew.errors;

export function renewStart({ hub, renewal }, msg, { tabKey }) {
  try {
    renewal.start({ owner: tabKey, status: hub.status, serial: msg.serial });
  } catch (e) {
    const err = e instanceof CisError ? e : new CisError('INTERNAL_ERROR', String(e));
    hub.sendTo(tabKey, { type: TO_CONTENT.RENEW_REFUSED, error: err.toJSON() });
    return false;
  }
  hub.renewalChanged();
  return true;
}
