//! Benchmark: throughput of frame encoding and decoding (the host's I/O hot path) for 1 KiB and
//! 1 MiB messages, through the same functions the host uses.
//!
//! `cargo bench -p cis-renew-host --bench frames`

use cis_renew_host::protocol::frame::{read_frame, write_frame, MAX_INBOUND};
use cis_renew_host::protocol::message::parse_request;
use cis_renew_host::protocol::outbox::encode_within_limit;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `work` repeatedly for about `budget`; returns the time per run.
fn per_run(budget: Duration, mut work: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut runs = 0u32;
    while started.elapsed() < budget || runs < 10 {
        work();
        runs += 1;
    }
    started.elapsed() / runs
}

fn main() {
    let budget = Duration::from_millis(700);
    for (name, size) in [("1 KiB", 1024usize), ("1 MiB", MAX_INBOUND - 100)] {
        let message = json!({"id": 1, "command": "status", "pad": "x".repeat(size - 40)});
        let encoded = encode_within_limit(&message);
        let mut framed = Vec::new();
        write_frame(&mut framed, &encoded).expect("frame");
        let bytes = framed.len() as f64;

        let encode = per_run(budget, || {
            let payload = encode_within_limit(black_box(&message));
            let mut out = Vec::with_capacity(payload.len() + 4);
            write_frame(&mut out, &payload).expect("frame");
            black_box(out);
        });
        let decode = per_run(budget, || {
            let payload = read_frame(&mut black_box(&framed[..]), MAX_INBOUND).expect("frame");
            black_box(parse_request(&payload).err());
        });
        for (what, time) in [("encode (serialise + frame)", encode), ("decode (frame + parse)", decode)] {
            let mib_per_s = bytes / time.as_secs_f64() / (1024.0 * 1024.0);
            println!("{what} {name}: {:.1} us per message, {mib_per_s:.0} MiB/s", time.as_secs_f64() * 1e6);
            println!("ROW\tframe {what}, {name} message\t{mib_per_s:.0} MiB/s\t");
        }
    }
}
