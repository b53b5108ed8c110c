//! Shared test helpers: start the server, a cookie-keeping browser, HTML and
//! openssl helpers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cis-standin");

/// A running stand-in with its own data directory; killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Admin API token.
    pub admin_token: String,
    /// The CA certificate PEM file.
    pub ca_cert: PathBuf,
    /// The whole ready line.
    pub ready: serde_json::Value,
    /// Data directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with default options.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra arguments.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_in(dir, extra)
    }

    /// Starts a server on an existing data directory.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn cis-standin");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read ready line");
        if line.is_empty() {
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!("cis-standin exited before it was ready:\n{log}");
        }
        let ready: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        Server {
            child,
            url: ready["url"].as_str().expect("url").to_owned(),
            admin_token: ready["adminToken"].as_str().expect("adminToken").to_owned(),
            ca_cert: PathBuf::from(ready["caCert"].as_str().expect("caCert")),
            ready,
            dir,
        }
    }

    /// Stops the server and hands back its data directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A browser with no cookies.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.url)
    }

    /// A browser signed in as `sponsor1`.
    pub fn signed_in(&self) -> Browser {
        let mut b = self.browser();
        let r = b.sign_in("sponsor1", "sponsor1-demo");
        assert_eq!(r.status, 303, "sign-in failed: {}", r.body);
        b
    }

    /// Admin API GET, JSON.
    pub fn admin_get(&self, path: &str) -> serde_json::Value {
        let mut b = self.browser();
        let auth = format!("Bearer {}", self.admin_token);
        let r = b.request("GET", path, &[("Authorization", &auth)], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        serde_json::from_str(&r.body).expect("admin JSON")
    }

    /// Registers a card without a token; returns the card JSON.
    pub fn add_card(&self, user: &str, serial: &str, auth_days: i64, sign_days: i64) -> Card {
        let mut b = self.browser();
        let auth = format!("Bearer {}", self.admin_token);
        let body = serde_json::json!({
            "user": user, "serial": serial, "authDays": auth_days, "signDays": sign_days
        })
        .to_string();
        let r = b.request(
            "POST",
            "/admin/api/cards",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        assert_eq!(r.status, 201, "add card: {}", r.body);
        let json: serde_json::Value = serde_json::from_str(&r.body).expect("card JSON");
        Card::from_json(json, self.dir.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registered card as the admin API returns it, with its certificates as files.
pub struct Card {
    /// Token serial.
    pub serial: String,
    /// The raw JSON.
    pub json: serde_json::Value,
    /// Authentication certificate PEM file.
    pub auth_pem: PathBuf,
    /// Signing certificate PEM file.
    pub sign_pem: PathBuf,
}

impl Card {
    /// Writes the certificates of a card JSON into `dir`.
    pub fn from_json(json: serde_json::Value, dir: &Path) -> Card {
        let serial =
            json["serial"].as_str().or_else(|| json["tokenSerial"].as_str()).expect("serial").to_owned();
        let mut paths = HashMap::new();
        for c in json["certificates"].as_array().expect("certificates") {
            let role = c["role"].as_str().expect("role").to_owned();
            let path = dir.join(format!("{serial}-{role}.pem"));
            std::fs::write(&path, c["pem"].as_str().expect("pem")).expect("write pem");
            paths.insert(role, path);
        }
        Card {
            serial,
            auth_pem: paths.remove("authentication").expect("authentication cert"),
            sign_pem: paths.remove("signing").expect("signing cert"),
            json,
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names), in order.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy).
    pub body: String,
    /// Body bytes.
    pub bytes: Vec<u8>,
}

impl Resp {
    /// First header value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// All values of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The JSON body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A minimal browser: keeps cookies, never follows redirects.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    /// Cookies by name.
    pub cookies: HashMap<String, String>,
}

impl Browser {
    /// A browser for `base`.
    pub fn new(base: &str) -> Browser {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .new_agent();
        Browser { agent, base: base.to_owned(), cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Any request; `body` None sends none.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let url = format!("{}{}", self.base, path);
        let cookie = self.cookie_header();
        let result = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                if !cookie.is_empty() {
                    r = r.header("Cookie", &cookie);
                }
                r.call()
            }
            _ => {
                let mut r = self.agent.post(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                if !cookie.is_empty() {
                    r = r.header("Cookie", &cookie);
                }
                r.send(body.unwrap_or_default())
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie" {
                let pair = v.split(';').next().unwrap_or("");
                if let Some((name, value)) = pair.split_once('=') {
                    if v.contains("Max-Age=0") {
                        self.cookies.remove(name);
                    } else {
                        self.cookies.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
        Resp {
            status: resp.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    /// GET.
    pub fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, &[], None)
    }

    /// POST an urlencoded form.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
        )
    }

    /// Loads the sign-in page and submits it.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Resp {
        self.sign_in_next(user, password, "/home")
    }

    /// Signs in with a `next` target.
    pub fn sign_in_next(&mut self, user: &str, password: &str, next: &str) -> Resp {
        let page = self.get("/signin");
        assert_eq!(page.status, 200, "{}", page.body);
        let token = attr_value(&page.body, "name=\"signin_token\"", "value").expect("signin_token");
        self.post_form(
            "/signin",
            &[("username", user), ("password", password), ("signin_token", &token), ("next", next)],
        )
    }

    /// The CSRF token from the home page's meta tag.
    pub fn csrf(&mut self) -> String {
        let page = self.get("/home");
        assert_eq!(page.status, 200, "{}", page.body);
        meta(&page.body, "csrf-token").expect("csrf-token meta")
    }

    /// POSTs a base64 CSR to an EST path with the session and `csrf` header.
    pub fn est_post(&mut self, path: &str, csrf: Option<&str>, body: &[u8]) -> Resp {
        let mut headers = vec![("Content-Type", "application/pkcs10")];
        if let Some(t) = csrf {
            headers.push(("X-CSRF-Token", t));
        }
        self.request("POST", path, &headers, Some(body))
    }
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of attribute `attr` in the first tag that contains `marker`.
pub fn attr_value(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..=at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_owned())
}

/// The content of `<meta name="NAME">`.
pub fn meta(html: &str, name: &str) -> Option<String> {
    attr_value(html, &format!("<meta name=\"{name}\""), "content")
}

/// The whole start tag of the element with `id`.
pub fn tag_with_id<'h>(html: &'h str, id: &str) -> Option<&'h str> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// Asserts the page has an element with each id.
pub fn assert_ids(html: &str, ids: &[&str]) {
    for id in ids {
        assert!(tag_with_id(html, id).is_some(), "missing id=\"{id}\" in:\n{html}");
    }
}

/// Runs a command, panicking with its stderr if it fails; returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl` with args.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    run(Command::new("openssl").args(args))
}

/// A new EC private key on `curve` (secp384r1, prime256v1) in `dir`.
pub fn ec_key(dir: &Path, name: &str, curve: &str) -> PathBuf {
    let path = dir.join(format!("{name}.key"));
    let p = path.to_str().expect("utf-8 path");
    openssl(&["ecparam", "-name", curve, "-genkey", "-noout", "-out", p]);
    path
}

/// A DER CSR for `key` with the subject copied from `cert_pem` and, when
/// `copy_ext`, the certificate's extensions (so its key usage) requested.
pub fn csr_from_cert(dir: &Path, cert_pem: &Path, key: &Path, copy_ext: bool) -> Vec<u8> {
    let pem = dir.join("req.pem");
    let copy = if copy_ext { "copy" } else { "none" };
    openssl(&[
        "x509",
        "-x509toreq",
        "-in",
        cert_pem.to_str().expect("path"),
        "-key",
        key.to_str().expect("path"),
        "-sha384",
        "-copy_extensions",
        copy,
        "-out",
        pem.to_str().expect("path"),
    ]);
    openssl(&["req", "-in", pem.to_str().expect("path"), "-outform", "DER"])
}

/// Base64 (no line breaks).
pub fn b64(der: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.encode(der).into_bytes()
}

/// Decodes an EST base64 body (with line breaks).
pub fn unb64(body: &[u8]) -> Vec<u8> {
    let compact: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body")
}

/// The PEM certificates in a DER PKCS#7, via `openssl pkcs7 -print_certs`.
pub fn pkcs7_certs_pem(dir: &Path, p7_der: &[u8]) -> String {
    let p7 = dir.join("resp.p7");
    std::fs::write(&p7, p7_der).expect("write p7");
    let out = openssl(&["pkcs7", "-inform", "DER", "-in", p7.to_str().expect("path"), "-print_certs"]);
    String::from_utf8(out).expect("utf-8")
}

/// `openssl x509 -noout <args>` on a PEM file, as text.
pub fn x509(pem: &Path, args: &[&str]) -> String {
    let mut all = vec!["x509", "-noout", "-in", pem.to_str().expect("path")];
    all.extend_from_slice(args);
    String::from_utf8(openssl(&all)).expect("utf-8")
}
