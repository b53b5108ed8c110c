//! Command-line parsing and the subcommands. Errors go to stderr with a non-zero exit.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use cis_renew_testbed::piv;
use cis_renew_testbed::probe::{self, WaitFor};
use cis_renew_testbed::readers::TIMEOUT_EXIT;
use cis_renew_testbed::schsm;
use cis_renew_testbed::token;
use cis_renew_testbed::{CardSpec, CertSpec, Error, Pcscd, Role, SoftHsm, TestCa, READERS};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "cis-testbed",
    version,
    about = "cis-renew's test bed: virtual readers and cards, SoftHSM tokens, a test CA"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start pcscd with two virtual readers; print one JSON line when ready, then obey
    /// `insert N [--card FILE ...]`, `remove N`, `status`, `quit` on stdin (one JSON line per
    /// answer).
    Serve {
        /// Directory for config, socket and logs (kept afterwards).
        #[arg(long)]
        state: PathBuf,
    },
    /// The test CA.
    Ca {
        #[command(subcommand)]
        command: CaCmd,
    },
    /// SoftHSM instances.
    Softhsm {
        #[command(subcommand)]
        command: SofthsmCmd,
    },
    /// Initialize a token and put an authentication and a signing key pair and certificate on it.
    Provision(ProvisionArgs),
    /// Print everything on a token, and whether each certificate's key signs and verifies, as JSON.
    Inspect {
        /// SoftHSM config (SOFTHSM2_CONF).
        #[arg(long)]
        softhsm_conf: PathBuf,
        /// Token label.
        #[arg(long)]
        label: String,
        /// User PIN.
        #[arg(long)]
        pin: String,
    },
    /// PIV test cards (`cis-piv-card`, kept in a directory).
    Piv {
        #[command(subcommand)]
        command: PivCmd,
    },
    /// The virtual SmartCard-HSM (driven by OpenSC's sc-hsm driver over APDUs).
    Schsm {
        #[command(subcommand)]
        command: SchsmCmd,
    },
    /// Query a pcscd through the pcsc crate (used by the library; one pcscd per process).
    #[command(hide = true)]
    Pcsc {
        #[command(subcommand)]
        command: PcscCmd,
    },
}

#[derive(Subcommand)]
enum CaCmd {
    /// Create a CA (key + self-signed certificate as PEM) in a directory.
    Init {
        /// Directory for ca.key.pem and ca.pem.
        #[arg(long)]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "cis-renew Test CA")]
        cn: String,
    },
}

