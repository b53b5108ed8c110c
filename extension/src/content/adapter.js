/**
 * The site adapter: the only code that knows the CIS dashboard's DOM. Everything else in the
 * content script is generic. If the dashboard changes, this file (and its test fixture) is
 * what changes.
 *
 * What it knows:
 * - the Select Service menu: a trigger whose text is "Select Service" (or id/data hooks), the
 *   list it controls (`aria-controls`, a <details> list, or the next list), and one existing
 *   item to copy the page's own markup and classes from;
 * - the Manage Smartcard page (for the fallback panel when no menu is found);
 * - the CSRF token the dashboard's own fetches send (`<meta name="csrf-token">`).
 *
 * Classic script; API on `globalThis.cisRenew.adapter`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const MARK = 'data-cis-renew';
  const TRIGGER_TEXT = /^\s*select\s+service\s*$/i;
  const TRIGGER_HOOKS = ['#select-service', '#select-service-button', '[data-menu="select-service"]', '[data-testid="select-service"]'];
  const MENU_HOOKS = ['#select-service-menu', '[data-menu-list="select-service"]'];
  const LIST = 'ul, ol, [role="menu"], [role="list"]';

  function text(el) {
    return (el && el.textContent ? el.textContent : '').replace(/\s+/g, ' ').trim();
  }

  function findTrigger(doc) {
    for (const sel of TRIGGER_HOOKS) {
      const el = doc.querySelector(sel);
      if (el) return el;
    }
    const candidates = doc.querySelectorAll('button, summary, a, [role="button"], [aria-haspopup]');
    for (const el of candidates) if (TRIGGER_TEXT.test(text(el))) return el;
    return null;
  }

  function listFor(doc, trigger) {
    for (const sel of MENU_HOOKS) {
      const el = doc.querySelector(sel);
      if (el) return el.matches(LIST) ? el : el.querySelector(LIST) || el;
    }
    if (!trigger) return null;
    const controls = trigger.getAttribute('aria-controls');
    if (controls) {
      const el = doc.getElementById(controls.split(/\s+/)[0]);
      if (el) return el.matches(LIST) ? el : el.querySelector(LIST) || el;
    }
    const details = trigger.closest('details');
    if (details) {
      const el = details.querySelector(LIST);
      if (el) return el;
    }
    let sib = trigger.nextElementSibling;
    while (sib) {
      if (sib.matches(LIST)) return sib;
      const inner = sib.querySelector(LIST);
      if (inner) return inner;
      sib = sib.nextElementSibling;
    }
    const parent = trigger.parentElement;
    return parent ? parent.querySelector(LIST) : null;
  }

  /** An existing item of the list that is not ours, to copy markup from. */
  function templateItem(list) {
    for (const child of list.children) {
      if (!child.hasAttribute(MARK) && child.tagName !== 'TEMPLATE') return child;
    }
    return null;
  }

  /**
   * The Select Service menu: `{ trigger, list, template }` or null. `template` may be null for
   * an empty list (the item is then built as <li><a>).
   */
  function findMenu(doc) {
    const trigger = findTrigger(doc);
    const list = listFor(doc, trigger);
    if (!list) return null;
    return { trigger, list, template: templateItem(list) };
  }

  /** The class the page uses for a disabled menu item, if any item shows one. */
  function disabledClass(list) {
    for (const child of list.querySelectorAll('[class]')) {
      for (const c of child.classList) if (/(^|[-_])disabled$/i.test(c)) return c;
    }
    return null;
  }

  /**
   * A new menu item in the page's style: a copy of `template` with its text, ids, links and
   * page data removed. Returns `{ item, control }`: `item` goes into the list, `control` is the
   * element that takes focus and clicks.
   */
  function buildItem(doc, menu, label) {
    let item;
    let control;
    if (menu.template) {
      item = menu.template.cloneNode(true);
      for (const el of [item, ...item.querySelectorAll('*')]) {
        el.removeAttribute('id');
        el.removeAttribute('href');
        el.removeAttribute('onclick');
        el.removeAttribute('aria-current');
        el.removeAttribute('aria-controls');
        el.removeAttribute('aria-expanded');
        el.removeAttribute('aria-checked');
        el.removeAttribute('aria-selected');
        el.removeAttribute('aria-disabled');
        el.removeAttribute('disabled');
        el.removeAttribute('form');
        el.removeAttribute('formaction');
        el.removeAttribute('name');
        el.removeAttribute('value');
        for (const a of [...el.attributes]) if (a.name.startsWith('data-')) el.removeAttribute(a.name);
        for (const c of [...el.classList]) if (/(active|current|selected|disabled)/i.test(c)) el.classList.remove(c);
      }
      control = item.matches('a, button, [role="menuitem"]') ? item : item.querySelector('a, button, [role="menuitem"]') || item;
      // Replace the visible text of the control (keep icons/wrappers).
      let leaf = control;
      while (leaf.children.length === 1 && text(leaf.children[0]) === text(leaf)) leaf = leaf.children[0];
      leaf.textContent = label;
    } else {
      item = doc.createElement('li');
      control = doc.createElement('a');
      control.textContent = label;
      item.appendChild(control);
    }
    if (control.tagName === 'BUTTON') control.setAttribute('type', 'button');
    // Keep the page's roving-focus tabindex (-1 in a role=menu); otherwise make it focusable.
    if (control.tagName !== 'BUTTON' && !control.hasAttribute('tabindex')) control.setAttribute('tabindex', '0');
    if (!control.getAttribute('role') && menu.list.getAttribute('role') === 'menu') control.setAttribute('role', 'menuitem');
    item.setAttribute(MARK, 'menu-item');
    control.setAttribute(`${MARK}-control`, ''); // separate: item and control may be one element
    return { item, control };
  }

  /** Our item, if it is already in the list. */
  function existingItem(list) {
    return list.querySelector(`[${MARK}="menu-item"]`);
  }

  /**
   * The serial of the card the sponsor selected in the dashboard (`data-card-serial` on the
   * menu or the "Selected card" line), '' when none is selected, null when the page does not
   * say. The extension only offers renewal of the card that is both selected and in the reader.
   */
  function selectedCardSerial(doc, menu) {
    const holders = [menu && menu.list, doc.getElementById('selected-card')];
    for (const el of holders) {
      if (el && el.hasAttribute('data-card-serial')) return el.getAttribute('data-card-serial').trim();
    }
    return null;
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

  /** Whether this is the Manage Smartcard page (where the fallback panel goes). */
  function isManageSmartcardPage(doc) {
    const page = doc.body && doc.body.getAttribute('data-page');
    if (page && /manage[-_ ]?smart[-_ ]?card/i.test(page)) return true;
    const h1 = doc.querySelector('main h1, h1');
    return /manage\s+smart\s*card/i.test(text(h1));
  }

  /** Where the fallback panel goes: after the page's main heading. */
  function panelAnchor(doc) {
    return doc.querySelector('main h1, h1') || doc.querySelector('main') || doc.body;
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

  ns.adapter = Object.freeze({ MARK, findMenu, buildItem, existingItem, disabledClass, selectedCardSerial, stylesDisabledItems, isManageSmartcardPage, panelAnchor, csrfToken, refreshAfterRenewal });
})(globalThis);
