//! The watch loop against scripted PC/SC answers: first the tracker's decisions step by step,
//! then the whole loop against a scripted service that answers as Windows does.

use super::super::track::{Known, Next, Slot, Tracker, WatchUpdate};
use super::{run, StatusSource};
use pcsc::{Error as PcscError, State, PNP_NOTIFICATION};
use std::ffi::CString;
use std::time::Duration;

fn name(s: &str) -> CString {
    CString::new(s).expect("test names have no NUL")
}

fn pnp() -> CString {
    PNP_NOTIFICATION().to_owned()
}

/// One input to the tracker and what it must decide.
enum Input {
    /// `SCardListReaders` answered.
    Listed(Result<Vec<&'static str>, PcscError>),
    /// A wait answered `outcome` with these answer fields (by name: flags, counter, ATR).
    Waited(Vec<(&'static str, State, u32, &'static [u8])>, Result<(), PcscError>),
}

/// What one step must produce: updates (`R` readers with presence, `U` unavailable), the next
/// step, and the names left in the set with whether their `current` is still UNAWARE.
struct Expect {
    updates: &'static [&'static str],
    next: Next,
    slots: &'static [(&'static str, bool)],
}

const PNP: &str = "\\\\?PnP?\\Notification";

fn slot_name(s: &str) -> CString {
    if s == PNP {
        pnp()
    } else {
        name(s)
    }
}

fn describe(update: &WatchUpdate) -> String {
    match update {
        WatchUpdate::Readers(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|s| {
                    format!("{}={}", s.reader.name, if s.reader.card_present { "card" } else { "empty" })
                })
                .collect();
            format!("R[{}]", parts.join(","))
        }
        WatchUpdate::Unavailable(e) => format!("U:{:?}", e.code),
    }
}

fn play(table: Vec<(Input, Expect)>) {
    let mut tracker = Tracker::new();
    for (step, (input, expect)) in table.into_iter().enumerate() {
        let (updates, next) = match input {
            Input::Listed(names) => tracker.listed(names.map(|v| v.into_iter().map(name).collect())),
            Input::Waited(answers, outcome) => {
                // As the real source: answers are written on success only, to every slot
                // (an unnamed one answers "as you knew it").
                for slot in tracker.slots_mut().iter_mut().filter(|_| outcome.is_ok()) {
                    match answers.iter().find(|(n, ..)| slot_name(n) == slot.name) {
                        Some((_, state, count, atr)) => {
                            slot.event = Known { state: *state, count: *count };
                            slot.atr = atr.to_vec();
                        }
                        None => {
                            let state = slot.current.state.difference(State::CHANGED);
                            slot.event = Known { state, count: slot.current.count };
                        }
                    }
                }
                tracker.waited(outcome)
            }
        };
        let got: Vec<String> = updates.iter().map(describe).collect();
        assert_eq!(got, expect.updates, "step {step}: updates");
        assert_eq!(next, expect.next, "step {step}: next");
        let slots: Vec<(String, bool)> = tracker
            .slots()
            .iter()
            .map(|s: &Slot| (s.name.to_string_lossy().into_owned(), s.current == Known::UNAWARE))
            .collect();
        let want: Vec<(String, bool)> = expect.slots.iter().map(|(n, u)| (n.to_string(), *u)).collect();
        assert_eq!(slots, want, "step {step}: slots");
    }
}

const ATR: &[u8] = &[0x3b, 0x80, 0x80, 0x01, 0x01];
const PRESENT: State = State::PRESENT.union(State::CHANGED);
const EMPTY: State = State::EMPTY.union(State::CHANGED);
const PNP_CHANGED: State = State::CHANGED;

#[test]
fn start_reports_once_and_carries_the_pseudo_reader() {
    play(vec![
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true)] },
        ),
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 1, &[]), ("A", PRESENT, 1, ATR)], Ok(())),
            Expect { updates: &["R[A=card]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        // Quiet turns report nothing and keep every state, the pseudo-reader's included.
        (
            Input::Waited(vec![], Err(PcscError::Timeout)),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
    ]);
}