#[derive(Subcommand)]
enum SofthsmCmd {
    /// Write softhsm2.conf and a tokens/ directory; print the config path.
    New {
        /// Directory to use.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct ProvisionArgs {
    /// SoftHSM config (SOFTHSM2_CONF).
    #[arg(long)]
    softhsm_conf: PathBuf,
    /// CA directory (from `ca init`).
    #[arg(long)]
    ca: PathBuf,
    /// Read the whole card spec as JSON on stdin (the library's way; other options ignored).
    #[arg(long, hide = true)]
    spec_stdin: bool,
    /// Token label.
    #[arg(long, required_unless_present = "spec_stdin")]
    label: Option<String>,
    /// User PIN.
    #[arg(long, default_value = token::DEFAULT_USER_PIN)]
    pin: String,
    /// Security officer PIN.
    #[arg(long, default_value = token::DEFAULT_SO_PIN)]
    so_pin: String,
    /// Certificate subject, RFC 4514.
    #[arg(long, default_value = token::DEFAULT_SUBJECT)]
    subject: String,
    /// Days until the authentication certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    auth_days: i64,
    /// Days until the signing certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    sign_days: i64,
    /// Print the result as JSON (otherwise a summary).
    #[arg(long)]
    json: bool,
    /// The key pairs' algorithm.
    #[arg(long, value_enum, default_value_t = token::PairAlgorithm::P384)]
    alg: token::PairAlgorithm,
    /// Also store the CA certificate on the card (its own CKA_ID, no key).
    #[arg(long)]
    ca_certificate: bool,
}

#[derive(Subcommand)]
enum PivCmd {
    /// Make a PIV card in a new directory: CHUID with a GUID, keys generated on the card and
    /// certificates from the CA in 9A (authentication) and 9C (signing), PIN, PUK and
    /// management key set.
    Provision(PivProvisionArgs),
    /// Check a PIV card in a reader with yubico-piv-tool, OpenSC's PIV driver and openssl;
    /// print the report as JSON (exit 1 unless everything works).
    Check {
        /// pcscd socket (PCSCLITE_CSOCK_NAME).
        #[arg(long)]
        socket: PathBuf,
        /// Reader number (0-based).
        #[arg(long, default_value_t = 1)]
        reader: usize,
        /// PIN.
        #[arg(long, default_value = piv::DEFAULT_PIN)]
        pin: String,
    },
}

#[derive(clap::Args)]
struct PivProvisionArgs {
    /// The card directory to create (must not hold a card yet).
    #[arg(long)]
    card: PathBuf,
    /// CA directory (from `ca init`).
    #[arg(long)]
    ca: PathBuf,
    /// Management key, hex (default: the factory 3DES key 0102...08 three times).
    #[arg(long)]
    mgmt_key: Option<String>,
    /// Management-key algorithm (the PIV test card takes 3des and aes256).
    #[arg(long, default_value = "3des")]
    mgmt_alg: String,
    /// PIN, 6-8 characters.
    #[arg(long, default_value = piv::DEFAULT_PIN)]
    pin: String,
    /// PUK, 6-8 characters.
    #[arg(long, default_value = piv::DEFAULT_PUK)]
    puk: String,
    /// Certificate subject, RFC 4514.
    #[arg(long, default_value = token::DEFAULT_SUBJECT)]
    subject: String,
    /// Days until the authentication certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    auth_days: i64,
    /// Days until the signing certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    sign_days: i64,
    /// Key algorithm of both pairs.
    #[arg(long, value_enum, default_value_t = PivAlgArg::P384)]
    alg: PivAlgArg,
    /// The CHUID's GUID, 32 hex digits (default: random).
    #[arg(long)]
    guid: Option<String>,
    /// Print the result as JSON (otherwise a summary).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PivAlgArg {
    P384,
    P256,
    Rsa2048,
}

#[derive(Subcommand)]
enum SchsmCmd {
    /// Make a card file with an authentication and a signing key pair generated on the card
    /// and certificates from the CA, through OpenSC's PKCS#11 module (as a CMS would).
    Provision(SchsmProvisionArgs),
    /// Serve a card file to vpcd (what `serve`'s `insert N --card FILE` starts).
    #[command(hide = true)]
    Run {
        /// The card file.
        #[arg(long)]
        card: PathBuf,
        /// vpcd port.
        #[arg(long)]
        port: u16,
        /// Faults as JSON (see `schsm::Faults`).
        #[arg(long, default_value = "{}")]
        faults: String,
        /// Append one line per APDU here.
        #[arg(long)]
        apdu_log: Option<PathBuf>,
    },
    /// Provision through OpenSC (child of `schsm provision`; needs PCSCLITE_CSOCK_NAME and
    /// OPENSC_CONF; reads the spec as JSON on stdin).
    #[command(hide = true)]
    P11Provision {
        /// Reader name (the slot description).
        #[arg(long)]
        reader: String,
        /// CA directory.
        #[arg(long)]
        ca: PathBuf,
    },
    /// Inspect through OpenSC (needs PCSCLITE_CSOCK_NAME and OPENSC_CONF).
    #[command(hide = true)]
    P11Inspect {
        /// Reader name (the slot description).
        #[arg(long)]
        reader: String,
        /// User PIN.
        #[arg(long)]
        pin: String,
    },
}

#[derive(clap::Args)]
struct SchsmProvisionArgs {
    /// The card file to create (replaced if it exists).
    #[arg(long)]
    card: PathBuf,
    /// CA directory (from `ca init`).
    #[arg(long)]
    ca: PathBuf,
    /// User PIN.
    #[arg(long, default_value = token::DEFAULT_USER_PIN)]
    pin: String,
    /// Security officer PIN: 16 hex digits on this card.
    #[arg(long, default_value = schsm::DEFAULT_SO_PIN)]
    so_pin: String,
    /// Certificate subject, RFC 4514.
    #[arg(long, default_value = token::DEFAULT_SUBJECT)]
    subject: String,
    /// Days until the authentication certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    auth_days: i64,
    /// Days until the signing certificate's notAfter (negative: expired).
    #[arg(long, allow_negative_numbers = true, default_value_t = 400)]
    sign_days: i64,
    /// Key algorithm of both pairs.
    #[arg(long, value_enum, default_value_t = AlgArg::P384)]
    alg: AlgArg,
    /// Print the result as JSON (otherwise a summary).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlgArg {
    P384,
    P256,
    Rsa2048,
}

impl From<AlgArg> for schsm::KeyAlg {
    fn from(a: AlgArg) -> Self {
        match a {
            AlgArg::P384 => schsm::KeyAlg::P384,
            AlgArg::P256 => schsm::KeyAlg::P256,
            AlgArg::Rsa2048 => schsm::KeyAlg::Rsa2048,
        }
    }
}

#[derive(Subcommand)]
enum PcscCmd {
    /// Print readers and card presence as JSON.
    Status {
        /// pcscd socket (PCSCLITE_CSOCK_NAME).
        #[arg(long)]
        socket: PathBuf,
    },
    /// Wait for a condition, then print readers as JSON; exit 3 on timeout.
    Wait {
        /// pcscd socket (PCSCLITE_CSOCK_NAME).
        #[arg(long)]
        socket: PathBuf,
        /// Wait until at least this many readers are listed.
        #[arg(long, group = "cond")]
        readers: Option<usize>,
        /// Wait until a card is present in this reader (0-based).
        #[arg(long, group = "cond")]
        present: Option<usize>,
        /// Wait until this reader (0-based) is empty.
        #[arg(long, group = "cond")]
        absent: Option<usize>,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Serve { state } => serve(state),
        Cmd::Pcsc { command } => return pcsc(command),
        Cmd::Ca { command: CaCmd::Init { dir, cn } } => {
            TestCa::create(&dir, &cn).map(|ca| println!("{}", ca.cert_pem_path().display()))
        }
        Cmd::Softhsm { command: SofthsmCmd::New { dir } } => {
            SoftHsm::at(&dir).map(|h| println!("{}", h.conf().display()))
        }
        Cmd::Provision(args) => provision(args),
        Cmd::Piv { command } => return piv_cmd(command),
        Cmd::Schsm { command } => schsm_cmd(command),
        Cmd::Inspect { softhsm_conf, label, pin } => {
            set_softhsm_conf(&softhsm_conf);
            token::child::inspect(&softhsm_conf, &label, &pin).map(|c| print_json(&c))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cis-testbed: {e}");
            1
        }
    }
}

fn pcsc(command: PcscCmd) -> i32 {
    let (socket, result) = match command {
        PcscCmd::Status { socket } => {
            set_socket(&socket);
            (socket, probe::status())
        }
        PcscCmd::Wait { socket, readers, present, absent, timeout_ms } => {
            set_socket(&socket);
            let what = match (readers, present, absent) {
                (_, Some(i), _) => WaitFor::Present(i),
                (_, _, Some(i)) => WaitFor::Absent(i),
                (n, _, _) => WaitFor::Readers(n.unwrap_or(READERS.len())),
            };
            (socket, probe::wait(what, Duration::from_millis(timeout_ms)))
        }
    };
    match result {
        Ok(readers) => {
            println!("{}", json!({ "readers": readers }));
            0
        }
        Err(e @ Error::Timeout { .. }) => {
            eprintln!("cis-testbed: {e}");
            TIMEOUT_EXIT
        }
        Err(e) => {
            eprintln!("cis-testbed: pcscd at {}: {e}", socket.display());
            1
        }
    }
}

fn set_softhsm_conf(conf: &Path) {
    // SoftHSM reads it at C_Initialize; set before any thread exists.
    std::env::set_var("SOFTHSM2_CONF", conf);
}

fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("cis-testbed: encoding JSON: {e}"),
    }
}

