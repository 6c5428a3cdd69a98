//! Writes the CustomResourceDefinitions generated from the Rust types.
//!
//! `cargo run -p linkgate-crds --bin crdgen > crds/crds.yaml`

fn main() {
    match linkgate_crds::crd_yaml() {
        Ok(yaml) => print!("{yaml}"),
        Err(e) => {
            eprintln!("crdgen: cannot serialise the CRDs: {e}");
            std::process::exit(1);
        }
    }
}
