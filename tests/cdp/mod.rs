//! A small Chrome DevTools Protocol client over `--remote-debugging-pipe`, for the viewer's
//! browser tests.
//!
//! Why not a driver crate: the tests need five things — open a file, move and click the real
//! mouse, evaluate an expression, take a screenshot, and watch network requests and console
//! errors — all of which are single CDP calls or events. Chromium's pipe transport (the one
//! Playwright uses) is NUL-separated JSON on file descriptors 3 and 4, so this needs no
//! websocket, no async runtime, no port, no chromedriver and no new dependency (serde_json is
//! already one): nothing extra to compile on a 2-core CI machine, nothing to fetch at CI time.
//!
//! Without a browser the tests are skipped with a note, unless `SELFATTN_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), when that is a failure.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Environment variable that makes a missing browser a test failure.
pub const REQUIRE_BROWSER: &str = "SELFATTN_REQUIRE_BROWSER";
/// Environment variable naming the browser binary (default: the first of [`CANDIDATES`] found).
pub const BROWSER_VAR: &str = "SELFATTN_CHROMIUM";
/// Browser binaries looked for on PATH.
pub const CANDIDATES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
/// Longest wait for one reply.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Flags for a quiet, isolated headless run (the profile folder is added per launch).
pub const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
];

/// The browser binary, or `None` (after a note, or a panic under `SELFATTN_REQUIRE_BROWSER=1`).
pub fn find_browser() -> Option<PathBuf> {
    let found = match std::env::var_os(BROWSER_VAR) {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .flat_map(|d| CANDIDATES.iter().map(move |c| d.join(c)))
                .find(|p| p.is_file())
        }),
    };
    if found.is_none() {
        let why = match std::env::var_os(BROWSER_VAR) {
            Some(p) => format!("no browser: {BROWSER_VAR}={} is not a file", p.display()),
            None => format!(
                "no browser: none of {CANDIDATES:?} on PATH and {BROWSER_VAR} unset \
                 (Debian: apt install --no-install-recommends chromium)"
            ),
        };
        if std::env::var(REQUIRE_BROWSER).is_ok_and(|v| v == "1") {
            panic!("{REQUIRE_BROWSER}=1 but {why}");
        }
        eprintln!("skipping browser test: {why}");
    }
    found
}

/// A headless browser driven over the pipe; closed and reaped on drop.
pub struct Browser {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Every event received so far, in order.
    pub events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Launches `binary` headless with a fresh profile folder.
    pub fn launch(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // The shell moves our two pipes onto fds 3 (commands in) and 4 (replies out), which is
        // where --remote-debugging-pipe expects them, then execs the browser.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(binary)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    return;
                }
                buf.clear();
            }
        });
        Browser {
            child,
            input,
            messages,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends `method` (to page `session`, or to the browser) and waits for its result; events
    /// that arrive meanwhile are kept in [`Browser::events`].
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = match self.messages.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no reply in {TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: the browser exited"),
            };
            if m["id"] == json!(id) {
                if let Some(e) = m.get("error") {
                    panic!("{method} failed: {e}");
                }
                return m["result"].clone();
            }
            self.events.push(m);
        }
    }

    /// Takes every event that has arrived without waiting.
    fn drain(&mut self) {
        while let Ok(m) = self.messages.try_recv() {
            self.events.push(m);
        }
    }

    /// Opens a new tab of `width`×`height` CSS pixels with network, console and exception
    /// reporting on (and the network emulated offline), and loads `url` in it.
    pub fn open(&mut self, url: &str, width: u32, height: u32) -> Page<'_> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        let s = Some(session.as_str());
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            self.call(s, domain, json!({}));
        }
        self.call(
            s,
            "Network.emulateNetworkConditions",
            json!({"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        );
        self.call(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        let mut page = Page {
            browser: self,
            session,
        };
        page.navigate(url);
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab, attached with its own session.
pub struct Page<'a> {
    browser: &'a mut Browser,
    session: String,
}

impl Page<'_> {
    fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.browser.call(Some(&s), method, params)
    }

    /// Loads `url` and waits until the page's script has finished its first render.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let ready = self.eval("document.body && document.body.dataset.ready || ''");
            match ready.as_str() {
                Some("1") => return,
                Some("error") => panic!("the page's script failed: {:?}", self.errors()),
                _ if Instant::now() > deadline => panic!("{url} did not become ready"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// The client coordinates `{x, y}` an expression returns.
    pub fn point(&mut self, expression: &str) -> (f64, f64) {
        let p = self.eval(expression);
        match (p["x"].as_f64(), p["y"].as_f64()) {
            (Some(x), Some(y)) => (x, y),
            _ => panic!("{expression} gave no point: {p}"),
        }
    }

    /// Moves the real mouse to (x, y).
    pub fn hover(&mut self, (x, y): (f64, f64)) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        );
    }

    /// Clicks the left mouse button at (x, y).
    pub fn click(&mut self, (x, y): (f64, f64)) {
        self.hover((x, y));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Chooses option `value` of `<select id=…>` as a user would (the change event fires).
    pub fn choose(&mut self, select_id: &str, value: &str) {
        self.eval(&format!(
            "(() => {{ const s = document.getElementById('{select_id}'); s.value = '{value}'; \
             s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value; }})()"
        ));
    }

    /// The tooltip's text after hovering (x, y).
    pub fn tooltip_at(&mut self, at: (f64, f64)) -> String {
        self.hover(at);
        let t = self.eval(
            "(() => { const t = document.getElementById('tooltip'); return t.hidden ? null : t.textContent; })()",
        );
        t.as_str()
            .unwrap_or_else(|| panic!("no tooltip at {at:?}"))
            .to_string()
    }

    /// Saves a PNG screenshot of the whole page (`full`) or the viewport to `path`.
    pub fn screenshot(&mut self, path: &Path, full: bool) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": full}),
        );
        let bytes = STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// URLs of every request the page made.
    pub fn requests(&mut self) -> Vec<String> {
        self.browser.drain();
        self.browser
            .events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    /// Console errors and warnings, uncaught exceptions and browser log errors (CSP refusals
    /// among them), as text.
    pub fn errors(&mut self) -> Vec<String> {
        self.browser.drain();
        self.browser
            .events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.consoleAPICalled"
                        if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
                    {
                        Some(format!("console.{}: {}", p["type"], p["args"]))
                    }
                    "Runtime.exceptionThrown" => {
                        Some(format!("exception: {}", p["exceptionDetails"]))
                    }
                    "Log.entryAdded"
                        if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) =>
                    {
                        Some(format!("log: {}", p["entry"]))
                    }
                    _ => None,
                }
            })
            .collect()
    }
}
