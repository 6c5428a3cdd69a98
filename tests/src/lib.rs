//! Starts the real `linkgate-proxy` binary on 127.0.0.1 for end-to-end tests.
//!
//! Each gateway gets free ports and its own temporary data directory; dropping it kills
//! the process.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod account_backend;
pub mod adobe_app;
pub mod adobe_v2_app;
pub mod browser;
pub mod decision_point;
pub mod device_links;
pub mod dns;
pub mod kube;
pub mod oidc_provider;
pub mod operator;
pub mod origin;
pub mod postgres;
pub mod regions;
pub mod saml_idp;
pub mod tls_origin;

/// Starts `command`, a stand-in server that prints the port it listens on as its first line,
/// and returns it with that port. The rest of its output is drained, for a server whose
/// output pipe closed would die at its next line.
pub fn spawn_listening(command: &mut Command, what: &str) -> (Child, u16) {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let mut output = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    output.read_line(&mut line).expect("its output");
    std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.kill();
        panic!("{what} did not start: {line:?}");
    };
    (child, port)
}

/// An Ed25519 media token key for test requestors (never used outside tests).
pub const TEST_SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINvTo5IIN01atW141ANgjLWyPwI+q4drAt0AnJEzWBDP\n-----END PRIVATE KEY-----\n";

/// The gateway's built-in demo configuration.
pub const DEMO_YAML: &str = include_str!("../../proxy/src/config/demo.yaml");

/// A configuration's requestors with the per-client-IP limit turned off.
pub fn unthrottled(yaml: &str) -> String {
    yaml.replace(
        "    spec:\n",
        "    spec:\n      throttling: {perClientIp: null}\n",
    )
}

/// The backend API key of the demo requestor.
pub const DEMO_KEY: &str = "demo-backend-key";

/// The demo backend's key as a header, for raw requests made server to server.
pub const BACKEND_AUTH: (&str, &str) = ("authorization", "Bearer demo-backend-key");

/// How long a gateway may take to start; generous for a loaded CI machine.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// The gateway binary, built (or found up to date) by cargo once per test process, so a
/// test never runs a binary older than the code. `LINKGATE_PROXY_BIN` overrides it.
pub fn proxy_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| match std::env::var_os("LINKGATE_PROXY_BIN") {
            Some(path) => path.into(),
            None => build("linkgate-proxy"),
        })
        .clone()
}

/// The operator binary, built like the gateway's.
pub fn operator_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build("linkgate-operator")).clone()
}

/// Builds (or finds up to date) the binary of the package of the same name.
fn build(package: &str) -> PathBuf {
    // target/<profile>/deps/<test> → target/<profile>/<package>
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--package", package, "--bin", package])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    // Cargo gives tests its package variables; build scripts (ring's) watch some of them,
    // so passing them on would make every build rebuild what the previous one built.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| {
            n.starts_with("CARGO_")
                && !["CARGO_TARGET_DIR", "CARGO_HOME", "CARGO_INCREMENTAL"].contains(&n)
        }) {
            build.env_remove(name);
        }
    }
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building {package} failed");
    profile_dir.join(package)
}

/// SIGTERM, then waits (bounded) for the process to exit; returns its exit code.
async fn terminate(mut child: Child, name: &str) -> Option<i32> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, Signal::SIGTERM).expect("send SIGTERM");
    let deadline = Instant::now() + START_PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("{name} ignored SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback address nothing listens on yet, for a server a test starts at once.
///
/// Drawn below Linux's ephemeral range (32768–60999), where an outgoing connection of any
/// test could take a port between the moment it is chosen and the moment the server binds
/// it, and below the test control plane's range (20000–32000); one counter per process, so
/// two servers of one test process are never handed the same port.
pub fn free_port() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(LOW + offset).expect("ports fit in u16");
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().expect("a bound address");
        }
    }
    panic!("no free loopback port between {LOW} and {}", LOW + SPAN)
}

