use super::decision_point::DecisionError;
use super::webhook::WebhookError;
use crate::store::StoreError;
use linkgate_domain::clients::ClientError;
use linkgate_domain::ids::IdError;
use linkgate_domain::link::LinkError;
use linkgate_domain::resource::ResourceError;

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
    Store(#[from] StoreError),
    #[error("MVPD {0:?} is not allowed for this requestor")]
    MvpdNotAllowed(String),
    #[error("the device is not authenticated")]
    AuthnMissing,
    #[error("the device's authentication has expired")]
    AuthnExpired,
    /// An authZ token was asked for without a valid authentication.
    #[error("the device must be authenticated first")]
    AuthnRequired,
    /// A linked device asked for a code without proving it is that device.
    #[error("the device is linked: ask for a new code with its access token")]
    DeviceCredentialRequired,
    #[error("not authorized: {reason}")]
    AuthzDenied { reason: String },
    #[error("the MVPD's degradation rule refuses every authorization while it is in force")]
    DeniedByDegradation,
    #[error("the device's TempPass window has ended; it opens once per device")]
    TempPassSpent,
    #[error("no authorization was given for this resource")]
    AuthzMissing,
    #[error("the authorization has expired")]
    AuthzExpired,
    #[error("at most {limit} resources may be asked about at once")]
    TooManyResources { limit: usize },
    #[error(transparent)]
    Resource(#[from] ResourceError),
    #[error(transparent)]
    DecisionPoint(DecisionError),
    #[error("media tokens cannot be signed: the requestor has no signing key")]
    NoSigningKey,
    #[error("the requestor's backend did not authorize this user")]
    AccountUnauthorized,
    #[error("the requestor's backend could not resolve the user")]
    AccountError,
    #[error("the requestor's account webhook gave {0}")]
    AccountWebhook(WebhookError),
    #[error("no link with that code is waiting for approval")]
    NotAwaitingApproval,
    #[error("{0}")]
    BadApproval(String),
    #[error("this requestor registers no clients")]
    ClientsDisabled,
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl Error {
    /// The stable machine code clients match on.
    pub fn code(&self) -> &'static str {
        use linkgate_domain::link::LinkError as L;
        match self {
            Error::Id(IdError::Device) => "illegal_device_id",
            Error::Id(IdError::User) => "illegal_user_id",
            Error::Link(L::AlreadyRegisteredToYou) => "device_already_registered_to_user",
            Error::Link(L::RegisteredToAnotherUser) => "device_registered_to_another_user",
            Error::Link(L::NoUserOnDevice) => "no_user_on_device",
            Error::Link(L::UserIdRequired) => "user_id_required",
            Error::CodeNotFound => "code_not_found",
            Error::UnknownMvpd(_) => "unknown_mvpd",
            Error::CodeTtl { .. } => "invalid_parameter_value",
            Error::NoUser => "no_such_user",
            Error::CodeSpaceExhausted => "code_space_exhausted",
            Error::Contended => "contended",
            Error::RegistrationFailed(_) => "registration_failed",
            Error::UnlinkFailed(_) => "unlink_failed",
            Error::Store(_) => "store_unavailable",
            Error::MvpdNotAllowed(_) => "mvpd_not_allowed",
            Error::AuthnMissing | Error::AuthnRequired => "authenticated_profile_missing",
            Error::AuthnExpired => "authenticated_profile_expired",
            Error::DeviceCredentialRequired => "device_credential_required",
            Error::AuthzDenied { .. } => "authorization_denied_by_mvpd",
            Error::DeniedByDegradation => "authorization_denied_by_degradation_rule",
            Error::TempPassSpent => "temporary_access_duration_limit_exceeded",
            Error::AuthzMissing => "authorization_missing",
            Error::AuthzExpired => "authorization_expired",
            Error::TooManyResources { .. } => "too_many_resources",
            Error::Resource(_) => "invalid_parameter_value",
            Error::DecisionPoint(DecisionError::Timeout(_)) => "decision_point_timeout",
            Error::DecisionPoint(DecisionError::Unavailable(_)) => "decision_point_unavailable",
            Error::AccountUnauthorized => "account_unauthorized",
            Error::AccountError => "account_error",
            Error::AccountWebhook(WebhookError::Timeout(_)) => "account_webhook_timeout",
            Error::AccountWebhook(WebhookError::Unavailable(_)) => "account_webhook_unavailable",
            Error::AccountWebhook(WebhookError::InvalidAnswer(_)) => "account_webhook_invalid",
            Error::NotAwaitingApproval => "approval_not_found",
            Error::ClientsDisabled => "clients_disabled",
            Error::Client(ClientError::Statement(_)) => "invalid_software_statement",
            Error::Client(ClientError::Client) => "invalid_client",
            Error::Client(ClientError::Token(_)) => "invalid_credential",
            Error::BadApproval(_) => "invalid_approval",
            Error::DecisionPoint(DecisionError::InvalidAnswer(_)) => {
                "decision_point_invalid_answer"
            }
            Error::NoSigningKey => "media_tokens_unavailable",
        }
    }
}
