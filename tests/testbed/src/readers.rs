//! Virtual readers: a private pcscd with two vpcd readers, and vicc virtual cards.
//!
//! Each [`Pcscd`] runs in its own network and mount namespace (`unshare --net --mount`):
//! vpcd's fixed ports (35963/35964) then never clash between parallel test beds and are never
//! reachable from outside, and a private directory is bind-mounted on `/run/pcscd` (pcscd
//! ignores `PCSCLITE_CSOCK_NAME`; clients honour it, see [`Pcscd::socket`]). A card is a
//! `vicc` process started inside pcscd's network namespace; killing it removes the card.
//!
//! PC/SC queries run in a `cis-testbed pcsc` child process; [`crate::probe`] says why.
//! PID 1 on the test machines does not reap orphans, so every child is killed *and waited for*.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::probe::ReaderStatus;
use crate::util::{log_tail, run, show, testbed_bin};

/// The readers every [`Pcscd`] has, in PC/SC order. Index 1 is the "managed" (second) reader.
pub const READERS: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];

/// vicc port for reader 0; reader `n` uses `VPCD_BASE_PORT + n`.
pub const VPCD_BASE_PORT: u16 = 35963;

/// ATR of a vicc `iso7816` card, lower-case hex.
pub const VICC_ATR: &str = "3b951381018073ff01000b";

const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const VICC_MODULES: &str = "/usr/lib/python3/site-packages/virtualsmartcard";
const PYCRYPTODOME: &str = "/usr/lib/python3/dist-packages/Cryptodome";
const START_TIMEOUT: Duration = Duration::from_secs(10);
const CARD_TIMEOUT: Duration = Duration::from_secs(10);
// Longest socket path that fits `sockaddr_un.sun_path` (108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

enum Dir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Kept(p) => p,
        }
    }
}

/// A private pcscd with the two [`READERS`], and the vicc cards inserted into them.
///
/// Dropping it (or [`Pcscd::stop`]) kills and reaps pcscd and every card; the namespaces and
/// the bind mount go with pcscd.
pub struct Pcscd {
    // Field order matters for Drop: children are stopped in `drop` before `dir` is removed.
    pcscd: Option<Child>,
    cards: [Option<Child>; 2],
    bin: PathBuf,
    dir: Dir,
}

impl Pcscd {
    /// Starts pcscd in a fresh temporary directory and waits until both readers are listed.
    /// Set `CIS_TESTBED_KEEP=1` to keep the directory (logs) after the test.
    pub fn start() -> Result<Pcscd> {
        let tmp = tempfile::Builder::new()
            .prefix("cis-pcscd-")
            .tempdir()
            .map_err(|e| Error::io("creating a temp dir for pcscd", e))?;
        let dir = if std::env::var_os("CIS_TESTBED_KEEP").is_some() {
            Dir::Kept(tmp.keep())
        } else {
            Dir::Temp(tmp)
        };
        Self::start_with(dir)
    }

