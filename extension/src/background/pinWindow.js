/**
 * The passcode window: an extension page (`src/ui/pin.html`) in a popup window of its own.
 *
 * Why a window and not an iframe in the dashboard: a page can draw anything inside its own
 * DOM, including a lookalike of an embedded frame, and a web-accessible frame would also be
 * framable by any site. A browser window showing the extension's name and origin is something
 * the page cannot fake or cover, needs no web_accessible_resources, and receives keystrokes
 * the page never sees.
 *
 * The driver implements the `pin` dependency of Renewal: open(message), show(message), close().
 * Every new ask (`pin.show`) brings the window to the front and focuses it, and `reveal()`
 * does the same for "Show the passcode window" in the dashboard: it may have fallen behind.
 * The page connects a `cis-renew.pin` port; `attach()` accepts it only from the window this
 * driver opened.
 */

export const PIN_PAGE = 'src/ui/pin.html';
// The first size; the page then fits the window to its content at its zoom (pin.js).
const WIDTH = 480;
const HEIGHT = 560;

export class PinWindow {
  /**
   * @param {object} deps { windows: chrome.windows, pageUrl: full URL of pin.html, onClosed() }
   */
  constructor({ windows, pageUrl, onClosed = () => {}, log = () => {} }) {
    this._windows = windows;
    this._pageUrl = pageUrl;
    this._onClosed = onClosed;
    this._log = log;
    this.windowId = null;
    this._port = null;
    this._pending = null; // the message to show once the page connects
    this._opening = null;
  }

  /** Opens the window (centred on `near`, a browser window object, when given). */
  async open(message, near) {
    this._pending = message;
    if (this.windowId !== null) {
      this.show(message);
      return;
    }
    const opts = { url: this._pageUrl, type: 'popup', width: WIDTH, height: HEIGHT, focused: true };
    if (near && Number.isInteger(near.left) && Number.isInteger(near.width)) {
      opts.left = Math.max(0, Math.round(near.left + (near.width - WIDTH) / 2));
      opts.top = Math.max(0, Math.round((near.top || 0) + ((near.height || HEIGHT) - HEIGHT) / 3));
    }
    const win = await this._windows.create(opts);
    this.windowId = win && typeof win.id === 'number' ? win.id : null;
  }

  /** Accepts the page's port if it lives in our window. Returns true when attached. */
  attach(port, sender) {
    const windowId = sender && sender.tab ? sender.tab.windowId : undefined;
    if (this.windowId === null || (windowId !== undefined && windowId !== this.windowId) || this._port) {
      return false;
    }
    this._port = port;
    if (this._pending) this._post(this._pending);
    return true;
  }

  /** The port went away (window closed, page reloaded). */
  detach(port) {
    if (this._port === port) this._port = null;
  }

  show(message) {
    this._pending = message;
    if (this._port) this._post(message);
    if (message && message.type === 'pin.show') this.reveal();
  }

  /** Brings the window to the front with focus (and asks the OS to flash it if it cannot). */
  reveal() {
    if (this.windowId === null) return;
    Promise.resolve(this._windows.update(this.windowId, { focused: true, drawAttention: true })).catch((e) => this._log('focusing the passcode window failed', e));
  }

  close() {
    const id = this.windowId;
    const port = this._port;
    this.windowId = null;
    this._port = null;
    this._pending = null;
    if (port) {
      try {
        port.disconnect();
      } catch {
        /* gone */
      }
    }
    if (id !== null) {
      Promise.resolve(this._windows.remove(id)).catch(() => {
        /* the user closed it already */
      });
    }
  }

  /** windows.onRemoved: the user closed the window. */
  windowRemoved(id) {
    if (id !== this.windowId) return;
    this.windowId = null;
    this._port = null;
    this._pending = null;
    this._onClosed();
  }

  _post(message) {
    try {
      this._port.postMessage(message);
    } catch (e) {
      this._log('posting to the passcode window failed', e);
    }
  }
}
