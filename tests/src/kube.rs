//! The Kubernetes API server of the test control plane (`tests/control-plane/cluster.sh`),
//! found through `KUBECONFIG`. Locally a test without one skips, saying so; in CI (`CI`
//! set) a missing API server fails the test, so Kubernetes tests can never silently not run.

use std::io::Write;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A client for the test API server, or `None` (after saying why) when there is none.
pub async fn client(test: &str) -> Option<Client> {
    let Some(path) = std::env::var_os("KUBECONFIG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must run the Kubernetes tests, but KUBECONFIG is not set"
        );
        // Straight to stderr: the test harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: skipped, no API server (start one: export KUBECONFIG=$(tests/control-plane/cluster.sh start dev))"
        );
        return None;
    };
    let kubeconfig = Kubeconfig::read_from(&path).expect("a readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Some(Client::try_from(config).expect("a client"))
}

/// A namespace name of its own for one test: the prefix, the process and the time.
pub fn namespace(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{prefix}-{:x}-{nanos:x}", std::process::id())
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
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, ObjectMeta, PostParams};
    let name = namespace(prefix);
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create the namespace");
    name
}
