#!/usr/bin/env python3
"""Talks to a native-messaging host as a browser does: starts it, reads the hello frame, sends
each request given on the command line, prints every frame received as one JSON line, then
closes stdin (the host must exit) and prints {"exit": CODE}.

usage: nm_client.py [--timeout S] [--request JSON]... -- COMMAND [ARG...]
"""
import json
import struct
import subprocess
import sys
import threading


def main():
    args = sys.argv[1:]
    timeout, requests = 20.0, []
    while args and args[0] != "--":
        flag, value, args = args[0], args[1], args[2:]
        if flag == "--timeout":
            timeout = float(value)
        elif flag == "--request":
            requests.append(json.loads(value))
        else:
            sys.exit(f"unknown flag {flag}")
    command = args[1:]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    frames = []
    done = threading.Event()

    def read_frames():
        while True:
            header = proc.stdout.read(4)
            if len(header) < 4:
                break
            (length,) = struct.unpack("=I", header)
            frames.append(json.loads(proc.stdout.read(length)))
            print(json.dumps(frames[-1]), flush=True)
        done.set()

    reader = threading.Thread(target=read_frames, daemon=True)
    reader.start()
    for request in requests:
        payload = json.dumps(request).encode()
        proc.stdin.write(struct.pack("=I", len(payload)) + payload)
        proc.stdin.flush()
        wanted = request.get("id")
        # Wait for the reply to this request before sending the next.
        for _ in range(int(timeout * 20)):
            if any(f.get("id") == wanted and "ok" in f for f in frames) or done.is_set():
                break
            done.wait(0.05)
    proc.stdin.close()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = "timeout"
    reader.join(timeout=2)
    print(json.dumps({"exit": code}), flush=True)


if __name__ == "__main__":
    main()
