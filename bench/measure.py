"""Measures the host as a browser uses it: cold start to the hello frame, status round trips,
peak RSS. Prints one table. Run through bench/run.sh, which sets up the test bed."""
import argparse, json, os, statistics, struct, subprocess, time

ORIGIN = "chrome-extension://%s/" % json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "manifests", "identity.json")))["chromiumId"]


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack("=I", header)
    return json.loads(stream.read(length))


def write_frame(stream, message):
    payload = json.dumps(message).encode()
    stream.write(struct.pack("=I", len(payload)) + payload)
    stream.flush()


def spawn(argv, env=None):
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)


def peak_rss_kib(pid):
    """VmHWM: the peak RSS of the process image since exec. (wait4's ru_maxrss would also count
    the forked Python before exec.)"""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def finish(process):
    """Reads peak RSS in KiB, then closes stdin and waits for a clean exit."""
    peak = peak_rss_kib(process.pid)
    process.stdin.close()
    assert process.wait(timeout=5) == 0
    return peak


def cold_start(argv, runs, env=None):
    times, peaks = [], []
    for _ in range(runs):
        started = time.perf_counter()
        process = spawn(argv, env)
        frame = read_frame(process.stdout)
        times.append((time.perf_counter() - started) * 1000)
        assert frame and frame.get("type") == "hello", frame
        peaks.append(finish(process))
    return statistics.median(times), max(peaks)


def status_round_trips(argv, runs, env=None):
    process = spawn(argv, env)
    read_frame(process.stdout)
    times, last = [], None
    for i in range(runs):
        started = time.perf_counter()
        write_frame(process.stdin, {"id": i, "command": "status"})
        last = read_frame(process.stdout)
        times.append((time.perf_counter() - started) * 1000)
    peak = finish(process)
    return statistics.median(times[1:]), peak, last, times[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--host", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--rows", help="extra rows from the Rust benches: ROW<TAB>name<TAB>value<TAB>rss")
    args = parser.parse_args()
    host = [args.host, ORIGIN]

    floor_ms, floor_rss = cold_start([args.floor], args.runs)
    host_ms, host_rss = cold_start(host, args.runs)
    status_ms, status_rss, last, first_ms = status_round_trips(host, args.runs)
    assert last["ok"] and last["result"]["card"]["renewable"], last
    no_pcscd = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm")
    nosvc_ms, nosvc_rss, nosvc, _ = status_round_trips(host, args.runs, no_pcscd)
    assert nosvc["error"]["code"] == "PCSC_UNAVAILABLE", nosvc

    rows = [
        ("cold start to hello: trivial C program (floor)", f"{floor_ms:.2f} ms", f"{floor_rss / 1024:.1f} MiB"),
        ("cold start to hello: cis-renew-host", f"{host_ms:.2f} ms", f"{host_rss / 1024:.1f} MiB"),
        ("  host minus floor", f"{host_ms - floor_ms:+.2f} ms", ""),
        ("first status after start (loads the PKCS#11 module)", f"{first_ms:.2f} ms", ""),
        ("status, card in managed reader (round trip)", f"{status_ms:.2f} ms", f"{status_rss / 1024:.1f} MiB"),
        ("status, no pcscd (round trip)", f"{nosvc_ms:.2f} ms", f"{nosvc_rss / 1024:.1f} MiB"),
        ("release binary size", f"{os.path.getsize(args.host) / 1024:.0f} KiB", ""),
    ]
    if args.rows:
        with open(args.rows) as extra:
            for line in extra:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[0] == "ROW":
                    rows.append((parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure (median of ' + str(args.runs) + ')':<{width}}  {'time':>10}  {'peak RSS':>9}")
    for name, value, rss in rows:
        print(f"{name:<{width}}  {value:>10}  {rss:>9}")


if __name__ == "__main__":
    main()
