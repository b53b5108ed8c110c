//! `cis-standin`: see `cis_renew_standin::cli::USAGE`.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(cis_renew_standin::run(std::env::args_os().skip(1)));
}
