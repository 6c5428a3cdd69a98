//! Where `SecretKeyRef`s resolve: the configuration file's `secrets` section, then a
//! directory of mounted Secrets laid out as the kubelet mounts them (`<dir>/<secret>/<key>`),
//! so a proxy needs no API access to Secrets.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use linkgate_crds::SecretKeyRef;

use linkgate_domain::requestor::Secrets;

#[derive(Clone, Debug, Default)]
pub struct SecretSource {
    pub inline: BTreeMap<String, BTreeMap<String, String>>,
    pub dir: Option<PathBuf>,
}

impl Secrets for SecretSource {
    fn get(&self, reference: &SecretKeyRef) -> Option<Vec<u8>> {
        if let Some(value) = self
            .inline
            .get(&reference.name)
            .and_then(|s| s.get(&reference.key))
        {
            return Some(value.as_bytes().to_vec());
        }
        let dir = self.dir.as_ref()?;
        // A reference is one path segment each: never a way out of the directory.
        if !is_segment(&reference.name) || !is_segment(&reference.key) {
            return None;
        }
        std::fs::read(dir.join(&reference.name).join(&reference.key)).ok()
    }
}

fn is_segment(s: &str) -> bool {
    let mut parts = Path::new(s).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, key: &str) -> SecretKeyRef {
        SecretKeyRef {
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn inline_values_win_then_mounted_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("backend")).unwrap();
        std::fs::write(dir.path().join("backend/apiKey"), b"from-file").unwrap();
        let mut source = SecretSource {
            inline: BTreeMap::new(),
            dir: Some(dir.path().to_owned()),
        };
        assert_eq!(
            source.get(&reference("backend", "apiKey")).unwrap(),
            b"from-file"
        );
        source.inline.insert(
            "backend".into(),
            BTreeMap::from([("apiKey".into(), "inline".into())]),
        );
        assert_eq!(
            source.get(&reference("backend", "apiKey")).unwrap(),
            b"inline"
        );
        assert!(source.get(&reference("backend", "other")).is_none());
    }

    #[test]
    fn references_cannot_leave_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("top"), b"x").unwrap();
        let source = SecretSource {
            inline: BTreeMap::new(),
            dir: Some(dir.path().join("s")),
        };
        assert!(source.get(&reference("..", "top")).is_none());
        assert!(source.get(&reference("s/../..", "top")).is_none());
    }
}
