/**
 * What the extension draws in the dashboard page:
 * - the Renew Certificate menu item (in the page's list, copied from the page's own markup so
 *   it looks native), disabled with `aria-disabled` and its reason as a tooltip referenced by
 *   `aria-describedby`, shown on hover and on focus; the tooltip follows WCAG 1.4.13 (it can be
 *   hovered, Escape dismisses it without closing the page's menu) and sits beside the menu, so
 *   it never covers another item;
 * - the fallback panel (when no menu is found on Manage Smartcard) and the dialog
 *   (confirmation, progress, done, failure), each inside a closed shadow root so the page's
 *   CSS and scripts cannot reach in. The passcode is never here: it has its own window.
 *
 * One dialog from the confirmation to the end: its heading takes focus when its content changes,
 * a live region made with the dialog (empty) announces progress and results once, and focus
 * goes back where the sponsor was when it closes (Select Service when that is gone).
 *
 * Only trusted user events act (a page script's `el.click()` is ignored), and keys act on
 * release, never on auto-repeat: a page cannot move focus onto Renew Certificate and let a held
 * Enter run on into Continue. Continue accepts nothing until the confirmation has been shown
 * for `armDelayMs` (clickjacking), and it does not take focus. All text comes from
 * `t(key, subs)` (chrome.i18n) and goes in with textContent; styles go in through CSSOM so
 * the dashboard's Content-Security-Policy does not block them.
 *
 * Classic script; API on `globalThis.cisRenew.render`.
 */
