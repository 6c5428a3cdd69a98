use crate::domain::ids::IdError;
use crate::domain::link::LinkError;
use crate::store::StoreError;

/// What can go wrong in a use case; the API layer turns each into a status and a code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Wrong, expired or already used code.
    #[error("No device associated with that auth code")]
    CodeNotFound,
    #[error("unknown MVPD {0:?}")]
    UnknownMvpd(String),
    #[error("ttl must be between 1 and {max} seconds")]
    CodeTtl { max: u64 },
    /// The device has no authenticated user.
    #[error("No such user exists")]
    NoUser,
    #[error("no free registration code could be drawn; the code space is nearly full")]
    CodeSpaceExhausted,
    #[error("the link changed too often concurrently; retry")]
    Contended,
    /// Linking failed in the store: nothing was acknowledged.
    #[error("Registration failed")]
    RegistrationFailed(#[source] StoreError),
    /// Unlinking failed in the store: the link is unchanged.
    #[error("Could not remove the device from the user's data")]
    UnlinkFailed(#[source] StoreError),
    #[error("the store is unavailable")]
    Store(#[source] StoreError),
}