/// A running gateway. It is started on port 0 and reports the ports it chose; a restart
/// keeps them.
pub struct Gateway {
    child: Option<Child>,
    pub api: SocketAddr,
    pub admin: SocketAddr,
    data: TempDir,
    /// Where the gateway writes its addresses.
    addresses: TempDir,
    /// The configuration file, in a directory of its own.
    config: Option<(TempDir, PathBuf)>,
    /// Environment variables set for the process beyond the test's own.
    env: Vec<(String, std::ffi::OsString)>,
    pub http: reqwest::Client,
}

impl Gateway {
    /// The built-in demo configuration, unthrottled so that tests can make many calls
    /// from one address (the throttling tests configure their own limits).
    /// Its test MVPD moves to a free port, so that demo gateways of parallel tests do not
    /// meet there.
    pub async fn demo() -> Self {
        Self::demo_with_test_mvpd().await.0
    }

    /// `demo()`, and where its test MVPD listens (`http://127.0.0.1:port`).
    pub async fn demo_with_test_mvpd() -> (Self, String) {
        let test_mvpd = free_port().to_string();
        let config = DEMO_YAML.replace("127.0.0.1:8081", &test_mvpd);
        let places = config.matches(&test_mvpd).count();
        assert_eq!(places, 3, "listen, issuer and SAML metadata");
        let gw = Self::with_config(&unthrottled(&config)).await;
        (gw, format!("http://{test_mvpd}"))
    }

    /// The standalone gateway exactly as `linkgate-proxy` runs with no configuration.
    pub async fn builtin_demo() -> Self {
        Self::start(None, Vec::new()).await
    }

    /// A gateway with the configuration `yaml` (its listen addresses are overridden).
    pub async fn with_config(yaml: &str) -> Self {
        Self::with_config_env(yaml, Vec::new()).await
    }

