/**
 * The passcode window's entry: connects to the worker, hands the DOM to pinView.js, and sizes
 * the window to its content at whatever zoom the browser uses for extension pages (so the
 * buttons are never cut off; they wrap when the window is narrow; two columns when the screen
 * is too short for one).
 */
import { createPinView } from './pinView.js';
import { planFit } from './fit.js';

const api = globalThis.browser ?? globalThis.chrome;
const port = api.runtime.connect({ name: 'cis-renew.pin' });

let fitting = null;
/** Resizes this window so the whole page shows (fit.js decides; this measures and applies). */
async function fit() {
  try {
    const win = await api.windows.getCurrent();
    let zoom = 1;
    try {
      zoom = (await api.tabs.getZoom()) || 1;
    } catch {
      /* Firefox without a tab: 1 */
    }
    const main = document.querySelector('main');
    const body = document.body;
    // Both layouts measured in one go (no paint between), then the chosen one kept.
    body.classList.remove('columns');
    const oneColumn = Math.ceil(main.getBoundingClientRect().height);
    body.classList.add('columns');
    const twoColumns = Math.ceil(main.getBoundingClientRect().height);
    const frame = Math.max(0, window.outerHeight - Math.round(window.innerHeight * zoom));
    const plan = planFit({ oneColumn, twoColumns, frame, zoom, width: win.width, screen: window.screen });
    body.classList.toggle('columns', plan.columns);
    if (Math.abs(plan.height - win.height) > 2 || plan.width !== win.width) await api.windows.update(win.id, { height: plan.height, width: plan.width });
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
