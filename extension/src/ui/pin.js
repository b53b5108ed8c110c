/**
 * The passcode window's entry: connects to the worker, hands the DOM to pinView.js, and sizes
 * the window to its content at whatever zoom the browser uses for extension pages (so the
 * buttons are never cut off; they wrap when the window is narrow).
 */
import { createPinView } from './pinView.js';

const api = globalThis.browser ?? globalThis.chrome;
const port = api.runtime.connect({ name: 'cis-renew.pin' });

let fitting = null;
/** Resizes this window so the whole page shows (window sizes are in screen pixels, the page in CSS pixels). */
async function fit() {
  try {
    const win = await api.windows.getCurrent();
    let zoom = 1;
    try {
      zoom = (await api.tabs.getZoom()) || 1;
    } catch {
      /* Firefox without a tab: 1 */
    }
    const contentHeight = Math.ceil(document.querySelector('main').getBoundingClientRect().height);
    const frameHeight = Math.max(0, window.outerHeight - Math.round(window.innerHeight * zoom));
    const maxHeight = window.screen.availHeight || 2000;
    const height = Math.min(maxHeight, frameHeight + Math.ceil(contentHeight * zoom) + 4);
    const width = Math.min(window.screen.availWidth || 2000, Math.max(win.width, Math.round(480 * Math.min(zoom, 2))));
    if (Math.abs(height - win.height) > 2 || width !== win.width) await api.windows.update(win.id, { height, width });
  } catch {
    /* the window is going away */
  }
}
function scheduleFit() {
  if (fitting) cancelAnimationFrame(fitting);
  fitting = requestAnimationFrame(() => {
    fitting = null;
    fit();
  });
}

const view = createPinView(document, { port, t: (key, subs) => api.i18n.getMessage(key, subs) || key, onLayout: scheduleFit });
port.onMessage.addListener((msg) => view.onMessage(msg));
// The worker closes this window when it is done with it; if it drops the port, close too.
port.onDisconnect.addListener(() => window.close());
window.addEventListener('resize', scheduleFit);
scheduleFit();
