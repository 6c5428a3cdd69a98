//! Every YAML block of the README goes through kubectl, whose YAML 1.1 reader turns `off`,
//! `yes` and friends into booleans, and the API server's strict field validation, as people
//! use them: Kubernetes objects are applied and their documented effect checked; each
//! requestor `spec` of a configuration file, and each spec fragment, is applied as a
//! Requestor (server-side dry run). A README example that does not work fails here. And the
//! incident that made this test: a limit turned off with the old `off` spelling is refused at
//! the prompt, naming the field, as are a misspelt field and a limit without its numbers.

use std::path::Path;

use linkgate_tests::kube::{create_namespace, eventually, install_crds, kubeconfig, kubectl};
use linkgate_tests::operator::Operator;
use linkgate_tests::{Gateway, raw_get};

const README: &str = include_str!("../../README.md");

/// The README's fenced YAML blocks, with the line each starts on.
fn yaml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut open, line.trim_end()) {
            (None, "```yaml") => open = Some((n + 1, String::new())),
            (Some(_), "```") => blocks.extend(open.take()),
            (Some((_, block)), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A Requestor named `name` whose spec is `spec`, text as written (indented here).
fn as_requestor(name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "apiVersion: linkgate.dev/v1alpha1\nkind: Requestor\nmetadata: {{name: {name}}}\nspec:\n{spec}"
    )
}

/// The text of each `spec:` of a configuration file's `requestors`, dedented.
fn requestor_specs(block: &str) -> Vec<String> {
    let lines: Vec<&str> = block.lines().collect();
    let mut specs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start() != "spec:" {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .copied()
            .collect();
        let inner = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        specs.push(
            body.iter()
                .map(|l| format!("{}\n", l.get(inner..).unwrap_or("")))
                .collect(),
        );
    }
    specs
}

/// Applies through kubectl in `ns`; `dry_run` asks the server to check without storing.
fn apply(kubeconfig: &Path, ns: &str, yaml: &str, dry_run: bool) -> (bool, String) {
    let mut args = vec!["apply", "-n", ns, "-f", "-"];
    if dry_run {
        args.push("--dry-run=server");
    }
    kubectl(kubeconfig, &args, yaml)
}

#[tokio::test]
async fn every_readme_yaml_block_works_through_kubectl() {
    let client = linkgate_tests::kube::client().await;
    install_crds(&client).await;
    let ns = create_namespace(&client, "readme").await;
    let config = kubeconfig();
    let blocks = yaml_blocks(README);
    assert!(blocks.len() >= 4, "the README's YAML blocks are found");
    let (mut objects, mut specs) = (Vec::new(), 0);
    for (line, block) in &blocks {
        let first_key = block
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .and_then(|l| l.split(':').next())
            .unwrap_or_default();
        if block.lines().any(|l| l.starts_with("kind: ")) {
            let (ok, out) = apply(config, &ns, block, false);
            assert!(ok, "README line {line}: {out}");
            objects.push(block);
        } else if block.lines().any(|l| l == "requestors:") {
            for spec in requestor_specs(block) {
                let (ok, out) = apply(config, &ns, &as_requestor("readme", &spec), true);
                assert!(ok, "README line {line}, a requestor's spec: {out}");
                specs += 1;
            }
        } else if matches!(first_key, "adobe" | "mvpds" | "throttling" | "routes") {
            // A fragment of a spec: with the one field every spec needs.
            let spec = format!("{block}backend: {{}}\n");
            let (ok, out) = apply(config, &ns, &as_requestor("fragment", &spec), true);
            assert!(ok, "README line {line}, a spec fragment: {out}");
            specs += 1;
        }
        // The rest are the gateway's own settings (store, listen…), not cluster objects.
    }
    assert_eq!(objects.len(), 1, "the Requestor example was applied");
    assert!(
        specs >= 3,
        "the configuration's requestors and the fragments: {specs}"
    );

    // Its documented effect: the operator finds it Ready, the proxies serve it, and the
    // limit it turns off is off as stored.
    let _operator = Operator::start(&ns, "readme-operator").await;
    let row = eventually("acme Ready in kubectl get", async || {
        let (_, table) = kubectl(config, &["get", "requestors", "-n", &ns], "");
        let row = table.lines().find(|l| l.starts_with("acme "))?.to_owned();
        (row.contains("True") && row.contains("Serving")).then_some(row)
    })
    .await;
    assert!(row.contains("ACME TV"), "{row}");
    let jsonpath = "jsonpath={.spec.throttling.perDevice.disabled}";
    let get = ["get", "requestor", "acme", "-n", &ns, "-o", jsonpath];
    assert_eq!(kubectl(config, &get, "").1, "true");
    // The Secrets a pod mounts (the kubelet's part): the example's and the media keys the
    // operator made for it.
    let mounted = tempfile::tempdir().unwrap();
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &ns);
    for name in ["acme.backend", "acme.media-keys"] {
        let secret = eventually(name, async || secrets.get(name).await.ok()).await;
        let dir = mounted.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (key, value) in secret.data.unwrap_or_default() {
            std::fs::write(dir.join(key), value.0).unwrap();
        }
    }
    let proxy = format!(
        "store: {{backend: kubernetes}}\nkubernetes: {{namespace: {ns}}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets: {{codes: {{key: shared-by-every-proxy-of-the-test-fleet}}}}\n\
         secretsDir: {}\n",
        mounted.path().display()
    );
    let env = vec![("KUBECONFIG".into(), config.as_os_str().to_owned())];
    let gw = Gateway::with_config_env(&proxy, env).await;
    let (status, body, _) = raw_get(gw.api, "/v1/requestors/acme/mvpds", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("test-mvpd"), "{body}");
}

#[tokio::test]
async fn what_the_gateway_would_not_read_is_refused_at_the_prompt() {
    let client = linkgate_tests::kube::client().await;
    install_crds(&client).await;
    let ns = create_namespace(&client, "prompt").await;
    let config = kubeconfig();
    let with = |spec: &str| as_requestor("typo", &format!("backend: {{}}\n{spec}"));
    let refused = [
        // The incident: YAML 1.1 reads the key `off` as false.
        (
            "throttling: {perDevice: {off: true}}\n",
            "spec.throttling.perDevice.false",
        ),
        (
            "throttlng: {perDevice: {disabled: true}}\n",
            "spec.throttlng",
        ),
        (
            "throttling: {perDevice: {burst: 3}}\n",
            "a limit needs perSecond and burst",
        ),
        (
            "throttling: {codeEntry: {perClientIp: {attempts: 3}}}\n",
            "a limit needs attempts and perSeconds",
        ),
        (
            "throttling: {perDevice: {perSecond: 1, burst: 5000000000}}\n",
            "spec.throttling.perDevice.burst",
        ),
    ];
    for (spec, named) in refused {
        let (ok, out) = apply(config, &ns, &with(spec), false);
        assert!(!ok, "{spec} was accepted: {out}");
        assert!(out.contains(named), "{spec}: {out}");
    }
    let (_, listed) = kubectl(config, &["get", "requestors", "-n", &ns, "-o", "name"], "");
    assert_eq!(listed.trim(), "", "nothing was stored");
    let (ok, out) = apply(
        config,
        &ns,
        &with("throttling: {perDevice: {disabled: true}}\n"),
        false,
    );
    assert!(ok, "{out}");
}
