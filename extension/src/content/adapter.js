/**
 * The site adapter: the only code that knows the CIS dashboard's DOM. Everything else in the
 * content script is generic. The dashboard's markup is not ours and changes, so nothing here
 * depends on one layout; it looks for what a sponsor sees:
 * - the Select Service trigger, by its accessible name (aria-labelledby, aria-label, or the
 *   visible text without icons and aria-hidden parts), matched loosely;
 * - the list of services, by the page's own known services (Unlock Smartcard, Cancel
 *   Smartcard, View Certificates, ...) wherever they are rendered: a menu, a list, an overlay
 *   the page creates on open, or a native <select>; the new entry copies one real item;
 * - the Manage Smartcard page (its main heading, another heading, or the URL);
 * - the card serial the page shows (an attribute, a table row, or a "Selected card: ..." line);
 * - the CSRF token the dashboard's own fetches send (`<meta name="csrf-token">`).
 * IT can point each search at the real markup with `siteAdapter` CSS selectors (policy); a
 * selector that does not parse is ignored and the automatic search runs.
 *
 * Classic script; API on `globalThis.cisRenew.adapter`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const MARK = 'data-cis-renew';
  const TRIGGER_HOOKS = ['#select-service', '#select-service-button', '[data-menu="select-service"]', '[data-testid="select-service"]'];
  const TRIGGER_CANDIDATES = 'button, summary, a, select, [role="button"], [role="combobox"], [aria-haspopup]';
  const TRIGGER_NAME = /\b(select|choose|pick)\b.*\bservices?\b|^services?( menu)?$/;
  const LIST = 'ul, ol, menu, select, [role="menu"], [role="menubar"], [role="listbox"], [role="list"]';
  const MENU_ROLES = '[role="menu"], [role="menubar"], [role="listbox"]';
  const ITEM_CANDIDATES = '[role="menuitem"], [role="option"], [role="link"], [role="button"], option, a, button, li';
  const ITEM_WRAPPER = 'li, [role="none"], [role="presentation"], [role="listitem"]';
  const CONTROL = 'a, button, option, [role="menuitem"], [role="option"], [role="link"], [role="button"]';
  // Names of the dashboard's own services, after normalise(): lower case, letters and digits.
  const KNOWN_SERVICES = [
    /^unlock (smart ?)?card$/,
    /^unblock (smart ?)?card$/,
    /^cancel (smart ?)?card$/,
    /^view (the )?certificates?$/,
    /^view (smart ?)?card( details)?$/,
    /^reset (the )?(pass ?code|pin)$/,
    /^(repair|update|suspend|revoke|replace) (smart ?)?card$/,
  ];
  const ICON_CLASS = /(^|[-_ ])(material-icons|material-symbols|icon|icons|glyphicon|fa|fas|far|mdi|bi|ms)([-_ ]|$)|^(fa|mdi|bi|icon|glyphicon)-/i;
  // Copied classes that describe the state of the copied item, not the look of an item.
  const STATE_CLASS = /(^|[-_])(active|current|selected|disabled|focused|focus-visible|hover|hovered|open|opened|expanded|pressed|checked|highlighted)($|[-_])/i;
  const PAGE_HEADING = /\bmanage (smart ?)?cards?\b/;
  const PAGE_PATH = /\/manage[-_]?smart[-_]?cards?\/?$|^\/smart[-_]?cards?\/?$/i;
  const SERIAL_LABEL = /^(the )?(selected card|card serial( number)?|card number|smart ?card serial( number)?|serial( number)?)$/;
  const SERIAL_LINE = /^(?:the )?(?:selected card|card serial(?: number)?|card number|serial(?: number)?)\s*[:\-–]\s*([A-Za-z0-9][A-Za-z0-9-]{2,63})\b/i;
  const NO_SELECTION = /^no card (is )?selected\b/;

  /** Default settings: the automatic search everywhere. */
  const AUTO = Object.freeze({ mode: 'auto', trigger: null, list: null, item: null, cardSerial: null, page: null });

  function normalise(s) {
    return String(s || '').toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
  }

  function collapse(s) {
    return String(s || '').replace(/\s+/g, ' ').trim();
  }

  /** querySelector that treats a selector the browser refuses as "not found". */
  function query(scope, selector) {
    if (!selector || !scope) return null;
    try {
      return scope.querySelector(selector);
    } catch {
      return null;
    }
  }

  function queryAll(scope, selector) {
    if (!selector || !scope) return [];
    try {
      return [...scope.querySelectorAll(selector)];
    } catch {
      return [];
    }
  }

  function ours(el) {
    return Boolean(el && el.closest && el.closest(`[${MARK}]`));
  }

  function isIcon(el) {
    const tag = el.tagName;
    if (tag === 'MAT-ICON' || tag === 'SVG' || tag === 'svg' || tag === 'IMG') return true;
    if (el.hasAttribute('fonticon') || el.hasAttribute('data-mat-icon-type') || el.hasAttribute('data-icon')) return true;
    const cls = el.getAttribute('class');
    return Boolean(cls && cls.split(/\s+/).some((c) => ICON_CLASS.test(c)));
  }

  /** Visible text: without aria-hidden parts, hidden parts, icons (ligatures), scripts. */
  function visibleText(el) {
    let out = '';
    for (const node of el.childNodes) {
      if (node.nodeType === 3) out += node.data;
      else if (node.nodeType === 1) {
        if (node.getAttribute('aria-hidden') === 'true' || node.hidden || isIcon(node)) continue;
        if (['SCRIPT', 'STYLE', 'TEMPLATE'].includes(node.tagName)) continue;
        out += ` ${visibleText(node)} `;
      }
    }
    return out;
  }

  /** The accessible name, as far as a menu search needs it. */
  function accessibleName(el) {
    const doc = el.ownerDocument;
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
    if (ids.length) {
      const parts = ids.map((id) => doc.getElementById(id)).filter(Boolean).map(visibleText);
      const s = collapse(parts.join(' '));
      if (s) return s;
    }
    const label = el.getAttribute('aria-label');
    if (label && label.trim()) return collapse(label);
    if (el.labels && el.labels.length) {
      const s = collapse([...el.labels].map(visibleText).join(' '));
      if (s) return s;
    }
    if (el.tagName === 'SELECT') return '';
    const s = collapse(visibleText(el));
    return s || collapse(el.getAttribute('title') || '');
  }

  function isKnownService(name) {
    const n = normalise(name);
    return KNOWN_SERVICES.some((re) => re.test(n));
  }

  // --- trigger ---

  function findTrigger(doc, settings) {
    const configured = query(doc, settings.trigger);
    if (configured) return configured;
    for (const sel of TRIGGER_HOOKS) {
      const el = query(doc, sel);
      if (el) return el;
    }
    for (const el of doc.querySelectorAll(TRIGGER_CANDIDATES)) {
      if (ours(el)) continue;
      if (TRIGGER_NAME.test(normalise(accessibleName(el)))) return el;
    }
    return null;
  }

  // --- list ---

  /** Controls in `scope` named as one of the dashboard's services, innermost only. */
  function serviceControls(scope) {
    const found = [];
    for (const el of scope.querySelectorAll(ITEM_CANDIDATES)) {
      if (ours(el) || !isKnownService(el.tagName === 'OPTION' ? el.textContent : accessibleName(el))) continue;
      found.push(el);
    }
    return found.filter((el) => !found.some((other) => other !== el && el.contains(other)));
  }

  /**
   * The element that holds the items (the items' parent) and the item around `control`: the
   * nearest ancestor that also holds another service; with one service, past list-item
   * wrappers only (an <li> around an <a>), so a wrapper around all the items is never the item.
   */
  function itemAndList(control, controls) {
    if (control.tagName === 'OPTION') {
      const select = control.closest('select');
      return select ? { item: control, list: control.parentElement } : null;
    }
    let item = control;
    let parent = control.parentElement;
    while (parent) {
      if (controls.length > 1) {
        if (controls.some((c) => c !== control && parent.contains(c))) return { item, list: parent };
      } else if (!parent.matches(ITEM_WRAPPER)) return { item, list: parent };
      item = parent;
      parent = parent.parentElement;
    }
    return null;
  }

  /** Where to look for the services: the list the trigger names or holds, else the page. */
  function scopesFor(doc, trigger, settings) {
    const scopes = [];
    const configured = query(doc, settings.list);
    if (configured) scopes.push(configured);
    if (trigger) {
      for (const id of (trigger.getAttribute('aria-controls') || trigger.getAttribute('aria-owns') || '').split(/\s+/).filter(Boolean)) {
        const el = doc.getElementById(id);
        if (el) scopes.push(el);
      }
      const details = trigger.closest('details');
      if (details) scopes.push(details);
      if (trigger.tagName === 'SELECT') scopes.push(trigger);
    }
    scopes.push(...queryAll(doc, MENU_ROLES));
    scopes.push(doc.body || doc.documentElement);
    return scopes;
  }

  function templateIn(list, settings) {
    const configured = query(list, settings.item);
    if (configured && !ours(configured)) {
      let item = configured;
      while (item.parentElement && item.parentElement !== list) item = item.parentElement;
      if (item.parentElement === list) return item;
    }
    for (const child of list.children) if (!ours(child) && child.tagName !== 'TEMPLATE') return child;
    return null;
  }

  /** The Go button of a native <select>: its form's submit button, or a button after it. */
  function goButton(select) {
    const form = select.form;
    if (form) {
      const submit = form.querySelector('button:not([type="button"]):not([type="reset"]), input[type="submit"]');
      if (submit) return submit;
    }
    for (let el = select.nextElementSibling || (select.parentElement && select.parentElement.nextElementSibling); el; el = el.nextElementSibling) {
      const b = el.matches('button, input[type="submit"], input[type="button"], [role="button"]') ? el : el.querySelector('button, input[type="submit"], [role="button"]');
      if (b) return b;
    }
    return null;
  }

  /**
   * The Select Service menu, or null:
   * `{ kind: 'menu' | 'select', trigger, list, root, template, before, go }`.
   * `list` holds the items (the new entry goes there, after the last service, before `before`);
   * `root` is the menu as a whole (the element with the menu role, or the list); `go` is a
   * native select's Go button (or null: the select acts on change).
   */
  function findMenu(doc, settings = AUTO) {
    const trigger = findTrigger(doc, settings);
    const configuredList = query(doc, settings.list);
    for (const scope of scopesFor(doc, trigger, settings)) {
      const controls = serviceControls(scope);
      if (!controls.length && !(scope === configuredList)) continue;
      if (!controls.length) {
        const template = templateIn(configuredList, settings);
        return menuOf(trigger, configuredList, template);
      }
      const placed = itemAndList(controls[0], controls);
      if (!placed) continue;
      // A services list elsewhere on the page (help, navigation) is not the menu: without a
      // trigger it counts only on the Manage Smartcard page.
      if (!trigger && scope === (doc.body || doc.documentElement) && !isManageSmartcardPage(doc, settings)) return null;
      const template = settings.item ? templateIn(placed.list, settings) || placed.item : placed.item;
      return menuOf(trigger, placed.list, template, controls);
    }
    return null;
  }

  function menuOf(trigger, list, template, controls = []) {
    const select = list.closest('select');
    if (select) return Object.freeze({ kind: 'select', trigger, list: select, root: select, template: null, before: null, go: goButton(select) });
    // After the last of the page's services, so the entry sits beside them.
    let before = null;
    const items = [...list.children].filter((c) => !ours(c) && controls.some((x) => c.contains(x)));
    if (items.length) before = items[items.length - 1].nextElementSibling;
    while (before && ours(before)) before = before.nextElementSibling;
    const root = list.closest(MENU_ROLES) || list;
    return Object.freeze({ kind: 'menu', trigger, list, root, template: template || null, before, go: null });
  }

  /** The class the page uses for a disabled menu item, if any item shows one. */
  function disabledClass(list) {
    for (const child of list.querySelectorAll('[class]')) {
      for (const c of child.classList) if (/(^|[-_])disabled$/i.test(c)) return c;
    }
    return null;
  }

  /** Puts `label` in place of the copied item's text, keeping its wrappers. */
  function replaceLabel(doc, control, label) {
    const walker = doc.createTreeWalker(control, 4 /* NodeFilter.SHOW_TEXT */);
    const texts = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.data.trim()) texts.push(n);
    if (!texts.length) {
      control.appendChild(doc.createTextNode(label));
      return;
    }
    texts[0].data = label;
    for (const n of texts.slice(1)) n.data = '';
  }

  /**
   * A new menu item in the page's style: a copy of one real item with its text, ids, links,
   * handlers, page data, icons and state classes removed. Returns `{ item, control }`: `item`
   * goes into the list, `control` is the element that takes focus and clicks.
   */
  function buildItem(doc, menu, label) {
    let item;
    let control;
    if (menu.template) {
      item = menu.template.cloneNode(true);
      for (const el of [item, ...item.querySelectorAll('*')]) {
        // Another service's icon would mislead.
        if (el !== item && isIcon(el)) {
          el.remove();
          continue;
        }
        for (const a of [...el.attributes]) {
          const n = a.name;
          if (n.startsWith('data-') || n.startsWith('on') || (n.startsWith('aria-') && n !== 'aria-hidden')) el.removeAttribute(n);
        }
        for (const n of ['id', 'href', 'disabled', 'form', 'formaction', 'name', 'value', 'jsaction', 'target', 'download', 'ping']) el.removeAttribute(n);
        for (const c of [...el.classList]) if (STATE_CLASS.test(c)) el.classList.remove(c);
        if (!el.getAttribute('class') && el.hasAttribute('class')) el.removeAttribute('class');
      }
      control = item.matches(CONTROL) ? item : item.querySelector(CONTROL) || item;
      replaceLabel(doc, control, label);
    } else {
      item = doc.createElement('li');
      control = doc.createElement('a');
      control.textContent = label;
      item.appendChild(control);
    }
    const inMenu = Boolean(menu.root && menu.root.matches(MENU_ROLES));
    if (control.tagName === 'BUTTON') control.setAttribute('type', 'button');
    // A link without href is neither focusable nor a link: give it what it does.
    if (!control.getAttribute('role')) {
      if (inMenu) control.setAttribute('role', menu.root.getAttribute('role') === 'listbox' ? 'option' : 'menuitem');
      else if (control.tagName === 'A' || control.tagName === 'LI' || control.tagName === 'DIV' || control.tagName === 'SPAN') control.setAttribute('role', 'button');
    }
    // Keep the page's roving-focus tabindex (-1 in a role=menu); otherwise make it focusable.
    // In a menu, the page moves focus (roving tabindex): the entry is never the tab stop.
    if (inMenu) control.setAttribute('tabindex', '-1');
    else if (control.tagName !== 'BUTTON' && !control.hasAttribute('tabindex')) control.setAttribute('tabindex', '0');
    item.setAttribute(MARK, 'menu-item');
    control.setAttribute(`${MARK}-control`, ''); // separate: item and control may be one element
    return { item, control };
  }

  /** Our item, if it is already in the list. */
  function existingItem(list) {
    return list.querySelector(`[${MARK}="menu-item"]`);
  }

  /** The keyboard-reachable items of the menu (the page's and ours), in order. */
  function menuControls(menu) {
    const out = [];
    for (const child of menu.list.children) {
      const control = child.matches(CONTROL) ? child : child.querySelector(CONTROL);
      if (!control || control.hidden || control.closest('[hidden]') || control.disabled) continue;
      out.push(control);
    }
    return out;
  }

  /** Whether the menu pops up (keyboard-navigated, closes on Escape) rather than a plain list. */
  function isPopup(menu) {
    const t = menu.trigger;
    return Boolean((menu.root && menu.root.matches(MENU_ROLES)) || (t && (t.hasAttribute('aria-haspopup') || t.hasAttribute('aria-expanded'))));
  }

  /** Whether the menu shows now. */
  function isOpen(menu) {
    if (!menu.list.isConnected || menu.list.closest('[hidden]')) return false;
    const details = menu.list.closest('details');
    if (details && !details.open) return false;
    const t = menu.trigger;
    return !(t && t.getAttribute('aria-expanded') === 'false');
  }

  /** Closes the menu the way its trigger would (used when the page's script does not). */
  function closeMenu(menu, { focusTrigger = false } = {}) {
    if (!isOpen(menu)) return;
    const details = menu.list.closest('details');
    if (details) details.open = false;
    else if (menu.trigger && menu.trigger.getAttribute('aria-expanded') === 'true') menu.trigger.click();
    if (focusTrigger && menu.trigger && menu.trigger.isConnected) menu.trigger.focus();
  }

  // --- the card the page shows ---

  function serialOf(el) {
    if (!el) return null;
    if (el.hasAttribute('data-card-serial')) return el.getAttribute('data-card-serial').trim();
    if ('value' in el && typeof el.value === 'string' && el.tagName !== 'BUTTON' && el.tagName !== 'LI') return el.value.trim();
    const m = collapse(visibleText(el)).match(/[A-Za-z0-9][A-Za-z0-9-]{2,63}/);
    return m ? m[0] : '';
  }

  /** The serial in the selected row of a table with a serial column, or null. */
  function serialFromTable(doc) {
    const rows = queryAll(doc, 'tr[aria-current]:not([aria-current="false"]), tr[aria-selected="true"], tr.selected, tr.is-selected');
    for (const row of rows) {
      if (ours(row)) continue;
      const table = row.closest('table');
      const head = table && (table.tHead ? table.tHead.rows[0] : table.rows[0]);
      if (!head || head === row) continue;
      const col = [...head.cells].findIndex((c) => SERIAL_LABEL.test(normalise(visibleText(c))));
      if (col < 0 || !row.cells[col]) continue;
      return serialOf(row.cells[col]);
    }
    return null;
  }

  /** The serial on a "Selected card: S" line, a dt/dd or th/td pair; '' for "No card selected". */
  function serialFromText(doc) {
    const body = doc.body;
    if (!body) return null;
    for (const el of body.querySelectorAll('dt, th, label')) {
      if (ours(el) || !SERIAL_LABEL.test(normalise(visibleText(el)))) continue;
      const next = el.nextElementSibling;
      if (next && (next.tagName === 'DD' || next.tagName === 'TD')) return serialOf(next);
    }
    for (const el of body.querySelectorAll('p, li, div, span, dd, td')) {
      if (ours(el) || el.querySelector('p, li, div, table')) continue;
      const line = collapse(visibleText(el));
      if (line.length > 160) continue;
      const m = line.match(SERIAL_LINE);
      if (m) return m[1];
      if (NO_SELECTION.test(normalise(line))) return '';
    }
    return null;
  }

  /**
   * The serial of the card the page shows as the one being managed ('' when the page says none
   * is selected, null when it does not say). The extension only renews that card.
   */
  function selectedCardSerial(doc, menu, settings = AUTO) {
    if (settings.cardSerial) {
      const el = query(doc, settings.cardSerial);
      if (el) return serialOf(el);
    }
    const holders = [menu && menu.list, menu && menu.root, doc.getElementById('selected-card')];
    for (const el of holders) {
      if (el && el.hasAttribute('data-card-serial')) return el.getAttribute('data-card-serial').trim();
    }
    const fromTable = serialFromTable(doc);
    if (fromTable !== null) return fromTable;
    return serialFromText(doc);
  }

  /** Whether the page's own CSS already styles `[aria-disabled="true"]` menu items. */
  function stylesDisabledItems(doc) {
    for (const sheet of doc.styleSheets || []) {
      let rules;
      try {
        rules = sheet.cssRules;
      } catch {
        continue; // cross-origin sheet
      }
      for (const rule of rules || []) if (rule.selectorText && rule.selectorText.includes('aria-disabled')) return true;
    }
    return false;
  }

  /** The heading that names the Manage Smartcard page, if any. */
  function pageHeading(doc) {
    const headings = queryAll(doc, 'main h1, [role="main"] h1, h1, main h2, [role="main"] h2, h2, [role="heading"]');
    return headings.find((h) => !ours(h) && PAGE_HEADING.test(normalise(visibleText(h)))) || null;
  }

  /** Whether this is the Manage Smartcard page: the policy's selector, a heading, or the URL. */
  function isManageSmartcardPage(doc, settings = AUTO) {
    if (settings.page) return Boolean(query(doc, settings.page));
    const page = doc.body && doc.body.getAttribute('data-page');
    if (page && /manage[-_ ]?smart[-_ ]?card/i.test(page)) return true;
    if (pageHeading(doc)) return true;
    const loc = doc.defaultView && doc.defaultView.location;
    return Boolean(loc && PAGE_PATH.test(loc.pathname || ''));
  }

  /** Where the fallback panel goes: after the heading that names the page, or the main one. */
  function panelAnchor(doc) {
    return pageHeading(doc) || doc.querySelector('main h1, [role="main"] h1') || doc.querySelector('main') || doc.querySelector('h1') || doc.body;
  }

  /** The session's CSRF token from `<meta name="csrf-token">`, or null. */
  function csrfToken(doc) {
    const m = doc.querySelector('meta[name="csrf-token"]');
    const v = m && m.getAttribute('content');
    return v ? v : null;
  }

  /**
   * After a renewal the dashboard's own card details (expiry, "due") are stale: it renders them
   * on the server from the CA's records. Reloading shows the new certificates; the dashboard
   * keeps the selected card in its session.
   */
  function refreshAfterRenewal(doc) {
    doc.defaultView.location.reload();
  }

  ns.adapter = Object.freeze({
    MARK,
    AUTO,
    accessibleName,
    isKnownService,
    findTrigger,
    findMenu,
    buildItem,
    existingItem,
    menuControls,
    isPopup,
    isOpen,
    closeMenu,
    disabledClass,
    selectedCardSerial,
    stylesDisabledItems,
    isManageSmartcardPage,
    panelAnchor,
    csrfToken,
    refreshAfterRenewal,
  });
})(globalThis);