fn provision(args: ProvisionArgs) -> Result<(), Error> {
    set_softhsm_conf(&args.softhsm_conf);
    let ca = TestCa::load(&args.ca)?;
    let spec = if args.spec_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Error::Invalid(format!("reading the card spec from stdin: {e}")))?;
        serde_json::from_str(&input).map_err(|e| Error::Invalid(format!("card spec: {e}")))?
    } else {
        CardSpec {
            token_label: args.label.unwrap_or_default(),
            user_pin: args.pin,
            so_pin: args.so_pin,
            subject: args.subject,
            certs: vec![
                CertSpec::expiring_in_days(Role::Authentication, args.auth_days).with_algorithm(args.alg),
                CertSpec::expiring_in_days(Role::Signing, args.sign_days).with_algorithm(args.alg),
            ],
            ca_certificate: args.ca_certificate,
        }
    };
    let card = token::child::provision(&args.softhsm_conf, &ca, &spec)?;
    if args.json || args.spec_stdin {
        print_json(&card);
    } else {
        println!("token {:?} (serial {})", card.token_label, card.token_serial);
        for c in &card.certs {
            println!(
                "  {:?}: id {} notAfter {} subject {}",
                c.role,
                c.id,
                c.info.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                c.info.subject
            );
        }
    }
    Ok(())
}