    /// A gateway with the configuration `yaml` and environment variables of its own.
    pub async fn with_config_env(yaml: &str, env: Vec<(String, std::ffi::OsString)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).expect("write config");
        Self::start(Some((dir, path)), env).await
    }

    async fn start(
        config: Option<(TempDir, PathBuf)>,
        env: Vec<(String, std::ffi::OsString)>,
    ) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut gateway = Self {
            child: None,
            api: any_port,
            admin: any_port,
            data,
            addresses: tempfile::tempdir().expect("temp dir"),
            config,
            env,
            http: reqwest::Client::new(),
        };
        gateway.spawn().await;
        gateway
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    async fn spawn(&mut self) {
        let addresses = self.addresses.path().join("addresses.json");
        let _ = std::fs::remove_file(&addresses);
        let mut command = Command::new(proxy_binary());
        command
            .arg("--listen")
            .arg(self.api.to_string())
            .arg("--admin")
            .arg(self.admin.to_string())
            .arg("--addresses-file")
            .arg(&addresses)
            .arg("--data-dir")
            .arg(self.data.path())
            .arg("--grace-period-seconds")
            .arg("0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some((_, config)) = &self.config {
            command.arg("--config").arg(config);
        }
        let child = command.spawn().expect("start linkgate-proxy");
        self.child = Some(child);
        self.wait_bound(&addresses).await;
        self.wait_ready().await;
    }

    /// Reads the addresses the gateway reports once its listeners are settled.
    async fn wait_bound(&mut self, addresses: &Path) {
        let deadline = Instant::now() + START_PATIENCE;
        let reported = loop {
            if let Ok(bytes) = std::fs::read(addresses) {
                break serde_json::from_slice::<serde_json::Value>(&bytes)
                    .expect("the addresses file is JSON");
            }
            self.assert_running(deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let addr = |name: &str| -> SocketAddr {
            let addr = reported[name].as_str().expect("an address");
            addr.parse().expect("a socket address")
        };
        self.api = addr("api");
        self.admin = addr("admin");
    }

    fn assert_running(&mut self, deadline: Instant) {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("linkgate-proxy exited during start: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "linkgate-proxy not ready in time"
        );
    }

    /// Ready, and the API listening too: Pingora binds each service's listeners as it starts
    /// that service, so the admin port can answer a moment before the API port accepts.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_PATIENCE;
        let url = format!("http://{}/readyz", self.admin);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
                && tokio::net::TcpStream::connect(self.api).await.is_ok()
            {
                return;
            }
            self.assert_running(deadline);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// SIGTERM, then waits (bounded) for the process to exit; returns its exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        terminate(self.child.take().expect("running"), "linkgate-proxy").await
    }

    /// Replaces the configuration file and restarts on the same data directory.
    pub async fn reconfigure(&mut self, yaml: &str) {
        self.write_config(yaml);
        self.restart().await;
    }

    /// Replaces the configuration file under the running gateway.
    pub fn write_config(&mut self, yaml: &str) {
        let (_, path) = self
            .config
            .as_ref()
            .expect("a gateway started with a config file");
        // Write aside and rename, so the gateway never reads a half-written file.
        let staged = path.with_extension("staged");
        std::fs::write(&staged, yaml).expect("write config");
        std::fs::rename(&staged, path).expect("replace config");
    }

    /// SIGHUP: reload the configuration.
    pub fn hangup(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(i32::try_from(self.pid()).expect("pid fits"));
        kill(pid, Signal::SIGHUP).expect("send SIGHUP");
    }

    /// Starts the binary again on the same ports and data directory.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// The activation page's sign-in form, as `browser` submits it once the person has
    /// confirmed the device: `code` of `requestor`, at `mvpd`. The confirmation page is
    /// fetched first (its token, and its cookie unless `browser` keeps cookies). Returned
    /// unsent, for a test to add headers or a timeout.
    pub async fn sign_in_request(
        &self,
        browser: &reqwest::Client,
        requestor: &str,
        code: &str,
        mvpd: &str,
    ) -> reqwest::RequestBuilder {
        let page = browser
            .get(self.url(&format!("/activate/{requestor}?code={code}")))
            .send()
            .await
            .expect("the confirmation page");
        let cookie = set_cookie(&page, "linkgate_browser");
        let page = page.text().await.expect("page text");
        let token = form_field(&page, "confirm").unwrap_or_default();
        let mut request = browser
            .post(self.url(&format!("/activate/{requestor}/signin")))
            .form(&[
                ("code", code),
                ("mvpd", mvpd),
                ("confirm", &token),
                ("confirmed", "yes"),
            ]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("linkgate_browser={cookie}"));
        }
        request
    }

    /// The person confirms the device on the confirmation page `page` (as `browser` was
    /// shown it) and picks `mvpd`: the form posted, with the page's cookie unless
    /// `browser` keeps cookies.
    pub async fn confirm(
        &self,
        browser: &reqwest::Client,
        page: reqwest::Response,
        mvpd: &str,
    ) -> reqwest::Response {
        assert_eq!(page.status(), 200, "a confirmation page");
        let cookie = set_cookie(&page, "linkgate_browser");
        let path = page.url().path().to_owned();
        let page = page.text().await.expect("page text");
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|a| a.split('"').next())
            .unwrap_or_else(|| panic!("a form on {path}: {page}"))
            .to_owned();
        let mut form = vec![("mvpd", mvpd.to_owned()), ("confirmed", "yes".into())];
        for field in ["code", "confirm", "redirect_url"] {
            if let Some(value) = form_field(&page, field) {
                form.push((field, value));
            }
        }
        let mut request = browser.post(self.url(&action)).form(&form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("linkgate_browser={cookie}"));
        }
        request.send().await.expect("the confirmed form")
    }

    /// The users the demo backend sees linked to `device` of `requestor`.
    pub async fn linked_users(&self, requestor: &str, device: &str) -> serde_json::Value {
        let path = format!("/v1/requestors/{requestor}/devices/{device}/users");
        let (status, body) = self.get(&path, Some(DEMO_KEY)).await;
        assert_eq!(status, 200, "{body}");
        body["users"].clone()
    }

    /// The activation page `browser` is shown for `code` of `requestor`.
    pub async fn activation_page(
        &self,
        browser: &reqwest::Client,
        requestor: &str,
        code: &str,
    ) -> String {
        browser
            .get(self.url(&format!("/activate/{requestor}?code={code}")))
            .send()
            .await
            .expect("activation page")
            .text()
            .await
            .expect("page text")
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("http://{}/metrics", self.admin))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics text")
    }

    /// POSTs a JSON body, with the demo backend's key when `backend` is set.
    pub async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        read(request.send().await.expect("request")).await
    }

    /// POSTs form parameters.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, key).await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::DELETE, path, key).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        read(request.send().await.expect("request")).await
    }

    /// Issues a native code for `device` and returns it as displayed (`XXXX-XXXX`).
    pub async fn issue_code(&self, requestor: &str, device: &str) -> String {
        self.issue_code_with_secret(requestor, device).await.0
    }

    /// Issues a native code for `device`: the code as displayed, and the device secret.
    pub async fn issue_code_with_secret(&self, requestor: &str, device: &str) -> (String, String) {
        self.issue_code_as(requestor, device, None).await
    }

    /// Issues a native code for `device` as the holder of `credential` (what a device that
    /// is linked already needs): the code as displayed, and the device secret.
    pub async fn issue_code_as(
        &self,
        requestor: &str,
        device: &str,
        credential: Option<&str>,
    ) -> (String, String) {
        let (status, body) = self
            .post_json(
                &format!("/v1/requestors/{requestor}/codes"),
                serde_json::json!({ "deviceId": device }),
                credential,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let field = |name: &str| body[name].as_str().expect(name).to_owned();
        (field("displayCode"), field("deviceSecret"))
    }

    /// Exchanges the device secret of a linked code for the device's first tokens.
    pub async fn device_tokens(&self, requestor: &str, secret: &str) -> DeviceTokens {
        let (status, body) = self
            .post_form(
                &format!("/oauth/{requestor}/token"),
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", secret),
                    ("client_id", requestor),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        DeviceTokens::from(&body)
    }

    /// Renews a device's tokens with its refresh token: status and body.
    pub async fn refresh(&self, requestor: &str, refresh_token: &str) -> (u16, serde_json::Value) {
        self.post_form(
            &format!("/oauth/{requestor}/token"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", requestor),
            ],
            None,
        )
        .await
    }

    /// Issues a code for `device`, links it to `user` through the backend, and exchanges
    /// the device secret: the device's tokens.
    pub async fn linked_device(&self, requestor: &str, device: &str, user: &str) -> DeviceTokens {
        let (code, secret) = self.issue_code_with_secret(requestor, device).await;
        self.link_code(requestor, &code, user).await;
        self.device_tokens(requestor, &secret).await
    }

    /// The backend links `code` of `requestor` to `user` at the test MVPD, as a second
    /// screen of its own would once the person signed in.
    pub async fn link_code(&self, requestor: &str, code: &str, user: &str) {
        let (status, body) = self
            .post_json(
                &format!("/v1/requestors/{requestor}/links"),
                serde_json::json!({"code": code, "userId": user, "mvpd": "test-mvpd"}),
                Some(DEMO_KEY),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// A device's access and refresh tokens.
#[derive(Clone, Debug)]
pub struct DeviceTokens {
    pub access: String,
    pub refresh: String,
}

impl From<&serde_json::Value> for DeviceTokens {
    fn from(body: &serde_json::Value) -> Self {
        let field = |name: &str| body[name].as_str().expect(name).to_owned();
        Self {
            access: field("access_token"),
            refresh: field("refresh_token"),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Status and JSON body (`null` for an empty body).
pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, body)
}

/// The setting that lets requestors call the tests' stand-ins (MVPDs, decision points,
/// webhooks), which listen on plain http on loopback.
pub const LOOPBACK_HTTP: &str = "insecureLoopbackHttp: true\n";

/// The demo configuration with other requestor settings: `spec_extra` is YAML lines
/// indented for the spec (e.g. `"      allowMultipleUsers: true\n"`).
pub fn config_with(name: &str, spec_extra: &str) -> String {
    unthrottled(&format!(
        "secrets:\n  backend:\n    apiKey: {DEMO_KEY}\nrequestors:\n  - name: {name}\n    spec:\n      mvpds:\n        - id: test-mvpd\n      backend:\n        apiKeySecretRef: {{name: backend, key: apiKey}}\n{spec_extra}"
    ))
}

/// Secrets (the backend key, a media key) and requestors named in `requestors`, each
/// `(name, spec lines indented by six spaces)`: the requestors get the test MVPD allowing
/// everything, the media key and the backend key unless their lines say otherwise.
pub fn requestors_config(top: &str, requestors: &[(&str, &str)]) -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let mut out = format!(
        "{top}{LOOPBACK_HTTP}secrets:\n  backend: {{apiKey: {DEMO_KEY}}}\n  media:\n    key: |\n{pem}requestors:\n"
    );
    for (name, spec) in requestors {
        out.push_str(&format!(
            "  - name: {name}\n    spec:\n      mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}]\n\
             \x20     mediaTokens: {{signingKeys: [{{id: k1, privateKeySecretRef: {{name: media, key: key}}}}]}}\n\
             \x20     backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}\n{spec}"
        ));
    }
    out
}

/// A software statement signed by `key` (PEM) for `requestor`'s software `software_id`,
/// made by the gateway's own `software-statement` command, as a programmer makes one.
pub fn software_statement(key: &str, requestor: &str, software_id: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("statement-key.pem");
    std::fs::write(&path, key).expect("write the key");
    let out = Command::new(proxy_binary())
        .args(["software-statement", "--key"])
        .arg(&path)
        .args(["--requestor", requestor, "--software-id", software_id])
        .args(["--software-version", "2.1", "--ttl-seconds", "3600"])
        .output()
        .expect("run software-statement");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

/// Links `device` to `user` through the test MVPD and returns a media token for `resource`.
pub async fn media_token(gw: &Gateway, requestor: &str, device: &str, resource: &str) -> String {
    let tokens = gw.linked_device(requestor, device, "alice").await;
    let (status, body) = gw
        .get(
            &format!("/v1/requestors/{requestor}/devices/{device}/media-token?resource={resource}"),
            Some(&tokens.access),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

/// A GET over a fresh socket, so the test knows its source port; returns the status line's
/// code, the response head and body.
pub async fn raw_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let port = socket.local_addr().expect("local address").port();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    socket.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer, port)
}

/// Polls the gateway's metrics until `line` appears, or fails after `patience`.
pub async fn wait_for_metric(gw: &Gateway, line: &str, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let metrics = gw.metrics().await;
        if metrics.lines().any(|l| l == line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{line:?} never appeared in:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Serves `app` on `(ip, port)` (port 0: any free one) until the task is aborted.
pub async fn serve(
    app: axum::Router,
    ip: &str,
    port: u16,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind((ip, port))
        .await
        .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
    let addr = listener.local_addr().expect("a local address");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (addr, task)
}

/// The value of the cookie `name` a response sets.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| Some(v.strip_prefix(&prefix)?.split(';').next()?.to_owned()))
}

/// The value of the (hidden) form field `name` on an activation page, unescaped.
pub fn form_field(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\" value=\""))?;
    let value = &page[at + name.len() + 15..];
    let value = &value[..value.find('"')?];
    let unescaped = [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
    ]
    .iter()
    .fold(value.to_owned(), |v, (entity, c)| v.replace(entity, c));
    Some(unescaped.replace("&amp;", "&"))
}

/// Signs `user` in at the built-in test MVPD's page `authorize` (where the gateway sent the
/// browser) and takes its answer back to the gateway: the gateway's answer.
pub async fn test_mvpd_sign_in(
    browser: &reqwest::Client,
    authorize: &str,
    user: &str,
) -> reqwest::Response {
    let authorize = url::Url::parse(authorize).expect("the provider's URL");
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("user".into(), user.into()));
    let answer = browser
        .post(authorize.join("/authorize").expect("a URL"))
        .form(&form)
        .send()
        .await
        .expect("the test MVPD answers");
    assert_eq!(answer.status(), 303, "the test MVPD sends the browser back");
    let back = answer.headers()["location"]
        .to_str()
        .expect("a URL")
        .to_owned();
    browser
        .get(back)
        .send()
        .await
        .expect("the gateway's callback")
}
