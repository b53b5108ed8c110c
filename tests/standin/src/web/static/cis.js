// Stand-in CIS dashboard: the Select Service menu (open/close, keyboard).
// Items are looked up on every event, so items that an extension adds to
// #service-menu take part in keyboard navigation too.
(function () {
  "use strict";
  var button = document.getElementById("select-service");
  var menu = document.getElementById("service-menu");
  if (!button || !menu) return;

  function items() {
    return Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
  }
  function open(focusFirst) {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (focusFirst) {
      var list = items();
      if (list.length) list[0].focus();
    }
    menu.dispatchEvent(new CustomEvent("cis:service-menu-open", { bubbles: true }));
  }
  function close(refocus) {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  }

  button.addEventListener("click", function () {
    if (menu.hidden) open(false); else close(false);
  });
  button.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      open(true);
    }
  });
  menu.addEventListener("keydown", function (e) {
    var list = items();
    var i = list.indexOf(document.activeElement);
    if (e.key === "ArrowDown") {
      e.preventDefault();
      list[(i + 1) % list.length].focus();
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      list[(i - 1 + list.length) % list.length].focus();
    } else if (e.key === "Home") {
      e.preventDefault();
      list[0].focus();
    } else if (e.key === "End") {
      e.preventDefault();
      list[list.length - 1].focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      close(true);
    } else if (e.key === "Tab") {
      close(false);
    }
  });
  document.addEventListener("click", function (e) {
    if (!menu.hidden && !menu.contains(e.target) && !button.contains(e.target)) close(false);
  });
})();

// --service-menu overlay: like Angular Material's mat-menu. The menu is created in a
// body-level overlay container when opened and removed when closed; its keyboard handling
// knows only the items it created (as a QueryList would), so an item another script adds is
// not in its list.
(function () {
  "use strict";
  var trigger = document.getElementById("service-trigger");
  var template = document.getElementById("service-menu-template");
  if (!trigger || !template) return;
  var container = null;
  var pane = null;

  function close(refocus) {
    if (!pane) return;
    pane.remove();
    pane = null;
    trigger.setAttribute("aria-expanded", "false");
    if (refocus) trigger.focus();
  }
  function open(focusFirst) {
    if (!container) {
      container = document.createElement("div");
      container.className = "overlay-container";
      document.body.appendChild(container);
    }
    pane = template.content.firstElementChild.cloneNode(true);
    var r = trigger.getBoundingClientRect();
    pane.style.left = Math.round(r.left + window.scrollX) + "px";
    pane.style.top = Math.round(r.bottom + window.scrollY + 4) + "px";
    container.appendChild(pane);
    trigger.setAttribute("aria-expanded", "true");
    var menu = pane.querySelector('[role="menu"]');
    var items = Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
    items.forEach(function (item) {
      item.addEventListener("click", function () {
        var href = item.getAttribute("data-href");
        close(false);
        if (href) window.location.assign(href);
      });
    });
    menu.addEventListener("keydown", function (e) {
      var i = items.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && i >= 0) {
        e.preventDefault();
        items[(i + 1) % items.length].focus();
      } else if (e.key === "ArrowUp" && i >= 0) {
        e.preventDefault();
        items[(i - 1 + items.length) % items.length].focus();
      } else if (e.key === "Home") {
        e.preventDefault();
        items[0].focus();
      } else if (e.key === "End") {
        e.preventDefault();
        items[items.length - 1].focus();
      } else if (e.key === "Escape") {
        e.preventDefault();
        close(true);
      } else if (e.key === "Tab") {
        close(false);
      }
    });
    // A click anywhere in the panel closes it (mat-menu does the same).
    menu.addEventListener("click", function () {
      close(false);
    });
    (focusFirst ? items[0] : menu).focus();
  }

  trigger.addEventListener("click", function () {
    if (pane) close(false); else open(false);
  });
  trigger.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (!pane) open(true);
    }
  });
  document.addEventListener("click", function (e) {
    if (pane && !pane.contains(e.target) && !trigger.contains(e.target)) close(false);
  });
})();

// --service-menu select: a native select of services; Go opens the chosen one.
(function () {
  "use strict";
  var form = document.getElementById("service-form");
  var select = document.getElementById("service-select");
  if (!form || !select) return;
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (select.value) window.location.assign(select.value);
  });
})();

// --service-menu icon: an icon-only button shows and hides a plain list of links.
(function () {
  "use strict";
  var toggle = document.getElementById("services-toggle");
  var list = document.getElementById("services-list");
  if (!toggle || !list) return;
  toggle.addEventListener("click", function () {
    list.hidden = !list.hidden;
    toggle.setAttribute("aria-expanded", String(!list.hidden));
  });
})();
