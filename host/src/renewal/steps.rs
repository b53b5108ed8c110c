//! The named steps of a renewal: progress events for the browser, and the test-only kill hook.
//!
//! `CIS_RENEW_TEST_ABORT_AT=<step>` (or `<step>:<n>` for the n-th time that step is reached,
//! e.g. `install:2`) makes the host call `std::process::abort()` when it reaches that step. The
//! tests use it to stop the host at every point of a renewal and check that the next start
//! recovers. It is harmless in the field: it only ends the process, exactly as a crash, a
//! killed browser or a pulled plug would, which the journal must survive anyway; it grants no
//! access and skips no check; and whoever can set the browser's environment controls the host
//! already. When set, the host says so in its log.

//!
//! `CIS_RENEW_TEST_DELAY=<step>:<milliseconds>` (several separated by commas, e.g.
//! `login:1500,install:1500`) makes the host sleep that long each time it reaches the step
//! (before the card work of the step), as a slow token would: the tests use it to cancel or
//! close the port during a key generation, and to look at the browser's busy dialog at a step. Like the kill hook it only slows the
//! host down, and the host logs that it is set.

use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable of the kill hook.
pub const ABORT_ENV: &str = "CIS_RENEW_TEST_ABORT_AT";
/// Environment variable of the delay hook.
pub const DELAY_ENV: &str = "CIS_RENEW_TEST_DELAY";

/// A renewal step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Signing in to the card.
    Login,
    /// Generating a key pair (n of m).
    GenerateKey,
    /// Building and signing a request (n of m).
    BuildRequest,
    /// Checking the returned certificates.
    Verify,
    /// Writing a certificate and reading it back (n of m).
    Install,
    /// Giving the new objects their final labels.
    Relabel,
    /// Destroying the old pairs.
    RetireOld,
    /// Finished.
    Done,
}

impl Step {
    /// The step's name on the wire and in the hook.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Login => "login",
            Step::GenerateKey => "generateKey",
            Step::BuildRequest => "buildRequest",
            Step::Verify => "verify",
            Step::Install => "install",
            Step::Relabel => "relabel",
            Step::RetireOld => "retireOld",
            Step::Done => "done",
        }
    }
}

/// A progress report: a step, with its position among steps of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The step.
    pub step: Step,
    /// `(n, of)` for steps done once per role.
    pub count: Option<(usize, usize)>,
}

/// Where progress goes (the controller turns it into `progress` events).
pub type ProgressSink<'a> = &'a mut dyn FnMut(Progress);

/// Reports a step to the browser and runs the kill hook. Steps without an event (relabel)
/// only run the hook.
pub fn reach(progress: ProgressSink<'_>, step: Step, count: Option<(usize, usize)>) {
    abort_if_asked(step, count.map(|(n, _)| n));
    if step != Step::Relabel {
        progress(Progress { step, count });
    }
    delay_if_asked(step);
}

/// Runs the delay hook for `step`.
fn delay_if_asked(step: Step) {
    static TARGETS: OnceLock<Vec<(String, u64)>> = OnceLock::new();
    let targets = TARGETS.get_or_init(|| {
        let Some(value) = std::env::var(DELAY_ENV).ok().filter(|v| !v.is_empty()) else {
            return Vec::new();
        };
        log::warn!("{DELAY_ENV}={value}: this host will slow down at those steps (test hook)");
        parse_delays(&value)
    });
    if let Some((_, ms)) = targets.iter().find(|(name, _)| name == step.as_str()) {
        std::thread::sleep(Duration::from_millis(*ms));
    }
}

/// The delay hook's value: `step:ms` entries separated by commas; malformed entries are ignored.
fn parse_delays(value: &str) -> Vec<(String, u64)> {
    value
        .split(',')
        .filter_map(|entry| {
            let (name, ms) = entry.trim().split_once(':')?;
            Some((name.to_owned(), ms.parse().ok()?))
        })
        .collect()
}

/// Runs the kill hook for `step` (the n-th of its kind).
pub fn abort_if_asked(step: Step, n: Option<usize>) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| {
        let value = std::env::var(ABORT_ENV).ok().filter(|v| !v.is_empty());
        if let Some(value) = &value {
            log::warn!("{ABORT_ENV}={value}: this host will abort at that step (test hook)");
        }
        value
    });
    if let Some(target) = target {
        if hook_matches(target, step, n) {
            log::warn!("{ABORT_ENV}: aborting at {}", step.as_str());
            log::logger().flush();
            std::process::abort();
        }
    }
}

/// Whether the hook value `target` names this step (`step`, or `step:n`).
pub fn hook_matches(target: &str, step: Step, n: Option<usize>) -> bool {
    match target.split_once(':') {
        None => target == step.as_str(),
        Some((name, count)) => name == step.as_str() && count.parse::<usize>().ok() == Some(n.unwrap_or(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_matches_step_and_optional_count() {
        let cases = [
            ("login", Step::Login, None, true),
            ("login", Step::GenerateKey, Some(1), false),
            ("generateKey", Step::GenerateKey, Some(2), true),
            ("generateKey:2", Step::GenerateKey, Some(2), true),
            ("generateKey:2", Step::GenerateKey, Some(1), false),
            ("retireOld:1", Step::RetireOld, None, true),
            ("install:x", Step::Install, Some(1), false),
        ];
        for (target, step, n, expected) in cases {
            assert_eq!(hook_matches(target, step, n), expected, "{target} {step:?} {n:?}");
        }
    }

    #[test]
    fn delay_hook_takes_one_or_several_steps() {
        assert_eq!(parse_delays("generateKey:2500"), vec![("generateKey".to_owned(), 2500)]);
        assert_eq!(
            parse_delays("login:800, install:1200"),
            vec![("login".to_owned(), 800), ("install".to_owned(), 1200)]
        );
        assert_eq!(parse_delays("login,install:x,verify:5"), vec![("verify".to_owned(), 5)]);
    }
}