#[test]
fn card_out_and_in_each_report_once() {
    play(vec![
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true)] },
        ),
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 1, &[]), ("A", PRESENT, 1, ATR)], Ok(())),
            Expect { updates: &["R[A=card]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Waited(vec![("A", EMPTY, 2, &[])], Ok(())),
            Expect { updates: &["R[A=empty]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        // A flag that does not change presence (say INUSE) is not news.
        (
            Input::Waited(vec![("A", EMPTY.union(State::INUSE), 2, &[])], Ok(())),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Waited(vec![("A", PRESENT, 3, ATR)], Ok(())),
            Expect { updates: &["R[A=card]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        // A swap between two waits: same ATR, new counter.
        (
            Input::Waited(vec![("A", PRESENT, 5, ATR)], Ok(())),
            Expect { updates: &["R[A=card]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
    ]);
}

#[test]
fn readers_that_go_or_are_unknown_are_dropped() {
    play(vec![
        (
            Input::Listed(Ok(vec!["A", "B"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true), ("B", true)] },
        ),
        (
            Input::Waited(
                vec![(PNP, PNP_CHANGED, 2, &[]), ("A", EMPTY, 0, &[]), ("B", PRESENT, 1, ATR)],
                Ok(()),
            ),
            Expect {
                updates: &["R[A=empty,B=card]"],
                next: Next::Wait,
                slots: &[(PNP, false), ("A", false), ("B", false)],
            },
        ),
        // B unplugged: UNKNOWN at once, dropped and reported without waiting for the list.
        (
            Input::Waited(
                vec![(PNP, PNP_CHANGED, 1, &[]), ("B", State::UNKNOWN.union(State::CHANGED), 1, &[])],
                Ok(()),
            ),
            Expect { updates: &["R[A=empty]"], next: Next::Relist, slots: &[(PNP, false), ("A", false)] },
        ),
        // The list still names B (a race): it stays out.
        (
            Input::Listed(Ok(vec!["A", "B"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        // A reader comes: every listed name gets one more chance; B is IGNOREd and goes again.
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 2, &[])], Ok(())),
            Expect { updates: &[], next: Next::Relist, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Listed(Ok(vec!["A", "B"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false), ("B", true)] },
        ),
        (
            Input::Waited(vec![("B", State::IGNORE.union(State::CHANGED), 0, &[])], Ok(())),
            Expect { updates: &[], next: Next::Relist, slots: &[(PNP, false), ("A", false)] },
        ),
        // Still listed but IGNOREd: not waited on again while the readers stay the same.
        (
            Input::Listed(Ok(vec!["A", "B"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        // All readers gone: the pseudo-reader alone is waited on.
        (
            Input::Waited(
                vec![(PNP, PNP_CHANGED, 0, &[]), ("A", State::UNKNOWN.union(State::CHANGED), 0, &[])],
                Ok(()),
            ),
            Expect { updates: &["R[]"], next: Next::Relist, slots: &[(PNP, false)] },
        ),
        (
            Input::Listed(Err(PcscError::NoReadersAvailable)),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false)] },
        ),
    ]);
}

#[test]
fn a_new_reader_is_listed_after_the_pseudo_reader_changes() {
    play(vec![
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true)] },
        ),
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 1, &[]), ("A", PRESENT, 1, ATR)], Ok(())),
            Expect { updates: &["R[A=card]"], next: Next::Wait, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 2, &[])], Ok(())),
            Expect { updates: &[], next: Next::Relist, slots: &[(PNP, false), ("A", false)] },
        ),
        (
            Input::Listed(Ok(vec!["A", "B"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, false), ("A", false), ("B", true)] },
        ),
        (
            Input::Waited(vec![("B", EMPTY, 0, &[])], Ok(())),
            Expect {
                updates: &["R[A=card,B=empty]"],
                next: Next::Wait,
                slots: &[(PNP, false), ("A", false), ("B", false)],
            },
        ),
    ]);
}

