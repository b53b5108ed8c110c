/**
 * The worker's one dispatch switch: a validated message from a content script or the passcode
 * window goes to its action. Validation and the sender check happen before this (worker.js);
 * an action never sees a raw message.
 */
import { renewStart } from './actions/renewStart.js';
import { renewCancel } from './actions/renewCancel.js';
import { renewDismiss } from './actions/renewDismiss.js';
import { statusRefresh } from './actions/statusRefresh.js';
import { estResponse } from './actions/estResponse.js';
import { cardAdminResponse } from './actions/cardAdminResponse.js';
import { csrAttrsResponse } from './actions/csrAttrsResponse.js';
import { pinSubmit } from './actions/pinSubmit.js';
import { pinCancel } from './actions/pinCancel.js';
import { pinReveal } from './actions/pinReveal.js';

/**
 * @param {object} app  { hub, renewal, pinWindow }
 * @param {object} msg  a message accepted by messages.validate()
 * @param {object} ctx  { channel, tabKey } (tabKey for content-script messages)
 */
export function dispatch(app, msg, ctx) {
  switch (msg.type) {
    case 'renew.start':
      return renewStart(app, msg, ctx);
    case 'renew.cancel':
      return renewCancel(app, msg, ctx);
    case 'renew.dismiss':
      return renewDismiss(app, msg, ctx);
    case 'status.refresh':
      return statusRefresh(app, msg, ctx);
    case 'est.response':
      return estResponse(app, msg, ctx);
    case 'csrattrs.response':
      return csrAttrsResponse(app, msg, ctx);
    case 'cardAdmin.response':
      return cardAdminResponse(app, msg, ctx);
    case 'pin.submit':
      return pinSubmit(app, msg, ctx);
    case 'pin.cancel':
      return pinCancel(app, msg, ctx);
    case 'pin.reveal':
      return pinReveal(app, msg, ctx);
    default:
      return undefined;
  }
}
