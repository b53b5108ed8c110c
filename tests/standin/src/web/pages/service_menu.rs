//! The **Select Service** control of Manage Smartcard, in one of several
//! markups (`cis-standin serve --service-menu KIND`), so the extension's site
//! adapter is tested against dashboards built differently from the default:
//!
//! - `menu` (default): a `Select Service` button and a `role="menu"` list of
//!   links, the selected card also as `data-card-serial` attributes;
//! - `overlay`: an Angular Material-like menu: the trigger's text carries an
//!   icon ligature, the menu is created in a body-level overlay container when
//!   opened and removed when closed, a wrapper sits between `role="menu"` and
//!   its `role="menuitem"` buttons, and the page's keyboard script knows only
//!   the items it created; the selected card only as text;
//! - `select`: a native `<select>` of services with a Go button; the selected
//!   card only as text and in the table;
//! - `icon`: an icon-only button named by `aria-label` that shows a plain
//!   `<ul>` of links; the selected card only as text and in the table.

use std::fmt::Write;
use std::str::FromStr;

use crate::web::html::esc;

/// Which markup the Select Service control has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceMenu {
    /// The `role="menu"` list under a `Select Service` button.
    #[default]
    Menu,
    /// A menu created on open in a body-level overlay.
    Overlay,
    /// A native `<select>` with a Go button.
    Select,
    /// An icon-only trigger and a plain list of links.
    Icon,
}

impl FromStr for ServiceMenu {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "menu" => Ok(ServiceMenu::Menu),
            "overlay" => Ok(ServiceMenu::Overlay),
            "select" => Ok(ServiceMenu::Select),
            "icon" => Ok(ServiceMenu::Icon),
            other => Err(format!("--service-menu: {other:?} is not one of menu, overlay, select, icon")),
        }
    }
}

/// The dashboard's services: (id, name, path).
const SERVICES: [(&str, &str, &str); 3] = [
    ("unlock", "Unlock Smartcard", "/smartcard/unlock"),
    ("cancel", "Cancel Smartcard", "/smartcard/cancel"),
    ("view-certificates", "View Certificates", "/smartcard/certificates"),
];