fn piv_cmd(command: PivCmd) -> i32 {
    let result = match command {
        PivCmd::Provision(a) => piv_provision(a),
        PivCmd::Check { socket, reader, pin } => piv::check::run(&socket, reader, &pin).map(|report| {
            print_json(&report);
            report.ok()
        }),
    };
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("cis-testbed: {e}");
            1
        }
    }
}

fn piv_provision(a: PivProvisionArgs) -> Result<bool, Error> {
    let ca = TestCa::load(&a.ca)?;
    let mgmt_alg: piv::MgmtAlg = a.mgmt_alg.parse()?;
    let mgmt_key = match (a.mgmt_key, mgmt_alg) {
        (Some(key), _) => cis_renew_testbed::util::unhex(&key)?,
        (None, piv::MgmtAlg::Tdes) => piv::DEFAULT_MGMT_KEY.to_vec(),
        (None, alg) => return Err(Error::Invalid(format!("--mgmt-alg {alg} needs --mgmt-key HEX"))),
    };
    let guid = match a.guid {
        Some(g) => Some(
            cis_renew_testbed::util::unhex(&g)?
                .try_into()
                .map_err(|_| Error::Invalid("--guid takes 32 hex digits".into()))?,
        ),
        None => None,
    };
    let spec = piv::PivSpec {
        pin: a.pin,
        puk: a.puk,
        mgmt_alg,
        mgmt_key,
        subject: a.subject,
        certs: vec![
            CertSpec::expiring_in_days(Role::Authentication, a.auth_days),
            CertSpec::expiring_in_days(Role::Signing, a.sign_days),
        ],
        alg: match a.alg {
            PivAlgArg::P384 => piv::KeyAlg::P384,
            PivAlgArg::P256 => piv::KeyAlg::P256,
            PivAlgArg::Rsa2048 => piv::KeyAlg::Rsa2048,
        },
        guid,
    };
    let card = piv::provision(&a.card, &ca, &spec)?;
    if a.json {
        print_json(&card);
    } else {
        println!(
            "PIV card {} (cardId {}, management key {})",
            card.card_dir.display(),
            card.card_id,
            card.mgmt_alg
        );
        for c in &card.certs {
            println!("  {}: {:?} subject {}", c.slot, c.role, c.info.subject);
        }
    }
    Ok(true)
}

