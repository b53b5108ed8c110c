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