/// The "Selected card" line. Only the default markup carries the serial as an
/// attribute; the others show it as text only.
pub fn selected_line(kind: ServiceMenu, selected: Option<&str>) -> String {
    let attr = |s: &str| {
        if kind == ServiceMenu::Menu {
            format!(r#" data-card-serial="{}""#, esc(s))
        } else {
            String::new()
        }
    };
    match selected {
        Some(s) => format!(
            r#"<p id="selected-card"{a} aria-live="polite">Selected card: <strong>{s}</strong></p>"#,
            a = attr(s),
            s = esc(s)
        ),
        None => format!(
            r#"<p id="selected-card"{a} aria-live="polite">No card selected. Select the user's card to see the services.</p>"#,
            a = attr("")
        ),
    }
}

/// The control; `sel_q` is the selected serial, query-encoded ('' for none).
pub fn render(kind: ServiceMenu, sel_q: &str, selected: bool) -> String {
    let disabled = if selected { "" } else { " disabled" };
    let sel = esc(sel_q);
    let mut out = String::new();
    match kind {
        ServiceMenu::Menu => {
            let _ = writeln!(
                out,
                r#"<div class="service-menu-wrap">
<button type="button" id="select-service" aria-haspopup="menu" aria-expanded="false" aria-controls="service-menu"{disabled}>Select Service</button>
<div id="service-menu" role="menu" aria-labelledby="select-service" data-card-serial="{sel}" hidden>"#
            );
            for (id, name, path) in SERVICES {
                let _ = writeln!(
                    out,
                    r#"<a role="menuitem" tabindex="-1" id="service-{id}" data-service="{id}" href="{path}?card={sel}">{name}</a>"#
                );
            }
            out.push_str("</div>\n</div>\n");
        }
        ServiceMenu::Overlay => {
            let _ = writeln!(
                out,
                r#"<div class="service-menu-wrap" data-service-menu="overlay">
<button type="button" id="service-trigger" class="menu-trigger" aria-haspopup="menu" aria-expanded="false"{disabled}><span class="button-label">Select Service</span><span class="material-icons" aria-hidden="true">arrow_drop_down</span></button>
<template id="service-menu-template"><div class="overlay-pane"><div class="overlay-menu" role="menu" tabindex="-1" aria-labelledby="service-trigger"><div class="overlay-menu-content">"#
            );
            for (id, name, path) in SERVICES {
                let _ = writeln!(
                    out,
                    r#"<button type="button" role="menuitem" tabindex="-1" class="overlay-item" data-service="{id}" data-href="{path}?card={sel}"><span class="overlay-item-text">{name}</span></button>"#
                );
            }
            out.push_str("</div></div></div></template>\n</div>\n");
        }
        ServiceMenu::Select => {
            let _ = writeln!(
                out,
                r#"<form id="service-form" class="service-form" data-service-menu="select" method="get" action="/smartcard">
<label for="service-select">Select Service</label>
<select id="service-select" name="service"{disabled}>
<option value="">Choose a service</option>"#
            );
            for (id, name, path) in SERVICES {
                let _ =
                    writeln!(out, r#"<option value="{path}?card={sel}" data-service="{id}">{name}</option>"#);
            }
            let _ = writeln!(
                out,
                r#"</select>
<button type="submit" id="service-go" class="secondary"{disabled}>Go</button>
</form>"#
            );
        }
        ServiceMenu::Icon => {
            let _ = writeln!(
                out,
                r#"<div class="service-links" data-service-menu="icon">
<button type="button" id="services-toggle" class="icon-button" aria-label="Select service" aria-expanded="false" aria-controls="services-list"{disabled}><svg aria-hidden="true" focusable="false" viewBox="0 0 16 16" width="20" height="20"><circle cx="8" cy="3" r="1.6"/><circle cx="8" cy="8" r="1.6"/><circle cx="8" cy="13" r="1.6"/></svg></button>
<ul id="services-list" class="services-list" hidden>"#
            );
            for (id, name, path) in SERVICES {
                let _ = writeln!(
                    out,
                    r#"<li class="services-item"><a class="services-link" data-service="{id}" href="{path}?card={sel}">{name}</a></li>"#
                );
            }
            out.push_str("</ul>\n</div>\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_parses_and_renders_its_markup() {
        assert_eq!("overlay".parse::<ServiceMenu>(), Ok(ServiceMenu::Overlay));
        assert!("dropdown".parse::<ServiceMenu>().is_err());
        let overlay = render(ServiceMenu::Overlay, "S1", true);
        assert!(overlay.contains(r#"<template id="service-menu-template">"#));
        assert!(overlay.contains(r#"aria-hidden="true">arrow_drop_down</span>"#));
        assert!(!overlay.contains("data-card-serial"));
        let select = render(ServiceMenu::Select, "S1", false);
        assert!(select.contains(r#"<select id="service-select" name="service" disabled>"#));
        assert!(select.contains(
            r#"<option value="/smartcard/unlock?card=S1" data-service="unlock">Unlock Smartcard</option>"#
        ));
        assert!(render(ServiceMenu::Icon, "S1", true).contains(r#"aria-label="Select service""#));
        assert!(render(ServiceMenu::Menu, "S1", true).contains(r#"id="service-menu" role="menu""#));
        assert!(selected_line(ServiceMenu::Menu, Some("S1")).contains(r#"data-card-serial="S1""#));
        assert!(!selected_line(ServiceMenu::Icon, Some("S1")).contains("data-card-serial"));
        assert!(selected_line(ServiceMenu::Select, Some("S1")).contains("Selected card: <strong>S1</strong>"));
    }
}