fn schsm_cmd(command: SchsmCmd) -> Result<(), Error> {
    match command {
        SchsmCmd::Provision(a) => {
            let ca = TestCa::load(&a.ca)?;
            let spec = schsm::SchsmSpec {
                card: CardSpec {
                    token_label: schsm::DEFAULT_LABEL.to_string(),
                    user_pin: a.pin,
                    so_pin: a.so_pin,
                    subject: a.subject,
                    certs: vec![
                        CertSpec::expiring_in_days(Role::Authentication, a.auth_days),
                        CertSpec::expiring_in_days(Role::Signing, a.sign_days),
                    ],
                    ca_certificate: false,
                },
                alg: a.alg.into(),
            };
            let card = schsm::provision(&a.card, &ca, &spec)?;
            if a.json {
                print_json(&card);
            } else {
                println!("card {} (token serial {})", a.card.display(), card.token_serial);
                for c in &card.certs {
                    println!("  {:?}: id {} subject {}", c.role, c.id, c.info.subject);
                }
            }
            Ok(())
        }
        SchsmCmd::Run { card, port, faults, apdu_log } => {
            let faults: schsm::Faults =
                serde_json::from_str(&faults).map_err(|e| Error::Invalid(format!("--faults: {e}")))?;
            schsm::run_card(&card, port, faults, apdu_log.as_deref())
        }
        SchsmCmd::P11Provision { reader, ca } => {
            let ca = TestCa::load(&ca)?;
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| Error::Invalid(format!("reading the card spec from stdin: {e}")))?;
            let spec: schsm::SchsmSpec =
                serde_json::from_str(&input).map_err(|e| Error::Invalid(format!("card spec: {e}")))?;
            schsm::p11::provision(&reader, &ca, &spec).map(|c| print_json(&c))
        }
        SchsmCmd::P11Inspect { reader, pin } => schsm::p11::inspect(&reader, &pin).map(|c| print_json(&c)),
    }
}

/// `insert N [--card DIR]` (a PIV card) or `insert N [--card FILE [--keygen-delay-ms MS] [--tear-after N] [--tear-before N]
/// [--fail-apdu N:SW] [--fail-write PREFIX:N:SW] [--memory-full]]`: a vicc card, or the SmartCard-HSM kept in FILE.
fn insert(pcscd: &mut Pcscd, words: &[&str]) -> Result<(), Error> {
    let reader = words
        .first()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Invalid(format!("expected a reader number: {:?}", words.join(" "))))?;
    let mut card = None;
    let mut faults = schsm::Faults::default();
    let mut rest = words[1..].iter();
    let number = |opt: &str, v: Option<&&str>| -> Result<u64, Error> {
        v.and_then(|s| s.parse().ok()).ok_or_else(|| Error::Invalid(format!("{opt} needs a number")))
    };
    while let Some(&opt) = rest.next() {
        match opt {
            "--card" => {
                card = Some(PathBuf::from(
                    rest.next().ok_or_else(|| Error::Invalid("--card needs a file".into()))?,
                ))
            }
            "--keygen-delay-ms" => faults.keygen_delay_ms = number(opt, rest.next())?,
            "--tear-after" => faults.tear_after = Some(number(opt, rest.next())?),
            "--tear-before" => faults.tear_before = Some(number(opt, rest.next())?),
            "--memory-full" => faults.memory_full = true,
            "--fail-apdu" => {
                let v = rest.next().copied().unwrap_or_default();
                let parsed = v
                    .split_once(':')
                    .and_then(|(n, sw)| Some((n.parse().ok()?, u16::from_str_radix(sw, 16).ok()?)));
                faults.fail_apdu = Some(parsed.ok_or_else(|| {
                    Error::Invalid(format!("--fail-apdu wants N:SW (hex), e.g. 12:6A84; got {v:?}"))
                })?);
            }
            "--fail-write" => {
                let v = rest.next().copied().unwrap_or_default();
                faults.fail_write = Some(fail_write(v).ok_or_else(|| {
                    Error::Invalid(format!(
                        "--fail-write wants PREFIX:N:SW (hex prefix and SW), e.g. CE:2:6581; got {v:?}"
                    ))
                })?);
            }
            other => return Err(Error::Invalid(format!("unknown insert option {other:?}"))),
        }
    }
    match card {
        // A directory is a PIV card (see `piv provision`); a file is a SmartCard-HSM.
        Some(dir) if dir.is_dir() => {
            if faults != schsm::Faults::default() {
                return Err(Error::Invalid("fault options are for SmartCard-HSM card files".into()));
            }
            pcscd.insert_piv_card(reader, &dir)
        }
        Some(card) => pcscd.insert_schsm(reader, &card, &faults),
        None if faults == schsm::Faults::default() => pcscd.insert_card(reader),
        None => Err(Error::Invalid("fault options need --card FILE".into())),
    }
}

