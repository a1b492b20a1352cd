//! A headless Chromium driven over WebDriver, for tests of the pages the API
//! serves: chromedriver on a free port, one session with the browser's
//! console recorded, screenshots saved under `target/screenshots/`.
//!
//! WebDriver is JSON over HTTP, and the few commands the tests use are
//! spoken here over `reqwest` directly rather than through a client crate:
//! that keeps the dependency tree as it is, and reaches chromedriver's
//! console log, which the W3C protocol lacks.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};

/// The key of an element reference in W3C WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A headless Chromium session; the browser and its driver end with it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// A port free at the time of asking.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// Starts chromedriver (`MIXDOWN_TEST_CHROMEDRIVER`, else `chromedriver`
    /// on the PATH: Debian's `chromium-driver`) and a headless session whose
    /// console is recorded.
    pub async fn start() -> Self {
        let program =
            std::env::var("MIXDOWN_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let driver = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}): install Debian's chromium and chromium-driver"
                )
            });
        let http = reqwest::Client::new();
        let mut browser = Self {
            driver,
            port,
            session: String::new(),
            http,
        };
        browser.wait_ready().await;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--lang=en-US",
                // Media may play without a click: no one clicks in a test.
                "--autoplay-policy=no-user-gesture-required",
            ]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let answer = browser.call("POST", "/session", Some(capabilities)).await;
        browser.session = answer["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + PATIENCE;
        let url = format!("http://127.0.0.1:{}/status", self.port);
        while self.http.get(&url).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends one WebDriver command; its `value`. A WebDriver error fails the test.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let answer = self
            .http
            .request(method, &url)
            .json(&body.unwrap_or_else(|| json!({})))
            .send()
            .await
            .unwrap_or_else(|e| panic!("chromedriver {path}: {e}"));
        let ok = answer.status().is_success();
        let value: Value = answer.json().await.expect("a JSON answer");
        assert!(ok, "chromedriver {path}: {}", value["value"]);
        value["value"].clone()
    }

    /// Sends a command of this session.
    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        let url = self.command("GET", "/url", None).await;
        url.as_str().unwrap_or_default().to_owned()
    }

    /// Sets the window's size in CSS pixels (a screenshot shows that much).
    pub async fn resize(&self, width: u32, height: u32) {
        let body = json!({"width": width, "height": height});
        self.command("POST", "/window/rect", Some(body)).await;
    }

    /// The elements `css` selects now.
    pub async fn all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.command("POST", "/elements", Some(body)).await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str())
            .map(|id| Element {
                browser: self,
                id: id.to_owned(),
            })
            .collect()
    }

    /// The first element `css` selects, waiting for it at most [`PATIENCE`].
    pub async fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.all(css).await.into_iter().next() {
                return found;
            }
            assert!(Instant::now() < deadline, "nothing matches {css:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element `css` selects once it contains
    /// `needle`, waiting at most [`PATIENCE`]: the page may update itself.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Read in the page in one go: an element found by one command may
            // be replaced by a re-render before the next reads its text.
            let script =
                "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);";
            let texts = self.execute(script, vec![json!(css)]).await;
            let texts = texts.as_array().into_iter().flatten();
            if let Some(text) = texts.filter_map(Value::as_str).find(|t| t.contains(needle)) {
                return text.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no {css:?} came to contain {needle:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": script, "args": args});
        self.command("POST", "/execute/sync", Some(body)).await
    }

    /// Runs `script` in the page until it calls its last argument (after
    /// `args`) with its answer, at most 30 s; that answer.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": script, "args": args});
        self.command("POST", "/execute/async", Some(body)).await
    }

    /// The console messages of level SEVERE (errors, refused scripts and
    /// styles, failed loads) logged since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self
            .command("POST", "/se/log", Some(json!({"type": "browser"})))
            .await;
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Saves a PNG of the window as `target/screenshots/{name}.png`; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.command("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("make the screenshots directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the session (closing the browser) and the driver.
    pub async fn quit(mut self) {
        self.call("DELETE", &format!("/session/{}", self.session), None)
            .await;
        self.session.clear();
    }
}

impl Drop for Browser {
    /// A test that fails mid-way still closes its browser: the session is
    /// ended with a plain blocking request, then the driver is killed.
    fn drop(&mut self) {
        if !self.session.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    /// Its visible text.
    pub async fn text(&self) -> String {
        let text = self.command("GET", "/text", None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks it.
    pub async fn click(&self) {
        self.command("POST", "/click", None).await;
    }

    /// Types `text` into it.
    pub async fn type_text(&self, text: &str) {
        let body = json!({ "text": text });
        self.command("POST", "/value", Some(body)).await;
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/element/{}{path}", self.id);
        self.browser.command(method, &path, body).await
    }
}

/// `target/screenshots`, beside the test binary's own directory.
fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/<binary>: three levels up is the target directory.
    let target = exe.ancestors().nth(3).map(PathBuf::from);
    target
        .unwrap_or_else(std::env::temp_dir)
        .join("screenshots")
}
