/// What can fail in a reconcile; each kind has a fixed metric label (never the error text,
/// whose variety would make label sets unbounded).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object has no namespace")]
    MissingNamespace,
    /// Without it a write could not be conditional, and might undo a proxy's newer write.
    #[error("the object has no resourceVersion")]
    MissingResourceVersion,
    /// Someone (a proxy) wrote the object since it was read; it is looked at again.
    #[error("the object changed since it was read")]
    Conflict,
    /// The operator stops leading: another replica holds the lease, or it went unrenewed.
    #[error("the lease is lost: {0}")]
    LeaseLost(String),
    /// A DeviceLink to replicate whose revision does not read as one.
    #[error("the object has no readable revision")]
    MissingRevision,
    #[error("the object has no uid, so nothing can be owned by it")]
    MissingUid,
    #[error("Secret {0:?} exists but is not this requestor's: its keys are left alone")]
    ForeignKeySecret(String),
    /// A `--peer` Secret that does not give a usable kubeconfig.
    #[error("{0}")]
    PeerConfig(String),
    #[error("cannot encode a new media-token key: {0}")]
    KeyEncoding(#[source] ed25519_dalek::pkcs8::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::MissingNamespace => "missing_namespace",
            Error::MissingResourceVersion => "missing_resource_version",
            Error::Conflict => "conflict",
            Error::LeaseLost(_) => "lease_lost",
            Error::MissingRevision => "missing_revision",
            Error::MissingUid => "missing_uid",
            Error::ForeignKeySecret(_) => "foreign_key_secret",
            Error::KeyEncoding(_) => "key_encoding",
            Error::PeerConfig(_) => "peer_config",
        }
    }

    /// A 409 from a conditional write is a conflict, retried soon; the rest stays as it is.
    pub fn from_write(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict,
            e => Error::Kube(e),
        }
    }
}
