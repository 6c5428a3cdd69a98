//! A SAML 2.0 identity provider that is not ours — `tests/saml-idp/idp.py`, pysaml2 with
//! Debian's xmlsec1, installed by `.ci/setup` — on 127.0.0.1 with a key pair of its own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::{Client, StatusCode, header};
use tempfile::TempDir;
use url::Url;

pub struct SamlIdp {
    child: Child,
    /// Where it listens, `http://127.0.0.1:port`.
    pub base: String,
    _keys: TempDir,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("saml-idp")
}

impl SamlIdp {
    pub fn start() -> Self {
        let packages = dir().join("packages");
        assert!(
            packages.join("saml2").is_dir(),
            "no {}: run .ci/setup",
            packages.display()
        );
        let keys = tempfile::tempdir().expect("a directory for the provider's keys");
        let (child, port) = crate::spawn_listening(
            Command::new("python3")
                .arg(dir().join("idp.py"))
                .arg(keys.path())
                .env("PYTHONPATH", &packages)
                // pysaml2 uses ciphers the cryptography package warns about.
                .env("PYTHONWARNINGS", "ignore")
                .stderr(Stdio::inherit()),
            "the SAML provider",
        );
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _keys: keys,
        }
    }

    /// Its metadata's URL, which is its entity ID too.
    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    /// Trusts the service provider `metadata` describes; with `want_signed`, it takes only
    /// signed AuthnRequests from then on.
    pub async fn trust(&self, metadata: &str, want_signed: bool) {
        let url = format!(
            "{}/sp?want_signed={}",
            self.base,
            if want_signed { 1 } else { 0 }
        );
        let answer = reqwest::Client::new()
            .put(url)
            .body(metadata.to_owned())
            .send()
            .await
            .expect("the provider answers");
        assert!(
            answer.status().is_success(),
            "the provider took the metadata: {:?}",
            answer.text().await
        );
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the provider's auto-posting form would post, and where.
pub struct Posted {
    pub acs: Url,
    pub response: String,
    pub relay_state: String,
    /// The cookie (`name=value`) the gateway set on the browser that started the sign-in.
    pub cookie: Option<String>,
}

impl Posted {
    /// The response's XML.
    pub fn xml(&self) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.response)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    pub fn with_xml(&self, xml: &str) -> Posted {
        use base64::Engine;
        Posted {
            acs: self.acs.clone(),
            response: base64::engine::general_purpose::STANDARD.encode(xml),
            relay_state: self.relay_state.clone(),
            cookie: self.cookie.clone(),
        }
    }

    pub async fn post(&self, browser: &Client) -> reqwest::Response {
        let mut request = browser.post(self.acs.clone());
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request
            .form(&[
                ("SAMLResponse", self.response.as_str()),
                ("RelayState", self.relay_state.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// How many answers the gateway refused for `requestor` for `reason`.
pub async fn refusals(gw: &crate::Gateway, requestor: &str, reason: &str) -> u64 {
    let line =
        format!("linkgate_saml_refusals_total{{reason=\"{reason}\",requestor=\"{requestor}\"}} ");
    gw.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |n| n.parse().expect("a count"))
}

/// The value of the form field `name` of an HTML page, its character references read.
pub fn form_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').expect("a closing quote");
    unescape(&html[start..end])
}

/// Where a page's first form posts to.
pub fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + "action=\"".len();
    let end = start + html[start..].find('"').expect("a closing quote");
    unescape(&html[start..end])
}

/// Text with HTML's character references (`&amp;`, `&#43;`, `&#x2B;`…) read.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(';') else {
            break;
        };
        let reference = &rest[at + 1..at + end];
        let char = match reference {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => reference
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| reference.strip_prefix('#').map(str::parse))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match char {
            Some(c) => out.push(c),
            None => out.push_str(&rest[at..=at + end]),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Follows the gateway's redirect to the provider, signs in there as `knobs` say, and
/// returns the form the provider's page would post.
pub async fn at_provider(browser: &Client, to_provider: reqwest::Response, knobs: &str) -> Posted {
    assert_eq!(
        to_provider.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        to_provider.text().await
    );
    let cookie = to_provider
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let location = to_provider.headers()[header::LOCATION].to_str().unwrap();
    let sso = Url::parse(&format!("{location}&{knobs}")).unwrap();
    let page = browser.get(sso).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    Posted {
        acs: Url::parse(&form_action(&html)).unwrap(),
        response: form_field(&html, "SAMLResponse"),
        relay_state: form_field(&html, "RelayState"),
        cookie,
    }
}