/// `PREFIX:N:SW` of `--fail-write` (prefix and status word in hex).
fn fail_write(value: &str) -> Option<(u8, u64, u16)> {
    let mut parts = value.split(':');
    let prefix = u8::from_str_radix(parts.next()?, 16).ok()?;
    let n = parts.next()?.parse().ok()?;
    let sw = u16::from_str_radix(parts.next()?, 16).ok()?;
    parts.next().is_none().then_some((prefix, n, sw))
}

fn set_socket(socket: &std::path::Path) {
    // Set before any PC/SC call and before any thread exists; libpcsclite reads it once.
    std::env::set_var("PCSCLITE_CSOCK_NAME", socket);
}

enum Event {
    Line(String),
    Eof,
    Signal,
}

fn serve(state: PathBuf) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel();
    // Signals become events so that the main loop alone stops (and reaps) the children.
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| Error::Invalid(format!("installing signal handlers: {e}")))?;
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = sig_tx.send(Event::Signal);
        }
    });

    let mut pcscd = Pcscd::start_in(&state)?;
    let ready = json!({
        "ready": true,
        "socket": pcscd.socket(),
        "readers": READERS,
        "dir": pcscd.dir(),
        "pid": std::process::id(),
        "pcscdPid": pcscd.pid(),
        "openscConf": pcscd.opensc_conf(),
    });
    let _ = std::fs::write(pcscd.dir().join("serve.json"), format!("{ready}\n"));
    say(&ready);

    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(Event::Line(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(Event::Eof);
    });

    for event in rx {
        let line = match event {
            Event::Line(l) => l,
            Event::Eof | Event::Signal => break,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reader = |w: Option<&&str>| -> Result<usize, Error> {
            w.and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Invalid(format!("expected a reader number: {line:?}")))
        };
        let answer = match words.first().copied() {
            None => continue,
            Some("quit") | Some("exit") => {
                say(&json!({ "ok": true }));
                break;
            }
            Some("insert") => insert(&mut pcscd, &words[1..]).map(|()| json!({ "ok": true })),
            Some("remove") => {
                reader(words.get(1)).and_then(|r| pcscd.remove_card(r)).map(|()| json!({ "ok": true }))
            }
            Some("status") => pcscd.status().map(|r| json!({ "ok": true, "readers": r })),
            Some(other) => Err(Error::Invalid(format!(
                "unknown command {other:?} (insert N [--card FILE ...], remove N, status, quit)"
            ))),
        };
        say(&answer.unwrap_or_else(|e| json!({ "ok": false, "error": e.to_string() })));
    }
    pcscd.stop();
    Ok(())
}

fn say(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

#[cfg(test)]
mod fail_write_tests {
    use super::fail_write;

    #[test]
    fn fail_write_takes_prefix_count_and_status_word() {
        assert_eq!(fail_write("CE:4:6581"), Some((0xCE, 4, 0x6581)));
        assert_eq!(fail_write("c4:1:6a84"), Some((0xC4, 1, 0x6A84)));
        for bad in ["", "CE", "CE:4", "CE:x:6581", "ZZ:4:6581", "CE:4:6581:1", "CE:4:65811"] {
            assert_eq!(fail_write(bad), None, "{bad:?}");
        }
    }
}
