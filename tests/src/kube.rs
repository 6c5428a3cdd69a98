//! The Kubernetes API server of the tests: the one `KUBECONFIG` names (CI starts one with
//! `tests/control-plane/cluster.sh`), or else a control plane the test process starts for
//! itself on first use and which stops once the process has exited. A test never skips
//! for want of one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use linkgate_crds::Requestor;

/// How long a test waits for the operator to act; generous for a loaded CI machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The kubeconfig of the test API server.
pub fn kubeconfig() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| match std::env::var_os("KUBECONFIG") {
        Some(path) => path.into(),
        None => start_control_plane(&namespace("tests"), Some(std::process::id())),
    })
}

/// The client configuration of the test API server.
pub async fn config() -> kube::Config {
    config_of(kubeconfig()).await
}

/// A client of the test API server.
pub async fn client() -> Client {
    Client::try_from(config().await).expect("a client")
}

async fn config_of(path: &Path) -> kube::Config {
    let kubeconfig = Kubeconfig::read_from(path).expect("a readable kubeconfig");
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig")
}

/// Starts control plane `name`; with an `owner`, it stops once that process has exited.
fn start_control_plane(name: &str, owner: Option<u32>) -> PathBuf {
    let mut command = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/control-plane/cluster.sh"
    ));
    if let Some(pid) = owner {
        command.env("LINKGATE_CONTROL_PLANE_OWNER", pid.to_string());
    }
    let out = command
        .args(["start", name])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run cluster.sh");
    assert!(out.status.success(), "cluster.sh start {name} failed");
    String::from_utf8(out.stdout).expect("a path").trim().into()
}

/// A namespace name of its own for one test: the prefix, the process, the time and a counter.
pub fn namespace(prefix: &str) -> String {
    // The clock alone once gave two tests of one process the same name.
    static TAKEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let n = TAKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{:x}-{nanos:x}-{n}", std::process::id())
}

/// Installs (server-side applies) linkgate's CRDs and waits until they are Established.
pub async fn install_crds(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for doc in include_str!("../../crds/crds.yaml").split("\n---\n") {
        let crd: CustomResourceDefinition =
            serde_yaml_ng::from_str(doc.trim_start_matches("---\n")).expect("a CRD");
        let name = crd.metadata.name.clone().expect("named");
        crds.patch(
            &name,
            &PatchParams::apply("linkgate-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("apply the CRD");
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .expect("established in time")
        .expect("watch");
    }
}

/// Creates a namespace of its own for a test and returns its name.
pub async fn create_namespace(client: &Client, prefix: &str) -> String {
    let name = namespace(prefix);
    create_namespace_named(client, &name).await;
    name
}

/// Creates the namespace `name` (the same one in several API servers, say).
pub async fn create_namespace_named(client: &Client, name: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ObjectMeta, PostParams};
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the namespace");
}

/// Runs as the ServiceAccount `account` of `namespace` with only `role` (Role or
/// ClusterRole manifests, YAML documents apart by `---` lines) bound to it in that namespace: creates them, and returns a
/// kubeconfig file impersonating it plus a client that does the same.
pub async fn service_account(
    client: &Client,
    namespace: &str,
    account: &str,
    role: &str,
) -> (tempfile::NamedTempFile, Client) {
    service_account_on(kubeconfig(), client, namespace, account, role).await
}

/// [`service_account`] on the API server of `kubeconfig`, which `client` speaks to.
pub async fn service_account_on(
    kubeconfig: &Path,
    client: &Client,
    namespace: &str,
    account: &str,
    role: &str,
) -> (tempfile::NamedTempFile, Client) {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use kube::api::{Api, ObjectMeta, PostParams};

    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..Default::default()
    };
    let post = PostParams::default();
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create(
            &post,
            &ServiceAccount {
                metadata: meta(account),
                ..Default::default()
            },
        )
        .await
        .expect("create the service account");
    // One or more Role or ClusterRole documents, each bound to the account.
    for document in role.split("\n---\n") {
        let manifest = serde_yaml_ng::from_str(document).expect("YAML");
        bind_role(client, namespace, account, manifest).await;
    }

    let mut kubeconfig = Kubeconfig::read_from(kubeconfig).expect("a readable kubeconfig");
    let user = format!("system:serviceaccount:{namespace}:{account}");
    for named in &mut kubeconfig.auth_infos {
        if let Some(auth) = named.auth_info.as_mut() {
            auth.impersonate = Some(user.clone());
        }
    }
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
            .await
            .expect("a usable kubeconfig");
    let mut file = tempfile::NamedTempFile::new().expect("a temp file");
    file.write_all(
        serde_yaml_ng::to_string(&kubeconfig)
            .expect("kubeconfig YAML")
            .as_bytes(),
    )
    .expect("write the kubeconfig");
    (file, Client::try_from(config).expect("a client"))
}

/// An API server of its own for a test that stops or pauses it, started with
/// `tests/control-plane/cluster.sh` and stopped on drop.
pub struct Instance {
    name: String,
    pub kubeconfig: std::path::PathBuf,
}

impl Instance {
    pub fn start(prefix: &str) -> Self {
        let name = namespace(prefix);
        let kubeconfig = start_control_plane(&name, None);
        Self { name, kubeconfig }
    }

    pub async fn client(&self) -> Client {
        Client::try_from(config_of(&self.kubeconfig).await).expect("a client")
    }

    /// Stops the API server, keeping its data and address: connections are refused.
    pub fn down(&self) {
        self.cluster_sh("down");
    }

    /// Starts the API server again after [`Instance::down`], on its data and address.
    pub fn up(&self) {
        self.cluster_sh("up");
    }