(function (root) {
  'use strict';
  const ns = (root.cisRenew = root.cisRenew || {});

  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.panel, dialog { font: 16px/1.5 Arial, "Helvetica Neue", sans-serif; color: #212b32; }
.panel { border: 1px solid #d8dde0; border-left: 6px solid #005eb8; background: #fff; padding: 16px 20px; margin: 16px 0; max-width: 40em; }
.panel h2 { font-size: 19px; margin: 0 0 8px; }
.panel p { margin: 0 0 12px; }
dialog { border: 0; border-top: 6px solid #005eb8; padding: 24px 24px 0; width: min(40em, 94vw); max-height: 94vh; overflow: auto; box-shadow: 0 8px 32px rgba(0,0,0,.35); background: #fff; overflow-wrap: anywhere; }
dialog::backdrop { background: rgba(33,43,50,.55); }
h2 { font-size: 22px; margin: 0 0 12px; }
h2:focus { outline: 4px solid #ffeb3b; outline-offset: 2px; }
p { margin: 0 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 0 0 16px; font-size: 15px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d8dde0; vertical-align: top; }
/* The buttons stay in view when the dialog scrolls (200% zoom, small windows). */
dialog .buttons { display: flex; gap: 12px; flex-wrap: wrap; position: sticky; bottom: 0; background: #fff; padding: 12px 0 24px; margin-top: 4px; }
.panel .buttons { display: flex; gap: 12px; flex-wrap: wrap; }
@media (max-height: 480px) {
  dialog { padding: 12px 16px 0; }
  h2 { font-size: 19px; margin-bottom: 6px; }
  p, .card { margin-bottom: 6px; }
  ol.steps { display: flex; flex-wrap: wrap; gap: 0 16px; }
  dialog .buttons { padding: 8px 0 12px; }
}
button { font: inherit; font-weight: 600; padding: 8px 16px; border-radius: 4px; border: 2px solid #005eb8; cursor: pointer; background: #fff; color: #005eb8; max-width: 100%; white-space: normal; text-align: center; }
button.primary { background: #007f3b; border-color: #007f3b; color: #fff; }
button[aria-disabled="true"] { background: #e8edee; border-color: #aeb7bd; color: #4c6272; cursor: not-allowed; }
button:focus-visible, button:focus { outline: 4px solid #ffeb3b; outline-offset: 0; box-shadow: 0 4px 0 #212b32; }
ol.steps { list-style: none; padding: 0; margin: 0 0 12px; }
ol.steps li { padding: 4px 0 4px 28px; position: relative; color: #4c6272; }
ol.steps li .glyph { position: absolute; left: 4px; }
ol.steps li[data-state="done"] { color: #006830; }
ol.steps li[data-state="current"] { color: #212b32; font-weight: 700; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.live { font-weight: 600; margin: 0 0 12px; }
.live:empty { display: none; }
.live.error { border-left: 6px solid #d5281b; padding: 8px 12px; background: #fff5f5; font-weight: 400; }
.note { color: #4c6272; }
.note:empty { display: none; }
.reason { color: #4c6272; font-size: 15px; }
.card { margin: 0 0 12px; }
.card p { margin: 0; }
.unchecked { font-size: 18px; font-weight: 700; border-left: 6px solid #ffb81c; background: #fff9e6; padding: 8px 12px; }
`;

  // The tooltip lives at the end of <body> (not inside the menu item, where it would become
  // part of the item's accessible name) and is placed beside the menu when shown.
  const TIP_STYLE = {
    position: 'fixed', zIndex: '2147483647', display: 'none', maxWidth: 'min(22em, calc(100vw - 16px))', padding: '6px 10px',
    background: '#212b32', color: '#fff', font: '14px/1.4 Arial, sans-serif', borderRadius: '4px',
    whiteSpace: 'normal', pointerEvents: 'auto', textAlign: 'left', left: '0', top: '0', overflowWrap: 'anywhere',
  };
  const TIP_GAP = 6;
  const TIP_HIDE_MS = 300; // time to move the pointer from the item onto the tooltip
  const ARM_DELAY_MS = 500;
  const ACTIVATION_KEYS = new Set(['Enter', ' ']);
  const STEP_GLYPH = { done: '✓', current: '▶', todo: '○' };

  let uid = 0;

  /**
   * Where the tooltip goes: beside the menu list (right, else left), so it covers no other
   * item; below or above the list when neither side has room. Always inside the window.
   * @param {{width:number,height:number}} tip
   * @param {DOMRect} item  the menu item
   * @param {DOMRect} list  the whole menu
   * @param {{innerWidth:number,innerHeight:number}} view
   */
  function placeTip(tip, item, list, view) {
    const clampTop = (top) => Math.max(0, Math.min(top, view.innerHeight - tip.height));
    const clampLeft = (left) => Math.max(0, Math.min(left, view.innerWidth - tip.width));
    if (list.right + TIP_GAP + tip.width <= view.innerWidth) return { left: list.right + TIP_GAP, top: clampTop(item.top), side: 'right' };
    if (list.left - TIP_GAP - tip.width >= 0) return { left: list.left - TIP_GAP - tip.width, top: clampTop(item.top), side: 'left' };
    if (list.bottom + TIP_GAP + tip.height <= view.innerHeight) return { left: clampLeft(list.left), top: list.bottom + TIP_GAP, side: 'below' };
    return { left: clampLeft(list.left), top: Math.max(0, list.top - TIP_GAP - tip.height), side: 'above' };
  }

  function styleShadow(doc, shadow) {
    const win = doc.defaultView;
    try {
      if (win && win.CSSStyleSheet && 'adoptedStyleSheets' in shadow) {
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync(CSS);
        shadow.adoptedStyleSheets = [sheet];
        return;
      }
    } catch {
      /* fall back to a <style> element */
    }
    const style = doc.createElement('style');
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  function el(doc, tag, props, children) {
    const e = doc.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'className') e.className = v;
        else e.setAttribute(k, v);
      }
    }
    for (const c of children || []) if (c) e.appendChild(c);
    return e;
  }

  /** Whether `e` is rendered: connected, and no ancestor (across shadow roots) hidden. */
  function shown(e) {
    if (!e || !e.isConnected) return false;
    const win = e.ownerDocument.defaultView;
    for (let n = e; n; n = n.parentNode || n.host) {
      if (n.nodeType !== 1) continue;
      if (n.hidden) return false;
      const cs = win.getComputedStyle(n);
      if (cs.display === 'none' || cs.visibility === 'hidden') return false;
    }
    return true;
  }

  /**
   * Makes `target` act on a trusted click, or on the release of Enter/Space that was pressed
   * on it (not an auto-repeat, not a key pressed elsewhere whose repeats arrive here after the
   * page moved focus). The key's default action and its way to the page are stopped.
   */
  function onPress(target, trusted, act) {
    let pressed = null;
    let keyActedAt = -Infinity;
    const now = () => (target.ownerDocument.defaultView.performance || Date).now();
    target.addEventListener('click', (e) => {
      e.preventDefault();
      e.stopPropagation();
      if (e.stopImmediatePropagation) e.stopImmediatePropagation();
      if (!trusted(e) || now() - keyActedAt < 100) return; // the click a key release made
      act(e);
    }, true);
    target.addEventListener('keydown', (e) => {
      if (!ACTIVATION_KEYS.has(e.key)) return;
      e.preventDefault();
      e.stopPropagation();
      if (e.stopImmediatePropagation) e.stopImmediatePropagation();
      if (!e.repeat && trusted(e)) pressed = e.key;
    }, true);
    target.addEventListener('keyup', (e) => {
      if (!ACTIVATION_KEYS.has(e.key)) return;
      e.preventDefault();
      e.stopPropagation();
      if (e.stopImmediatePropagation) e.stopImmediatePropagation();
      const was = pressed;
      pressed = null;
      if (was !== e.key || !trusted(e)) return;
      keyActedAt = now();
      act(e);
    }, true);
    target.addEventListener('blur', () => {
      pressed = null;
    });
  }

  /**
   * @param {Document} doc
   * @param {object} o
   * @param {(key: string, subs?: string[]) => string} o.t   message lookup ('' or the key when missing)
   * @param {(e: Event) => boolean} [o.trusted]             user-event check (default e.isTrusted)
   * @param {() => void} o.onRenew                          the user chose Renew Certificate
   * @param {(action: string) => void} o.onAction           'continue' | 'close' | 'cancel' | 'dismiss' | 'retry' | 'showPin' | 'escape'
   * @param {(iso: string) => string} [o.fmt]               date format
   * @param {string} [o.locale]                             the browser's UI language
   * @param {number} [o.armDelayMs]                         how long Continue stays inert
   * @param {{setTimeout, clearTimeout}} [o.timers]
   */
  function createUi(doc, o) {
    const t = o.t;
    const locale = o.locale;
    const trusted = o.trusted || ((e) => e.isTrusted === true);
    const fmt = o.fmt || ((iso) => ns.view.formatDate(iso, undefined, locale));
    const timers = o.timers || doc.defaultView;
    const armDelayMs = Number.isFinite(o.armDelayMs) ? o.armDelayMs : ARM_DELAY_MS;
    const adapter = ns.adapter;
    const has = (key) => {
      const v = t(key);
      return Boolean(v) && v !== key;
    };
    const tm = (m) => t(ns.view.pluralKey(m, locale, has), m.subs);

    let menuState = { enabled: false, reason: { key: 'menuChecking', subs: [] } };
    let menuItem = null; // { item, control, tip, list }
    let panel = null; // { host, button, reason }
    let dialog = null; // { host, shadow, dlg, heading, body, live, buttons, kind, parts }
    let lastFocus = null;

    // Registered first of all (window, capture), so an Escape that only dismisses the tooltip
    // reaches neither the page's menu nor the site adapter's menu keys.
    doc.defaultView.addEventListener(
      'keydown',
      (e) => {
        if (menuItem && menuItem.tooltip) menuItem.tooltip.onKey(e);
      },
      true,
    );

    function renew(e) {
      if (!menuState.enabled) return;
      lastFocus = e.currentTarget || e.target;
      o.onRenew();
    }

    // --- menu item and its tooltip ---

    function makeTooltip(control, list) {
      const tip = el(doc, 'div', { role: 'tooltip', id: `cis-renew-tip-${++uid}`, [adapter.MARK]: 'tooltip' });
      Object.assign(tip.style, TIP_STYLE);
      doc.body.appendChild(tip);
      const win = doc.defaultView;
      let hideTimer = null;
      let overTip = false;
      let dismissed = false;

      const visible = () => tip.style.display !== 'none';
      const place = () => {
        if (!visible()) return;
        const listRect = (list && list.isConnected ? list : control).getBoundingClientRect();
        const box = tip.getBoundingClientRect(); // fractional: offsetHeight rounds, and could push it 1 px out
        const pos = placeTip({ width: Math.ceil(box.width), height: Math.ceil(box.height) }, control.getBoundingClientRect(), listRect, win);
        tip.style.left = `${Math.floor(pos.left)}px`;
        tip.style.top = `${Math.floor(pos.top)}px`;
        tip.setAttribute('data-side', pos.side);
      };
      const cancelHide = () => {
        if (hideTimer) timers.clearTimeout(hideTimer);
        hideTimer = null;
      };
      const hide = () => {
        cancelHide();
        if (!visible()) return;
        tip.style.display = 'none';
        win.removeEventListener('resize', place);
        win.removeEventListener('scroll', place, true);
      };
      const show = () => {
        cancelHide();
        if (menuState.enabled || !tip.textContent || dismissed) return;
        if (!visible()) {
          tip.style.display = 'block';
          win.addEventListener('resize', place);
          win.addEventListener('scroll', place, true);
        }
        place();
      };
      const hideSoon = () => {
        cancelHide();
        hideTimer = timers.setTimeout(() => {
          hideTimer = null;
          if (!overTip && doc.activeElement !== control) hide();
        }, TIP_HIDE_MS);
      };
      const start = () => {
        dismissed = false;
        show();
      };
      // Escape dismisses the tooltip and nothing else (the page's menu stays open); a second
      // Escape reaches the page as usual. Called by the one window listener of createUi.
      const onKey = (e) => {
        if (e.key !== 'Escape' || !visible()) return;
        e.preventDefault();
        e.stopPropagation();
        if (e.stopImmediatePropagation) e.stopImmediatePropagation();
        dismissed = true;
        hide();
      };
      control.addEventListener('mouseenter', start);
      control.addEventListener('focus', start);
      control.addEventListener('mouseleave', hideSoon);
      control.addEventListener('blur', () => {
        if (!overTip) hide();
      });
      tip.addEventListener('mouseenter', () => {
        overTip = true;
        cancelHide();
      });
      tip.addEventListener('mouseleave', () => {
        overTip = false;
        hideSoon();
      });
      return {
        tip,
        show,
        hide,
        place,
        visible,
        onKey,
        remove() {
          hide();
          tip.remove();
        },
      };
    }

    function attachMenu(menu) {
      const existing = adapter.existingItem(menu.list);
      if (menuItem && existing === menuItem.item) return false;
      if (existing) existing.remove();
      const { item, control } = adapter.buildItem(doc, menu, t('menuRenew'));
      if (menuItem && menuItem.tooltip) menuItem.tooltip.remove();
      const tooltip = makeTooltip(control, menu.list);
      onPress(control, trusted, renew);
      menuItem = { item, control, tip: tooltip.tip, tooltip, disabledClass: adapter.disabledClass(menu.list), pageStyles: adapter.stylesDisabledItems(doc), list: menu.list };
      // Beside the page's own services (before the one the adapter names), not after a footer.
      menu.list.insertBefore(item, menu.before && menu.before.parentNode === menu.list ? menu.before : null);
      applyMenuState();
      return true;
    }

    function menuAttached() {
      return Boolean(menuItem && menuItem.item.isConnected);
    }

    function applyMenuState() {
      const reason = menuState.reason ? tm(menuState.reason) : '';
      if (menuItem) {
        const { control, tip, tooltip, disabledClass, pageStyles } = menuItem;
        control.removeAttribute('title'); // the tooltip says it; a title would repeat it
        if (menuState.enabled) {
          control.removeAttribute('aria-disabled');
          control.removeAttribute('aria-describedby');
          if (disabledClass) control.classList.remove(disabledClass);
          control.style.opacity = '';
          control.style.cursor = '';
          if (tip.textContent) tip.textContent = '';
          tooltip.hide();
        } else {
          control.setAttribute('aria-disabled', 'true');
          control.setAttribute('aria-describedby', tip.id);
          if (disabledClass) control.classList.add(disabledClass);
          else if (!pageStyles) {
            control.style.opacity = '0.6';
            control.style.cursor = 'not-allowed';
          }
          if (tip.textContent !== reason) tip.textContent = reason; // no needless DOM mutations
          if (doc.activeElement === control) tooltip.place();
        }
      }
      if (panel) {
        panel.button.setAttribute('aria-disabled', menuState.enabled ? 'false' : 'true');
        panel.reason.textContent = reason;
        panel.reason.hidden = !reason;
      }
    }

    function setMenu(state) {
      menuState = state;
      applyMenuState();
    }

    // --- fallback panel ---

    function showPanel(anchor) {
      if (panel && panel.host.isConnected) return;
      const host = el(doc, 'div', { [adapter.MARK]: 'panel' });
      const shadow = host.attachShadow({ mode: ns.render.SHADOW_MODE });
      styleShadow(doc, shadow);
      const headingId = `cis-renew-panel-h-${++uid}`;
      const reasonId = `cis-renew-panel-r-${uid}`;
      const button = el(doc, 'button', { type: 'button', className: 'primary', 'aria-describedby': reasonId, text: t('menuRenew') });
      const reason = el(doc, 'p', { id: reasonId, className: 'reason' });
      const section = el(doc, 'section', { className: 'panel', 'aria-labelledby': headingId }, [
        el(doc, 'h2', { id: headingId, text: t('panelTitle') }),
        el(doc, 'p', { text: t('panelIntro') }),
        reason,
        button,
      ]);
      onPress(button, trusted, renew);
      shadow.appendChild(section);
      if (anchor && anchor.parentNode && anchor !== doc.body) anchor.parentNode.insertBefore(host, anchor.nextSibling);
      else doc.body.appendChild(host);
      panel = { host, shadow, button, reason };
      applyMenuState();
    }

    function hidePanel() {
      if (panel) panel.host.remove();
      panel = null;
    }

    // --- focus ---

    /** Where focus goes when the dialog closes: where the sponsor was, else Select Service. */
    function homeTarget() {
      if (lastFocus && shown(lastFocus)) return lastFocus;
      const menu = adapter.findMenu(doc);
      if (menu && menu.trigger && shown(menu.trigger)) return menu.trigger;
      if (panel && shown(panel.host)) return panel.button;
      if (menuItem && shown(menuItem.control)) return menuItem.control;
      return null;
    }

    /** Focuses Select Service (after a reload the dashboard starts afresh). */
    function focusHome() {
      lastFocus = null;
      const target = homeTarget();
      if (target) target.focus();
      return target;
    }

    // --- dialog ---

    function ensureDialog() {
      if (dialog && dialog.host.isConnected) return dialog;
      const host = el(doc, 'div', { [adapter.MARK]: 'dialog' });
      const shadow = host.attachShadow({ mode: ns.render.SHADOW_MODE });
      styleShadow(doc, shadow);
      const headingId = `cis-renew-dlg-h-${++uid}`;
      const dlg = el(doc, 'dialog', { 'aria-labelledby': headingId, 'aria-modal': 'true' });
      const heading = el(doc, 'h2', { id: headingId, tabindex: '-1' });
      const body = el(doc, 'div', { className: 'body' });
      // Made now, empty, so screen readers know it before anything is said in it.
      const live = el(doc, 'p', { className: 'live', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
      const buttons = el(doc, 'div', { className: 'buttons' });
      dlg.append(heading, body, live, buttons);
      dlg.addEventListener('cancel', (e) => {
        e.preventDefault();
        o.onAction('escape');
      });
      dlg.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          e.stopPropagation();
          if (!e.repeat) o.onAction('escape');
        }
      });
      shadow.appendChild(dlg);
      doc.body.appendChild(host);
      dialog = { host, shadow, dlg, heading, body, live, buttons, kind: null, parts: {}, lastLive: '', armTimer: null };
      return dialog;
    }

    function openDialog(d) {
      if (d.dlg.open) return;
      if (!lastFocus) lastFocus = doc.activeElement && doc.activeElement !== doc.body ? doc.activeElement : null;
      if (typeof d.dlg.showModal === 'function') {
        try {
          d.dlg.showModal();
          return;
        } catch {
          /* not connected or unsupported */
        }
      }
      d.dlg.setAttribute('open', '');
    }

    function closeDialog() {
      if (!dialog) return;
      if (dialog.armTimer) timers.clearTimeout(dialog.armTimer);
      dialog.host.remove();
      dialog = null;
      const target = homeTarget();
      lastFocus = null;
      if (target) target.focus();
    }

    function focusedIn(d, node) {
      const active = d.shadow.activeElement;
      return Boolean(active && node.contains(active));
    }

    /** Hides `node`, first moving focus to the heading if it is inside: nothing focused is hidden. */
    function hideIn(d, node, hidden) {
      if (hidden && focusedIn(d, node)) d.heading.focus();
      node.hidden = hidden;
    }

    function announce(d, text, isError) {
      d.live.classList.toggle('error', Boolean(isError));
      if (text === d.lastLive) return;
      d.lastLive = text;
      d.live.textContent = text;
    }

    function button(d, label, action, opts = {}) {
      const b = el(doc, 'button', { type: 'button', className: opts.primary ? 'primary' : undefined, text: label, 'data-action': action });
      onPress(b, trusted, () => {
        if (b.getAttribute('aria-disabled') === 'true') return;
        o.onAction(action);
      });
      return b;
    }

    function certTable(certs) {
      const rows = (certs || []).map((c) =>
        el(doc, 'tr', null, [
          el(doc, 'td', { text: t(ns.view.roleKey(c.role)) }),
          el(doc, 'td', { text: ns.view.holderName(c.subject) }),
          el(doc, 'td', {
            text: Number.isInteger(c.daysLeft)
              ? tm({ key: 'dlgExpiresIn', subs: [fmt(c.notAfter), ns.view.formatNumber(c.daysLeft, locale)], count: c.daysLeft })
              : fmt(c.notAfter),
          }),
        ]),
      );
      return el(doc, 'table', null, [
        el(doc, 'thead', null, [
          el(doc, 'tr', null, [
            el(doc, 'th', { scope: 'col', text: t('dlgColRole') }),
            el(doc, 'th', { scope: 'col', text: t('dlgColSubject') }),
            el(doc, 'th', { scope: 'col', text: t('dlgColExpires') }),
          ]),
        ]),
        el(doc, 'tbody', null, rows),
      ]);
    }

    function cardLines(card) {
      const id = ns.view.cardIdentity(card);
      return el(doc, 'div', { className: 'card' }, [
        id.holder ? el(doc, 'p', { text: t('dlgHolder', [id.holder]) }) : null,
        id.serial ? el(doc, 'p', { text: t('dlgSerial', [id.serial]) }) : null,
      ]);
    }

    /** New content of kind `kind`; the heading takes focus (the dialog's start). */
    function rebuild(d, kind, titleKey, bodyNodes, buttonNodes) {
      if (d.armTimer) timers.clearTimeout(d.armTimer);
      d.armTimer = null;
      d.kind = kind;
      d.parts = {};
      d.heading.textContent = t(titleKey);
      const hadFocus = focusedIn(d, d.dlg);
      if (hadFocus) d.heading.focus(); // before the focused node goes
      d.body.replaceChildren(...bodyNodes.filter(Boolean));
      d.buttons.replaceChildren(...buttonNodes.filter(Boolean));
      openDialog(d);
      d.heading.focus();
    }

    /**
     * Shows `model` (null closes): {kind:'confirm', card} | {kind:'progress', renewal} |
     * {kind:'done', renewal} | {kind:'failed', error, retry} | {kind:'cancelled'}.
     */
    function setDialog(model) {
      if (!model) return closeDialog();
      const d = ensureDialog();
      switch (model.kind) {
        case 'confirm': {
          if (d.kind === 'confirm') return;
          const card = model.card;
          const cont = button(d, t('dlgContinue'), 'continue', { primary: true });
          // Inert until the sponsor has had the confirmation in front of them for a moment.
          cont.setAttribute('aria-disabled', 'true');
          rebuild(d, 'confirm', 'dlgConfirmTitle', [
            el(doc, 'p', { text: t('dlgConfirmIntro') }),
            cardLines(card),
            // cardUnchecked (placement): the page shows no serial to compare with the reader's.
            model.cardUnchecked ? el(doc, 'p', { className: 'unchecked', 'data-part': 'card-unchecked', text: t('dlgCardUnchecked', [ns.view.cardHolder(card), String((card.token && card.token.serial) || '')]) }) : null,
            certTable(card.certificates),
          ], [cont, button(d, t('dlgCancel'), 'close')]);
          announce(d, '');
          d.armTimer = timers.setTimeout(() => {
            d.armTimer = null;
            cont.removeAttribute('aria-disabled');
          }, armDelayMs);
          return;
        }
        case 'progress':
          return progress(d, model.renewal);
        case 'done': {
          if (d.kind === 'done') return;
          const certs = model.renewal.result && model.renewal.result.card ? model.renewal.result.card.certificates : [];
          rebuild(d, 'done', 'dlgDoneTitle', [certTable(certs)], [button(d, t('dlgClose'), 'dismiss', { primary: true })]);
          announce(d, t('dlgDoneIntro'));
          return;
        }
        case 'failed': {
          const text = tm(ns.view.errorMessage(model.error, fmt));
          const retry = Boolean(model.retry);
          if (d.kind === 'failed' && d.parts.text === text && d.parts.retry === retry) return;
          rebuild(d, 'failed', 'dlgFailedTitle', [], [retry ? button(d, t('dlgTryAgain'), 'retry', { primary: true }) : null, button(d, t('dlgClose'), 'dismiss', { primary: !retry })]);
          d.parts = { text, retry };
          announce(d, text, true);
          return;
        }
        case 'cancelled': {
          if (d.kind === 'cancelled') return;
          rebuild(d, 'cancelled', 'dlgCancelledTitle', [], [button(d, t('dlgClose'), 'dismiss', { primary: true })]);
          announce(d, t('dlgCancelledText'));
          return;
        }
        default:
          closeDialog();
      }
    }

    function progress(d, r) {
      if (d.kind !== 'progress') {
        const list = el(doc, 'ol', { className: 'steps', 'aria-label': t('dlgStepsLabel') });
        const items = {};
        for (const g of ns.view.STEP_GROUPS) {
          const glyph = el(doc, 'span', { className: 'glyph', 'aria-hidden': 'true' });
          const state = el(doc, 'span', { className: 'sr' });
          items[g.id] = { li: el(doc, 'li', { 'data-step': g.id }, [glyph, el(doc, 'span', { text: t(g.key) }), state]), glyph, state };
          list.appendChild(items[g.id].li);
        }
        const note = el(doc, 'p', { className: 'note' });
        const showPin = button(d, t('dlgShowPinWindow'), 'showPin');
        const cancel = button(d, t('dlgCancel'), 'cancel');
        rebuild(d, 'progress', 'dlgBusyTitle', [list, note], [showPin, cancel]);
        d.parts = { list, items, note, cancel, showPin };
      }
      const p = d.parts;
      for (const g of ns.view.checklist(r.step)) {
        const item = p.items[g.id];
        if (item.li.getAttribute('data-state') === g.state) continue;
        item.li.setAttribute('data-state', g.state);
        item.glyph.textContent = STEP_GLYPH[g.state];
        item.state.textContent = g.state === 'done' ? ` ${t('dlgStepDone')}` : g.state === 'current' ? ` ${t('dlgStepCurrent')}` : '';
        if (g.state === 'current') item.li.setAttribute('aria-current', 'step');
        else item.li.removeAttribute('aria-current');
      }
      let live;
      if (r.cancelling) live = t('dlgCancelling');
      else if (r.phase === 'starting') live = t('dlgStarting');
      else if (r.phase === 'awaitingPin') live = r.finalTry ? t('dlgPinFinalTry') : t('dlgPinWaiting');
      else live = tm(ns.view.stepMessage(r.step, r.pinPad));
      announce(d, live);
      const pinError = r.phase === 'awaitingPin' && r.error ? tm(ns.view.errorMessage(r.error, fmt)) : '';
      p.note.textContent = r.phase === 'completing' ? t('dlgNoCancel') : pinError;
      // Cancel stays where it is (greyed) once installing starts: hiding it would drop focus.
      p.cancel.setAttribute('aria-disabled', r.canCancel ? 'false' : 'true');
      hideIn(d, p.showPin, !(r.phase === 'awaitingPin' && !r.pinPad));
    }

    function dialogKind() {
      return dialog ? dialog.kind : null;
    }

    return {
      attachMenu,
      menuAttached,
      setMenu,
      showPanel,
      hidePanel,
      setDialog,
      dialogKind,
      focusHome,
      get menuControl() {
        return menuItem && menuItem.control;
      },
      /** The tooltip of the menu item (for the site adapter's keyboard pattern): show/hide/place. */
      get tooltip() {
        return menuItem && menuItem.tooltip;
      },
    };
  }

  // Closed in the product; the e2e test build (tools/test-build.mjs) opens it for axe.
  ns.render = Object.freeze({ createUi, placeTip, CSS, SHADOW_MODE: 'closed', ARM_DELAY_MS });
})(globalThis);
