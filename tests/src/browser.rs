//! Headless Chromium (Debian's, installed by `.ci/setup`) driven over WebDriver by
//! chromedriver, as a person's browser on the activation pages; and axe-core's
//! accessibility rules run in the page.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use fantoccini::{ClientBuilder, Locator};

use crate::free_port;

/// chromedriver on a port of its own, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub fn start() -> Self {
        assert!(
            Command::new("chromedriver")
                .arg("--version")
                .output()
                .is_ok(),
            "no chromedriver: run .ci/setup"
        );
        // A port another process took in between makes chromedriver exit: try another.
        for _ in 0..5 {
            let port = free_port().port();
            let mut child = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let mut output = BufReader::new(child.stdout.take().expect("piped"));
            let mut started = false;
            let mut line = String::new();
            while output.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line.contains("started successfully") {
                    started = true;
                    break;
                }
                line.clear();
            }
            if started {
                // Drained from now on: a driver whose output pipe closed would fail to log.
                std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
                return Self {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("chromedriver did not start");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the browser presents itself.
#[derive(Clone, Copy, Default)]
pub struct Browser<'a> {
    /// The languages it asks for (`Accept-Language`), e.g. `"es-ES,es"`.
    pub languages: Option<&'a str>,
    /// A phone's viewport, this many CSS pixels wide (at a pixel ratio of 1).
    pub phone_width: Option<u32>,
}

/// The height of the phone viewport.
pub const PHONE_HEIGHT: u32 = 844;

impl Browser<'_> {
    /// Headless Chromium without the background connections this machine's network refuses.
    fn capabilities(&self, profile: &Path) -> fantoccini::wd::Capabilities {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = serde_json::json!({ "binary": "/usr/bin/chromium" });
        if let Some(languages) = self.languages {
            args.push(format!("--accept-lang={languages}"));
            options["prefs"] = serde_json::json!({ "intl.accept_languages": languages });
        }
        if let Some(width) = self.phone_width {
            options["mobileEmulation"] = serde_json::json!({
                "deviceMetrics": { "width": width, "height": PHONE_HEIGHT, "pixelRatio": 1.0 },
            });
        }
        options["args"] = serde_json::json!(args);
        [("goog:chromeOptions".to_owned(), options)]
            .into_iter()
            .collect()
    }

    /// A Chromium session with its profile in `profile`.
    pub async fn open(&self, driver: &Driver, profile: &Path) -> fantoccini::Client {
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(self.capabilities(profile))
            .connect(&driver.url)
            .await
            .expect("a Chromium session")
    }
}

/// Types `text` into the field `id` once the page has it (replacing what it held), and
/// submits its form.
pub async fn fill_and_submit(browser: &fantoccini::Client, id: &str, text: &str) {
    let field = browser.wait().for_element(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// What axe-core finds wrong on the page `browser` shows, against the WCAG 2.1 A and AA
/// rules and its best practices: one line per rule broken, with the elements breaking it.
pub async fn accessibility_violations(browser: &fantoccini::Client) -> Vec<String> {
    let axe = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("accessibility/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe)
        .unwrap_or_else(|e| panic!("{}: {e} (run .ci/setup)", axe.display()));
    browser.execute(&axe, vec![]).await.expect("axe-core loads");
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
               .then(r => done(r.violations.map(v =>
                 v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(found).expect("a list of violations")
}
