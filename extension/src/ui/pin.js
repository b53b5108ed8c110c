/** The passcode window's entry: connects to the worker and hands the DOM to pinView.js. */
import { createPinView } from './pinView.js';

const api = globalThis.browser ?? globalThis.chrome;
const port = api.runtime.connect({ name: 'cis-renew.pin' });
const view = createPinView(document, { port, t: (key, subs) => api.i18n.getMessage(key, subs) || key });
port.onMessage.addListener((msg) => view.onMessage(msg));
// The worker closes this window when it is done with it; if it drops the port, close too.
port.onDisconnect.addListener(() => window.close());
