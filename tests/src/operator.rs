//! Starts the real `linkgate-operator` binary against the test API server,
//! confined to one test's namespace: it watches only that namespace and elects its leader
//! with a Lease there, so tests running side by side never meet.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::kube::eventually;

/// The operator's permissions, as shipped: where it watches, and its Lease.
const OPERATOR_ROLES: [&str; 2] = [
    include_str!("../../charts/linkgate/rbac/operator-role.yaml"),
    include_str!("../../charts/linkgate/rbac/operator-lease-role.yaml"),
];

/// A running operator, killed on drop.
pub struct Operator {
    child: Option<Child>,
    pub admin: SocketAddr,
    pub identity: String,
    namespace: String,
    /// Further command-line arguments.
    extra: Vec<String>,
    /// The kubeconfig it runs with, when not the test's own.
    kubeconfig: Option<std::path::PathBuf>,
}

impl Operator {
    /// An operator named `identity` (its pod name, in a cluster) in `namespace`.
    pub async fn start(namespace: &str, identity: &str) -> Self {
        Self::start_with(namespace, identity, &[]).await
    }

    /// An operator running as the shipped roles allow, bound
    /// to a ServiceAccount of `namespace`; the returned file must outlive it.
    pub async fn start_as_service_account(
        client: &kube::Client,
        namespace: &str,
        identity: &str,
        extra: &[&str],
    ) -> (Self, tempfile::NamedTempFile) {
        let roles = OPERATOR_ROLES.join("\n---\n");
        let (kubeconfig, _) =
            crate::kube::service_account(client, namespace, "linkgate-operator", &roles).await;
        let mut operator = Self::new(namespace, identity, extra);
        operator.kubeconfig = Some(kubeconfig.path().to_owned());
        operator.spawn().await;
        (operator, kubeconfig)
    }

    /// The same, with further command-line arguments.
    pub async fn start_with(namespace: &str, identity: &str, extra: &[&str]) -> Self {
        let mut operator = Self::new(namespace, identity, extra);
        operator.spawn().await;
        operator
    }

    /// The same, against the API server of `kubeconfig` rather than the test's own.
    pub async fn start_on(
        kubeconfig: &std::path::Path,
        namespace: &str,
        identity: &str,
        extra: &[&str],
    ) -> Self {
        let mut operator = Self::new(namespace, identity, extra);
        operator.kubeconfig = Some(kubeconfig.to_owned());
        operator.spawn().await;
        operator
    }

    fn new(namespace: &str, identity: &str, extra: &[&str]) -> Self {
        Self {
            child: None,
            admin: crate::free_port(),
            identity: identity.into(),
            namespace: namespace.into(),
            extra: extra.iter().map(|&a| a.to_owned()).collect(),
            kubeconfig: None,
        }
    }

    /// Starts the binary again under the same name, as Kubernetes restarts a container.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let mut command = Command::new(crate::operator_binary());
        let kubeconfig = self.kubeconfig.as_deref();
        command.env(
            "KUBECONFIG",
            kubeconfig.unwrap_or(crate::kube::kubeconfig()),
        );
        let child = command
            .args(["--admin", &self.admin.to_string()])
            .args(["--namespace", &self.namespace])
            .args(["--lease-namespace", &self.namespace])
            .args(["--identity", &self.identity])
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the operator");
        self.child = Some(child);
        let url = format!("http://{}/readyz", self.admin);
        eventually("the operator answers /readyz", || async {
            let ready = reqwest::get(&url).await.ok()?.status().is_success();
            ready.then_some(())
        })
        .await;
    }

    /// `kill -9`: no chance to release anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// SIGTERM, then waits (bounded) for the exit; returns the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        crate::terminate(self.child.take().expect("running"), "linkgate-operator").await
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of the sample written exactly `sample` (name and labels), if shown.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// The `linkgate_operator_leader` gauge.
    pub async fn leads(&self) -> bool {
        let metrics = self.metrics().await;
        let value = metrics
            .lines()
            .find_map(|l| l.strip_prefix("linkgate_operator_leader "))
            .unwrap_or_else(|| panic!("no leader gauge in:\n{metrics}"));
        value == "1"
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