    /// Like [`Pcscd::start`] in a directory the caller owns (created if missing, kept after).
    pub fn start_in(dir: &Path) -> Result<Pcscd> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        Self::start_with(Dir::Kept(dir))
    }

    fn start_with(dir: Dir) -> Result<Pcscd> {
        let started = Instant::now();
        let bin = testbed_bin()?;
        let root = dir.path();
        let conf = root.join("conf.d");
        let runtime = root.join("run");
        let shim = root.join("pyshim");
        for d in [&conf, &runtime, &shim] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        if runtime.join("pcscd.comm").as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::Invalid(format!(
                "{} is too long for a Unix socket path; use a shorter directory",
                runtime.join("pcscd.comm").display()
            )));
        }
        // One vpcd entry gives both readers (ports 35963 and 35964).
        let reader_conf = format!(
            "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x8C7B\n\
             LIBPATH      {VPCD_DRIVER}\nCHANNELID    0x8C7B\n"
        );
        write(&conf.join("vpcd"), reader_conf.as_bytes())?;
        // Debian's vicc imports `Crypto`, which pycryptodome installs as `Cryptodome`.
        let link = shim.join("Crypto");
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(PYCRYPTODOME, &link)
                .map_err(|e| Error::io(format!("linking {}", link.display()), e))?;
        }
        crate::schsm::write_opensc_conf(root)?;
        // A stale socket from an earlier run in a kept dir would fool the readiness check.
        let _ = std::fs::remove_file(runtime.join("pcscd.comm"));

        let log = create_log(&root.join("pcscd.log"))?;
        let mut cmd = Command::new("unshare");
        if !is_root() {
            // Unprivileged: map ourselves to root in a new user namespace (needs /run/pcscd).
            cmd.arg("-r");
        }
        // unshare and sh both exec, so the child's PID is pcscd's: its netns is ours to enter.
        cmd.args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "ip link set lo up && mkdir -p /run/pcscd && mount --bind \"$1\" /run/pcscd \
                 && exec pcscd --foreground --config \"$2\"",
            )
            .arg("sh")
            .arg(&runtime)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Error::io("pcscd log", e))?)
            .stderr(log);
        let child = cmd.spawn().map_err(|e| Error::io(format!("starting `{}`", show(&cmd)), e))?;
        let mut me = Pcscd { pcscd: Some(child), cards: [None, None], bin, dir };
        // Wait for both readers; on failure `me` drops, which kills and reaps pcscd.
        let left = START_TIMEOUT.saturating_sub(started.elapsed());
        me.wait_for(&format!("--readers={}", READERS.len()), left, None)
            .map_err(|e| me.explain(e, "pcscd.log", "both readers to be listed"))?;
        Ok(me)
    }

    /// The pcscd socket: the value for `PCSCLITE_CSOCK_NAME` in every PC/SC client.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run").join("pcscd.comm")
    }

    /// The directory holding the config, the socket and the logs (`pcscd.log`, `vicc-N.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// pcscd's process ID (its network namespace is `/proc/PID/ns/net`).
    pub fn pid(&self) -> u32 {
        self.pcscd.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sets `PCSCLITE_CSOCK_NAME` on a command that will talk to this pcscd.
    pub fn configure<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("PCSCLITE_CSOCK_NAME", self.socket())
    }

    /// Whether a card (vicc) was inserted into `reader` by this test bed and is running.
    pub fn has_card(&self, reader: usize) -> bool {
        self.cards.get(reader).is_some_and(Option::is_some)
    }

    /// The test-only OpenSC configuration in this test bed's directory (see
    /// [`crate::schsm::OPENSC_CONF`]).
    pub fn opensc_conf(&self) -> PathBuf {
        self.dir().join("opensc.conf")
    }

    /// Sets `PCSCLITE_CSOCK_NAME` and `OPENSC_CONF` on a command that will use OpenSC's
    /// PKCS#11 module with this pcscd.
    pub fn configure_opensc<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        self.configure(cmd).env("OPENSC_CONF", self.opensc_conf())
    }

    /// The log of the APDUs the SmartCard-HSM in `reader` received since it was last inserted
    /// (`N CLA INS P1 P2 length -> SW 1.234ms`, one line each, with the time the card took; no
    /// command data).
    pub fn apdu_log(&self, reader: usize) -> PathBuf {
        self.dir().join(format!("schsm-{reader}.apdus"))
    }

    /// The APDUs the SmartCard-HSM in `reader` received since it was last inserted.
    pub fn apdu_count(&self, reader: usize) -> usize {
        std::fs::read_to_string(self.apdu_log(reader)).map(|t| t.lines().count()).unwrap_or(0)
    }

    /// Inserts the SmartCard-HSM kept in `card` (a card file) into `reader`, with `faults`:
    /// starts `cis-testbed schsm run` in pcscd's network namespace and waits until PC/SC
    /// reports the card present. A card that left on its own (a tear fault) may be inserted
    /// again without `remove_card`.
    pub fn insert_schsm(&mut self, reader: usize, card: &Path, faults: &crate::schsm::Faults) -> Result<()> {
        check_reader(reader)?;
        self.reap_departed(reader);
        if self.cards[reader].is_some() {
            return Err(Error::Invalid(format!("reader {reader} already has a card")));
        }
        let card = card
            .canonicalize()
            .map_err(|e| Error::io(format!("finding the card file {}", card.display()), e))?;
        crate::schsm::CardState::load(&card)?;
        let faults = serde_json::to_string(faults).map_err(|e| Error::Invalid(format!("faults: {e}")))?;
        let log_name = format!("schsm-{reader}.log");
        let log = create_log(&self.dir().join(&log_name))?;
        let apdus = self.apdu_log(reader);
        let _ = std::fs::remove_file(&apdus);
        let port = VPCD_BASE_PORT + reader as u16;
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .arg(&self.bin)
            .args(["schsm", "run", "--card"])
            .arg(&card)
            .arg("--port")
            .arg(port.to_string())
            .arg("--faults")
            .arg(faults)
            .arg("--apdu-log")
            .arg(&apdus)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Error::io("card log", e))?)
            .stderr(log);
        let child = cmd.spawn().map_err(|e| Error::io(format!("starting `{}`", show(&cmd)), e))?;
        self.cards[reader] = Some(child);
        let result = self.wait_for(&format!("--present={reader}"), CARD_TIMEOUT, Some(reader));
        if let Err(e) = result {
            self.kill_card(reader);
            return Err(self.explain(e, &log_name, &format!("a SmartCard-HSM in reader {reader}")));
        }
        Ok(())
    }

    /// Waits until PC/SC reports `reader` empty (after a tear fault, say).
    pub fn wait_absent(&mut self, reader: usize) -> Result<()> {
        check_reader(reader)?;
        self.wait_for(&format!("--absent={reader}"), CARD_TIMEOUT, None)
            .map_err(|e| self.explain(e, "pcscd.log", &format!("reader {reader} to empty")))
    }

    /// Forgets a card process that has exited by itself (and reaps it).
    fn reap_departed(&mut self, reader: usize) {
        let gone = self.cards[reader].as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
        if gone {
            self.kill_card(reader);
        }
    }

    /// Inserts a card into `reader` (0 or 1): starts vicc in pcscd's network namespace and
    /// waits until PC/SC reports the card present.
    pub fn insert_card(&mut self, reader: usize) -> Result<()> {
        check_reader(reader)?;
        if self.cards[reader].is_some() {
            return Err(Error::Invalid(format!("reader {reader} already has a card")));
        }
        let pid = self.pid();
        let log_name = format!("vicc-{reader}.log");
        let log = create_log(&self.dir().join(&log_name))?;
        let port = VPCD_BASE_PORT + reader as u16;
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{pid}/ns/net"))
            .args(["vicc", "--type", "iso7816", "--port"])
            .arg(port.to_string())
            .env("PYTHONPATH", format!("{VICC_MODULES}:{}", self.dir().join("pyshim").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Error::io("vicc log", e))?)
            .stderr(log);
        let child = cmd.spawn().map_err(|e| Error::io(format!("starting `{}`", show(&cmd)), e))?;
        self.cards[reader] = Some(child);
        let result = self.wait_for(&format!("--present={reader}"), CARD_TIMEOUT, Some(reader));
        if let Err(e) = result {
            self.kill_card(reader);
            return Err(self.explain(e, &log_name, &format!("a card in reader {reader}")));
        }
        Ok(())
    }

    /// Inserts the PIV test card kept in `dir` (from [`crate::piv::provision()`]) into `reader`:
    /// starts `cis-piv-card` in pcscd's network namespace and waits until PC/SC reports the
    /// card present. Its log is `piv-N.log`.
    pub fn insert_piv_card(&mut self, reader: usize, dir: &Path) -> Result<()> {
        check_reader(reader)?;
        if self.cards[reader].is_some() {
            return Err(Error::Invalid(format!("reader {reader} already has a card")));
        }
        if !crate::piv::is_card_dir(dir) {
            return Err(Error::Invalid(format!(
                "{} is not a PIV card directory (no {}; make one with `cis-testbed piv provision`)",
                dir.display(),
                crate::piv::MARKER
            )));
        }
        let bin = crate::piv::card_bin()?;
        let log_name = format!("piv-{reader}.log");
        let log = create_log(&self.dir().join(&log_name))?;
        let port = VPCD_BASE_PORT + reader as u16;
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .arg(bin)
            .arg("--state")
            .arg(dir)
            .arg("--port")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Error::io("card log", e))?)
            .stderr(log);
        let child = cmd.spawn().map_err(|e| Error::io(format!("starting `{}`", show(&cmd)), e))?;
        self.cards[reader] = Some(child);
        let result = self.wait_for(&format!("--present={reader}"), CARD_TIMEOUT, Some(reader));
        if let Err(e) = result {
            self.kill_card(reader);
            return Err(self.explain(e, &log_name, &format!("a PIV card in reader {reader}")));
        }
        Ok(())
    }

    /// Removes the card from `reader`: kills and reaps its vicc, then waits until PC/SC
    /// reports the reader empty.
    pub fn remove_card(&mut self, reader: usize) -> Result<()> {
        check_reader(reader)?;
        self.reap_departed(reader);
        if self.cards[reader].is_none() {
            return Err(Error::Invalid(format!("reader {reader} has no card")));
        }
        self.kill_card(reader);
        self.wait_for(&format!("--absent={reader}"), CARD_TIMEOUT, None)
            .map_err(|e| self.explain(e, "pcscd.log", &format!("reader {reader} to empty")))?;
        Ok(())
    }

    /// The readers and their cards as PC/SC reports them now (through a child process).
    pub fn status(&self) -> Result<Vec<ReaderStatus>> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["pcsc", "status", "--socket"]).arg(self.socket());
        parse_readers(&run(&mut cmd, None)?.stdout)
    }

    /// Stops every card and pcscd, waiting for each process to exit.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for reader in 0..self.cards.len() {
            self.kill_card(reader);
        }
        if let Some(mut child) = self.pcscd.take() {
            // SIGKILL is fine: the namespaces and the bind mount die with the process.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn kill_card(&mut self, reader: usize) {
        if let Some(mut child) = self.cards[reader].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Runs `cis-testbed pcsc wait`, in 1 s slices so that a dead pcscd or vicc (watched:
    /// `card`) is reported at once instead of after the whole timeout.
    fn wait_for(&mut self, cond: &str, timeout: Duration, card: Option<usize>) -> Result<()> {
        let start = Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let slice = left.min(Duration::from_secs(1)).max(Duration::from_millis(50));
            let mut cmd = Command::new(&self.bin);
            cmd.args(["pcsc", "wait", cond, "--socket"])
                .arg(self.socket())
                .arg(format!("--timeout-ms={}", slice.as_millis()));
            match run(&mut cmd, None) {
                Ok(_) => return Ok(()),
                Err(Error::Process { ref status, .. })
                    if status.contains(&format!("exit status: {}", TIMEOUT_EXIT)) =>
                {
                    // Timed out within this slice: check the processes, then go on waiting.
                }
                Err(e) => return Err(e),
            }
            if let Some(child) = self.pcscd.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Error::Invalid(format!("pcscd exited early ({status})")));
                }
            }
            if let Some(child) = card.and_then(|r| self.cards[r].as_mut()) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Error::Invalid(format!("vicc exited early ({status})")));
                }
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    what: cond.trim_start_matches("--").to_string(),
                    waited: start.elapsed(),
                    log: String::new(),
                });
            }
        }
    }

    /// Adds context and the log's tail to an error.
    fn explain(&self, e: Error, log: &str, what: &str) -> Error {
        let tail = log_tail(&self.dir().join(log), 15);
        match e {
            Error::Timeout { waited, .. } => Error::Timeout { what: what.to_string(), waited, log: tail },
            other => Error::Invalid(format!(
                "waiting for {what}: {other}\n{log} (in {}):\n{tail}",
                self.dir().display()
            )),
        }
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Exit status of `cis-testbed pcsc wait` when the condition did not hold in time.
pub const TIMEOUT_EXIT: i32 = 3;

/// Parses `{"readers":[...]}` printed by `cis-testbed pcsc`.
pub(crate) fn parse_readers(stdout: &[u8]) -> Result<Vec<ReaderStatus>> {
    #[derive(serde::Deserialize)]
    struct Out {
        readers: Vec<ReaderStatus>,
    }
    serde_json::from_slice::<Out>(stdout)
        .map(|o| o.readers)
        .map_err(|e| Error::Invalid(format!("unexpected `cis-testbed pcsc` output: {e}")))
}

fn check_reader(reader: usize) -> Result<()> {
    if reader < READERS.len() {
        Ok(())
    } else {
        Err(Error::Invalid(format!("reader {reader} does not exist (0..{})", READERS.len())))
    }
}

fn create_log(path: &Path) -> Result<File> {
    File::create(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to our effective UID; avoids an unsafe geteuid().
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
