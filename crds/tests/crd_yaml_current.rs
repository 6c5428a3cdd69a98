//! The CRD YAML committed in `crds/` must be what the Rust types generate.

#[test]
fn committed_crd_yaml_matches_the_types() {
    let committed = include_str!("../crds.yaml");
    let generated = linkgate_crds::crd_yaml().expect("serialise CRDs");
    assert!(
        committed == generated,
        "crds/crds.yaml is stale: run `cargo run -p linkgate-crds --bin crdgen > crds/crds.yaml`"
    );
}

#[test]
fn crds_are_namespaced_with_status_and_printer_columns() {
    use kube::CustomResourceExt;
    for crd in [
        linkgate_crds::Requestor::crd(),
        linkgate_crds::DeviceLink::crd(),
    ] {
        assert_eq!(crd.spec.group, linkgate_crds::GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        let subresources = version.subresources.as_ref().expect("subresources");
        assert!(subresources.status.is_some(), "status subresource");
        let columns = version
            .additional_printer_columns
            .as_ref()
            .expect("columns");
        assert!(columns.iter().any(|c| c.name == "Age"));
    }
}