#[test]
fn service_errors_end_or_relist_as_before() {
    let both: &[(&str, bool)] = &[(PNP, false), ("A", false)];
    play(vec![
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true)] },
        ),
        (
            Input::Waited(vec![(PNP, PNP_CHANGED, 1, &[]), ("A", EMPTY, 0, &[])], Ok(())),
            Expect { updates: &["R[A=empty]"], next: Next::Wait, slots: both },
        ),
        (
            Input::Waited(vec![], Err(PcscError::UnknownReader)),
            Expect { updates: &[], next: Next::Relist, slots: both },
        ),
        (
            Input::Waited(vec![], Err(PcscError::ReaderUnavailable)),
            Expect { updates: &[], next: Next::Relist, slots: both },
        ),
        (
            Input::Waited(vec![], Err(PcscError::NoService)),
            Expect { updates: &["U:PcscUnavailable"], next: Next::Reconnect, slots: both },
        ),
        // Said once while the service stays away.
        (
            Input::Listed(Err(PcscError::NoService)),
            Expect { updates: &[], next: Next::Reconnect, slots: both },
        ),
        (
            Input::Waited(vec![], Err(PcscError::Cancelled)),
            Expect { updates: &[], next: Next::Stop, slots: both },
        ),
    ]);
}

#[test]
fn a_pseudo_reader_without_support_is_dropped_and_readers_are_polled() {
    play(vec![
        (
            Input::Listed(Ok(vec!["A"])),
            Expect { updates: &[], next: Next::Wait, slots: &[(PNP, true), ("A", true)] },
        ),
        (
            Input::Waited(
                vec![(PNP, State::UNKNOWN.union(State::CHANGED), 0, &[]), ("A", EMPTY, 0, &[])],
                Ok(()),
            ),
            Expect { updates: &["R[A=empty]"], next: Next::Relist, slots: &[("A", false)] },
        ),
        (Input::Listed(Ok(vec!["A"])), Expect { updates: &[], next: Next::Wait, slots: &[("A", false)] }),
        (
            Input::Waited(vec![], Err(PcscError::Timeout)),
            Expect { updates: &[], next: Next::Relist, slots: &[("A", false)] },
        ),
        (Input::Listed(Ok(vec![])), Expect { updates: &["R[]"], next: Next::PauseThenRelist, slots: &[] }),
        (Input::Listed(Ok(vec![])), Expect { updates: &[], next: Next::PauseThenRelist, slots: &[] }),
    ]);
}