    fn cluster_sh(&self, command: &str) {
        let status = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/control-plane/cluster.sh"
        ))
        .args([command, &self.name])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run cluster.sh");
        assert!(
            status.success(),
            "cluster.sh {command} {} failed",
            self.name
        );
    }

    /// Freezes the API server (SIGSTOP): connections stay open and nothing answers.
    pub fn pause(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid =
            std::fs::read_to_string(self.kubeconfig.with_file_name("pid")).expect("a pid file");
        let pid = nix::unistd::Pid::from_raw(pid.trim().parse().expect("a pid"));
        nix::sys::signal::kill(pid, signal).expect("signal the API server");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.resume();
        let _ = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/control-plane/cluster.sh"
        ))
        .args(["stop", &self.name])
        .status();
    }
}

/// Asks `probe` every 100 ms until it answers, failing with `what` after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(answer) = probe().await {
            return answer;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the requestor's `type_` condition has `status`; returns it.
pub async fn condition(api: &Api<Requestor>, name: &str, type_: &str, status: &str) -> Condition {
    eventually(&format!("{name}: {type_}={status}"), async || {
        api.get(name)
            .await
            .ok()?
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == type_ && c.status == status)
    })
    .await
}

/// Applies the Requestor `demo` in `namespace` of the API server of `kubeconfig` with
/// kubectl, written as a person writes it: the test MVPD allowing everything, no per-client
/// throttling (turned off), the backend key in Secret `demo.backend`, and `media_tokens`
/// as given (JSON is YAML too).
pub fn create_demo_requestor(kubeconfig: &Path, namespace: &str, media_tokens: serde_json::Value) {
    let yaml = format!(
        "apiVersion: linkgate.dev/v1alpha1\nkind: Requestor\nmetadata: {{name: demo}}\n\
         spec:\n  mvpds: [{{id: test-mvpd, decision: {{allow: ['*']}}}}]\n\
         \x20 throttling: {{perClientIp: {{disabled: true}}}}\n  mediaTokens: {media_tokens}\n\
         \x20 backend: {{apiKeySecretRef: {{name: demo.backend, key: apiKey}}}}\n"
    );
    let (ok, out) = kubectl(kubeconfig, &["apply", "-n", namespace, "-f", "-"], &yaml);
    assert!(ok, "kubectl apply of the demo requestor: {out}");
}

/// Creates the Secret `name` in `namespace` holding `value` under `key`.
pub async fn create_secret(client: &Client, namespace: &str, name: &str, key: &str, value: &[u8]) {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{ObjectMeta, PostParams};
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        data: Some([(key.to_owned(), ByteString(value.to_vec()))].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_or_else(|e| panic!("create Secret {name}: {e}"));
}

/// Creates the Role or ClusterRole `manifest` (a ClusterRole is shared by tests, so applied)
/// and binds it to `account` in `namespace`.
async fn bind_role(
    client: &Client,
    namespace: &str,
    account: &str,
    manifest: serde_yaml_ng::Value,
) {
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role, RoleBinding, RoleRef, Subject};
    use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..Default::default()
    };
    let post = PostParams::default();
    let kind = manifest["kind"].as_str().expect("a kind").to_owned();
    let role_name = if kind == "ClusterRole" {
        // Cluster-wide and shared by tests: applied, so that every test may apply it.
        let role: ClusterRole = serde_yaml_ng::from_value(manifest).expect("a ClusterRole");
        let name = role.metadata.name.clone().expect("a named ClusterRole");
        Api::<ClusterRole>::all(client.clone())
            .patch(
                &name,
                &PatchParams::apply("linkgate-tests").force(),
                &Patch::Apply(&role),
            )
            .await
            .expect("apply the cluster role");
        name
    } else {
        let mut role: Role = serde_yaml_ng::from_value(manifest).expect("a Role");
        role.metadata.namespace = Some(namespace.to_owned());
        let name = role.metadata.name.clone().expect("a named Role");
        Api::<Role>::namespaced(client.clone(), namespace)
            .create(&post, &role)
            .await
            .expect("create the role");
        name
    };
    let binding = RoleBinding {
        metadata: meta(&format!("{account}-{role_name}")),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind,
            name: role_name,
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account.to_owned(),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&post, &binding)
        .await
        .expect("bind the role");
}

/// Runs `kubectl` against the API server of `kubeconfig`, as a person would, with `stdin`
/// as its input (`-f -`); returns whether it succeeded and what it printed (both streams).
pub fn kubectl(kubeconfig: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(kubectl_binary())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl (.ci/setup builds one where missing)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())
        .expect("write kubectl's input");
    let out = child.wait_with_output().expect("kubectl runs");
    let printed = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    (out.status.success(), printed.into_owned())
}

/// kubectl on the PATH, else the one `.ci/setup` built (`cluster.sh kubectl`).
fn kubectl_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| {
        let cache = std::env::var_os("LINKGATE_CACHE").map(PathBuf::from);
        let home = || PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        let cache = cache.unwrap_or_else(|| home().join(".cache/linkgate"));
        cache.join("control-plane/bin/kubectl")
    })
}

/// Applies `requestor` in `namespace` of the shared test API server with kubectl, as YAML,
/// as a person would (the API server's strict field validation included).
pub fn apply_requestor(namespace: &str, requestor: &Requestor) {
    apply_requestor_on(kubeconfig(), namespace, requestor);
}

/// The same on the API server of `kubeconfig`.
pub fn apply_requestor_on(kubeconfig: &Path, namespace: &str, requestor: &Requestor) {
    let yaml = serde_yaml_ng::to_string(requestor).expect("YAML");
    let args = ["apply", "-n", namespace, "-f", "-"];
    let (ok, out) = kubectl(kubeconfig, &args, &yaml);
    assert!(ok, "kubectl apply: {out}\n{yaml}");
}
