//! `cis-testbed`: the test bed from the shell, Node tests and the demo. Also the child process
//! the library runs for work that needs process-global state (see the library docs).
#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::main());
}
