//! The report as a table for people.

use super::{Report, Status};
use std::fmt::Write as _;

/// The report as a table: one line per check, then the verdict.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cis-renew-host {} at {}\n", report.version, report.executable);
    let _ = writeln!(out, "{:<20} {:<6} DETAIL", "CHECK", "RESULT");
    for c in &report.checks {
        let _ = writeln!(out, "{:<20} {:<6} {}", c.check, c.status.label(), c.detail);
    }
    let failed = report.checks.iter().filter(|c| c.status == Status::Fail).count();
    let _ = if failed == 0 {
        writeln!(out, "\nAll checks passed.")
    } else {
        writeln!(out, "\n{failed} check(s) failed; each FAIL line ends with its fix.")
    };
    out
}