/// A change to the scripted service.
#[derive(Clone, Copy)]
enum Change {
    Plug(&'static str),
    Unplug(&'static str),
    Insert(&'static str),
    Eject(&'static str),
    ServiceDown,
    ServiceUp,
}

struct Reader {
    name: CString,
    card: bool,
    count: u32,
}

/// A PC/SC service that answers as Windows does: a wait answers at once when a state we pass
/// differs from the truth (counter included; an UNAWARE or unknown reader always differs),
/// otherwise time passes one [`super::POLL`] per call until the next scripted change.
struct Scripted {
    readers: Vec<Reader>,
    /// Names the list gives that no wait knows (always answered UNKNOWN at once).
    ghosts: Vec<CString>,
    pnp: bool,
    up: bool,
    script: Vec<(u32, Change)>,
    tick: u32,
    end: u32,
    waits: u32,
    lists: u32,
}

impl Scripted {
    fn new(readers: &[(&'static str, bool)], script: Vec<(u32, Change)>, end: u32) -> Scripted {
        let readers =
            readers.iter().map(|(n, card)| Reader { name: name(n), card: *card, count: 0 }).collect();
        Scripted {
            readers,
            ghosts: Vec::new(),
            pnp: true,
            up: true,
            script,
            tick: 0,
            end,
            waits: 0,
            lists: 0,
        }
    }

    fn advance(&mut self) {
        self.tick += 1;
        let due: Vec<Change> = self.script.iter().filter(|(t, _)| *t == self.tick).map(|(_, c)| *c).collect();
        for change in due {
            match change {
                Change::Plug(n) => self.readers.push(Reader { name: name(n), card: false, count: 0 }),
                Change::Unplug(n) => self.readers.retain(|r| r.name != name(n)),
                Change::Insert(n) | Change::Eject(n) => {
                    if let Some(r) = self.readers.iter_mut().find(|r| r.name == name(n)) {
                        r.card = matches!(change, Change::Insert(_));
                        r.count += 1;
                    }
                }
                Change::ServiceDown => self.up = false,
                Change::ServiceUp => self.up = true,
            }
        }
    }

    fn truth(&self, slot: &Slot) -> Option<Known> {
        if slot.name == pnp() {
            return Some(if self.pnp {
                Known { state: State::CHANGED, count: self.readers.len() as u32 }
            } else {
                Known { state: State::UNKNOWN, count: 0 }
            });
        }
        let reader = self.readers.iter().find(|r| r.name == slot.name)?;
        let state = if reader.card { State::PRESENT } else { State::EMPTY };
        Some(Known { state, count: reader.count })
    }

    fn differs(&self, slot: &Slot) -> bool {
        match self.truth(slot) {
            None => true,
            Some(_) if slot.current == Known::UNAWARE => true,
            Some(t) if slot.name == pnp() => slot.current.count != t.count || !self.pnp,
            Some(t) => {
                slot.current.state.difference(State::CHANGED) != t.state || slot.current.count != t.count
            }
        }
    }
}

impl StatusSource for Scripted {
    fn list_readers(&mut self) -> Result<Vec<CString>, PcscError> {
        self.lists += 1;
        if !self.up {
            return Err(PcscError::NoService);
        }
        if self.readers.is_empty() {
            return Err(PcscError::NoReadersAvailable);
        }
        Ok(self.readers.iter().map(|r| r.name.clone()).chain(self.ghosts.iter().cloned()).collect())
    }

    fn get_status_change(&mut self, _timeout: Duration, slots: &mut [Slot]) -> Result<(), PcscError> {
        self.waits += 1;
        if self.tick >= self.end {
            return Err(PcscError::Cancelled);
        }
        if !self.up {
            self.advance();
            return Err(PcscError::NoService);
        }
        if slots.iter().any(|s| self.differs(s)) {
            for slot in slots.iter_mut() {
                let changed = self.differs(slot);
                let truth = self.truth(slot).unwrap_or(Known { state: State::UNKNOWN, count: 0 });
                let state = if changed { truth.state.union(State::CHANGED) } else { truth.state };
                slot.event = Known { state, count: truth.count };
                let card = state.contains(State::PRESENT);
                slot.atr = if card { vec![0x3b, 0x80, 0x80, 0x01, 0x01] } else { Vec::new() };
            }
            return Ok(());
        }
        self.advance();
        Err(PcscError::Timeout)
    }

    fn pause(&mut self, _pause: Duration) {
        self.advance();
    }

    fn reconnect(&mut self) -> Result<(), PcscError> {
        if self.up {
            Ok(())
        } else {
            Err(PcscError::NoService)
        }
    }
}

/// Runs the loop on `source` (at most `cap` calls, so a spinning loop ends too).
fn drive(source: &mut Scripted, cap: u32) -> Vec<String> {
    let mut updates = Vec::new();
    let calls = std::cell::Cell::new(0u32);
    let stopped = || {
        calls.set(calls.get() + 1);
        calls.get() > cap
    };
    run(source, &stopped, &mut |u| updates.push(describe(&u)));
    updates
}

#[test]
fn scripted_service_drives_the_loop_without_spinning() {
    struct Case {
        what: &'static str,
        readers: &'static [(&'static str, bool)],
        script: Vec<(u32, Change)>,
        pnp: bool,
        ghost: bool,
        updates: &'static [&'static str],
    }
    let cases = vec![
        Case {
            what: "quiet",
            readers: &[("A", false), ("B", true)],
            script: vec![],
            pnp: true,
            ghost: false,
            updates: &["R[A=empty,B=card]"],
        },
        Case {
            what: "card out and in",
            readers: &[("A", true)],
            script: vec![(3, Change::Eject("A")), (7, Change::Insert("A"))],
            pnp: true,
            ghost: false,
            updates: &["R[A=card]", "R[A=empty]", "R[A=card]"],
        },
        Case {
            what: "reader plugged and unplugged",
            readers: &[("A", false)],
            script: vec![(3, Change::Plug("B")), (6, Change::Insert("B")), (9, Change::Unplug("B"))],
            pnp: true,
            ghost: false,
            updates: &["R[A=empty]", "R[A=empty,B=empty]", "R[A=empty,B=card]", "R[A=empty]"],
        },
        Case {
            what: "service down and up",
            readers: &[("A", true)],
            script: vec![(3, Change::ServiceDown), (8, Change::ServiceUp)],
            pnp: true,
            ghost: false,
            updates: &["R[A=card]", "U:PcscUnavailable", "R[A=card]"],
        },
        Case {
            what: "no plug-and-play",
            readers: &[("A", false)],
            script: vec![(4, Change::Plug("B")), (8, Change::Insert("A"))],
            pnp: false,
            ghost: false,
            updates: &["R[A=empty]", "R[A=empty,B=empty]", "R[A=card,B=empty]"],
        },
        Case {
            what: "a listed reader PC/SC does not know",
            readers: &[("A", false)],
            script: vec![(5, Change::Insert("A")), (9, Change::Plug("B"))],
            pnp: true,
            ghost: true,
            updates: &["R[A=empty]", "R[A=card]", "R[A=card,B=empty]"],
        },
        Case {
            what: "unknown reader without plug-and-play",
            readers: &[("A", false)],
            script: vec![(5, Change::Insert("A"))],
            pnp: false,
            ghost: true,
            updates: &["R[A=empty]", "R[A=card]"],
        },
    ];
    const TICKS: u32 = 20;
    for case in cases {
        let mut source = Scripted::new(case.readers, case.script, TICKS);
        source.pnp = case.pnp;
        if case.ghost {
            source.ghosts.push(name("Ghost"));
        }
        let updates = drive(&mut source, 10_000);
        assert_eq!(updates, case.updates, "{}", case.what);
        // One wait (and without plug-and-play one list) per quiet poll plus a few immediate
        // answers per change; a loop that resets
        // the pseudo-reader or keeps an unknown reader would use the whole cap.
        assert!(source.waits <= TICKS + 12, "{}: {} waits over {TICKS} polls", case.what, source.waits);
        assert!(source.lists <= TICKS + 6, "{}: {} lists over {TICKS} polls", case.what, source.lists);
        assert_eq!(source.tick, TICKS, "{}: ran to the end of the script", case.what);
    }
}

#[test]
fn the_spin_bound_catches_a_reset_pseudo_reader() {
    // The old loop re-made the pseudo-reader UNAWARE on every re-list; Windows then answers
    // every wait at once with CHANGED and no time passes. The bound above would fail.
    let mut source = Scripted::new(&[("A", false)], vec![], 20);
    let mut slots = vec![Slot::unaware(pnp()), Slot::unaware(name("A"))];
    let mut immediate = 0;
    for _ in 0..100 {
        if source.get_status_change(Duration::ZERO, &mut slots).is_ok() {
            immediate += 1;
        }
        slots[0] = Slot::unaware(pnp());
        for slot in &mut slots[1..] {
            slot.current = slot.event;
        }
    }
    assert_eq!(immediate, 100);
    assert_eq!(source.tick, 0);
}
