//! A SAML 2.0 identity provider that is not ours — `tests/saml-idp/idp.py`, pysaml2 with
//! Debian's xmlsec1, installed by `.ci/setup` — on 127.0.0.1 with a key pair of its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

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
        let mut child = Command::new("python3")
            .arg(dir().join("idp.py"))
            .arg(keys.path())
            .env("PYTHONPATH", &packages)
            // pysaml2 uses ciphers the cryptography package warns about.
            .env("PYTHONWARNINGS", "ignore")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let mut output = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        output.read_line(&mut line).expect("the provider's output");
        std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            panic!("the SAML provider did not start: {line:?}");
        };
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
