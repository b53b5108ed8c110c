#!/usr/bin/env python3
"""Headless Chromium smoke: does Chromium find the system-installed native host?

Builds a tiny extension in a temp dir with the real extension's manifest `key` (so it has our
fixed ID), whose service worker calls connectNative('uk.nhs.cis_renew') and reports what came
back (the hello frame, or the error) by fetching a URL on a local server run here. Prints that
report as one JSON line and exits 0, or exits 1 when nothing was reported in time.

usage: chromium_smoke.py KEY [TIMEOUT_SECONDS]
(The real extension in extension/ can replace this one once the tests drive it.)
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

WORKER = """
const report = (what) =>
  fetch('http://127.0.0.1:%(port)d/report?' + encodeURIComponent(JSON.stringify(what))).catch(() => {});
try {
  const port = chrome.runtime.connectNative('uk.nhs.cis_renew');
  port.onMessage.addListener((message) => report({ id: chrome.runtime.id, message }));
  port.onDisconnect.addListener(() =>
    report({ id: chrome.runtime.id, error: chrome.runtime.lastError ? chrome.runtime.lastError.message : 'disconnected' }));
} catch (e) {
  report({ id: chrome.runtime.id, error: String(e) });
}
"""


def main():
    key = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    reports = []
    got = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            query = urllib.parse.urlparse(self.path).query
            reports.append(json.loads(urllib.parse.unquote(query)))
            got.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp()
    try:
        ext = os.path.join(work, "ext")
        os.mkdir(ext)
        manifest = {
            "manifest_version": 3,
            "name": "cis-renew package smoke test",
            "version": "1",
            "key": key,
            "permissions": ["nativeMessaging"],
            "host_permissions": ["http://127.0.0.1/*"],
            "background": {"service_worker": "worker.js"},
        }
        with open(os.path.join(ext, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        with open(os.path.join(ext, "worker.js"), "w") as f:
            f.write(WORKER % {"port": server.server_port})
        browser = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + os.path.join(work, "profile"), "--disable-extensions-except=" + ext,
             "--load-extension=" + ext, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "chromium.log"), "w"))
        try:
            got.wait(timeout)
            # A hello may be followed by nothing; an error comes alone. Give a hello's
            # disconnect a moment so the report is complete.
            got.clear()
            got.wait(0.5)
        finally:
            browser.terminate()
            try:
                browser.wait(10)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait()
        if not reports:
            with open(os.path.join(work, "chromium.log")) as f:
                sys.stderr.write(f.read()[-2000:])
            return 1
        print(json.dumps(reports[0]))
        return 0
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
