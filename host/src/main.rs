//! Entry point: all the work is in the library.
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cis_renew_host::run(&args));
}
