//! Windows builds: a VERSIONINFO resource in the .exe, so Explorer's Details tab, the Apps list,
//! inventory tools and Authenticode dialogs say what the file is and which version. The version
//! is Cargo.toml's; the resource is compiled with mingw-w64's windres (the MSI is built with the
//! x86_64-pc-windows-gnu target) and linked into the binaries only. Other targets: nothing.

use std::path::PathBuf;
use std::process::Command;

const COMPANY: &str = "cis-renew";
const DESCRIPTION: &str = "cis-renew native host: renews the certificates on NHS smartcards";
const PRODUCT: &str = "cis-renew";
const COPYRIGHT: &str = "Copyright 2026 cis-renew maintainers (MIT licence)";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CIS_RENEW_WINDRES");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    if env("CARGO_CFG_TARGET_OS") != "windows" {
        return;
    }
    if env("CARGO_CFG_TARGET_ENV") != "gnu" {
        println!(
            "cargo:warning=no VERSIONINFO resource: only the x86_64-pc-windows-gnu build (windres) adds one"
        );
        return;
    }
    let version = env("CARGO_PKG_VERSION");
    let numbers = numeric_version(&version);
    let out = PathBuf::from(env("OUT_DIR"));
    let rc = out.join("version.rc");
    let object = out.join("version.o");
    std::fs::write(&rc, resource_script(&version, &numbers)).expect("write version.rc");
    let windres = std::env::var("CIS_RENEW_WINDRES").unwrap_or_else(|_| {
        let arch = env("CARGO_CFG_TARGET_ARCH");
        format!("{arch}-w64-mingw32-windres")
    });
    let status = Command::new(&windres)
        .arg("--input")
        .arg(&rc)
        .args(["--input-format=rc", "--output-format=coff", "--output"])
        .arg(&object)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {windres} (binutils-mingw-w64; CIS_RENEW_WINDRES names another): {e}")
        });
    assert!(status.success(), "{windres} failed on {}", rc.display());
    println!("cargo:rustc-link-arg-bins={}", object.display());
}

/// `1.2.3-rc.1` -> `[1, 2, 3, 0]` (VERSIONINFO holds four 16-bit numbers; a pre-release tag
/// stays in the string versions only).
fn numeric_version(version: &str) -> [u16; 4] {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let mut numbers = [0u16; 4];
    for (slot, part) in numbers.iter_mut().zip(core.split('.')) {
        *slot = part.parse().unwrap_or_else(|_| panic!("version {version}: '{part}' is not a number"));
    }
    numbers
}

fn resource_script(version: &str, n: &[u16; 4]) -> String {
    let strings = [
        ("CompanyName", COMPANY),
        ("FileDescription", DESCRIPTION),
        ("FileVersion", version),
        ("InternalName", "cis-renew-host"),
        ("LegalCopyright", COPYRIGHT),
        ("OriginalFilename", "cis-renew-host.exe"),
        ("ProductName", PRODUCT),
        ("ProductVersion", version),
    ];
    let values: String =
        strings.iter().map(|(key, value)| format!("      VALUE \"{key}\", \"{value}\"\n")).collect();
    format!(
        "1 VERSIONINFO\n\
         FILEVERSION {a},{b},{c},{d}\n\
         PRODUCTVERSION {a},{b},{c},{d}\n\
         FILEFLAGSMASK 0x3f\n\
         FILEFLAGS 0x0\n\
         FILEOS 0x40004\n\
         FILETYPE 0x1\n\
         FILESUBTYPE 0x0\n\
         BEGIN\n\
         \x20 BLOCK \"StringFileInfo\"\n\
         \x20 BEGIN\n\
         \x20   BLOCK \"040904B0\"\n\
         \x20   BEGIN\n\
         {values}\
         \x20   END\n\
         \x20 END\n\
         \x20 BLOCK \"VarFileInfo\"\n\
         \x20 BEGIN\n\
         \x20   VALUE \"Translation\", 0x409, 1200\n\
         \x20 END\n\
         END\n",
        a = n[0],
        b = n[1],
        c = n[2],
        d = n[3],
    )
}
