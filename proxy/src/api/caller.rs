//! Who is calling: the requestor's backend (its API key or a registered client's token, from
//! an allowed network), one of its apps signing an Adobe v1 call, one device proving itself
//! with its access token, or anyone.

use std::net::IpAddr;

use http::{HeaderMap, Method, StatusCode, header};
use linkgate_crds::DeviceDialect;

use super::ApiError;
use crate::service::{Clients, DeviceAuthError, DeviceTokens, SignedCalls};
use linkgate_domain::clients::ClientKind;
use linkgate_domain::ids::DeviceId;
use linkgate_domain::requestor::{AdobeV2Callers, RequestorPolicy};
use linkgate_domain::signed_call::SignedCall;

/// The caller, as its credential proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Principal {
    /// No credential was sent.
    Anyone,
    /// The requestor's backend.
    Backend,
    /// One of the requestor's apps, by an Adobe v1 signed call: the backend's stand-in on
    /// the Adobe dialect's device calls, and nowhere else.
    App,
    /// The holder of this device's access token.
    Device(DeviceId),
}

impl Principal {
    /// Whether the caller may act for `device`: the device itself, or the backend.
    pub fn acts_for(&self, device: &DeviceId) -> bool {
        match self {
            Principal::Anyone => false,
            Principal::Backend | Principal::App => true,
            Principal::Device(own) => own == device,
        }
    }
}

/// What checks credentials: the backend's clients and the devices' tokens.
pub(super) struct Credentials<'a> {
    pub clients: &'a Clients,
    pub tokens: &'a DeviceTokens,
    pub signed: &'a SignedCalls,
    pub requestor: &'a RequestorPolicy,
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub client_ip: IpAddr,
    /// Whether the route is of the Adobe dialect, where an app's signed call is accepted.
    pub adobe: bool,
}

impl Credentials<'_> {
    /// A call only the backend makes: its credential, from an allowed network. On the
    /// Adobe calls, one of the requestor's apps signing the call stands where the backend
    /// does (from wherever its devices are), as v1 apps check and drop their regcodes.
    pub fn backend(&self) -> Result<Principal, ApiError> {
        if self.adobe
            && let Some(call) = self.signed_call()
        {
            return self.app(&call);
        }
        self.backend_credential()
    }

    /// The backend's own credential, from an allowed network.
    fn backend_credential(&self) -> Result<Principal, ApiError> {
        self.check_network()?;
        if !self.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_credential",
                "this call is made by the requestor's backend: send Authorization: Bearer <access token or API key>",
            ));
        };
        if self
            .bearer()
            .is_some_and(|presented| self.is_backend(presented))
        {
            Ok(Principal::Backend)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credential",
                "the credential is not valid for this requestor",
            ))
        }
    }

    /// An Adobe v2 call: by whom `deviceAuth.adobeV2` says — the requestor's app (any copy:
    /// its access token), the app or a device (its own access token), or only the backend.
    pub async fn v2(&self) -> Result<Principal, ApiError> {
        match self.requestor.adobe_v2_callers {
            AdobeV2Callers::App => self.app_client(),
            AdobeV2Callers::Backend => self.backend_credential(),
            AdobeV2Callers::Device => {
                let refused = match self.app_client() {
                    Ok(app) => return Ok(app),
                    Err(refused) => refused,
                };
                let Some(token) = self.bearer().and_then(|t| std::str::from_utf8(t).ok()) else {
                    return Err(refused);
                };
                // A token that is no device's is refused as the app's would be; a device's
                // that no longer holds (expired, revoked, or unreadable now) says so.
                match self.tokens.authenticate(self.requestor, token).await {
                    Ok(device) => Ok(Principal::Device(device)),
                    Err(DeviceAuthError::Invalid) => Err(refused),
                    Err(e) => Err(self.refuse(e)),
                }
            }
        }
    }

    /// A v2 call about `device`: a device's token only for itself; the app's token, where
    /// the requestor wants devices to prove themselves, only for a device nobody has linked
    /// (`linked` tells whether it is).
    pub fn v2_device(
        &self,
        principal: &Principal,
        device: &DeviceId,
        linked: bool,
    ) -> Result<(), ApiError> {
        let devices_prove = self.requestor.adobe_v2_callers == AdobeV2Callers::Device;
        match principal {
            Principal::Device(own) if own != device => {
                Err(self.refuse(DeviceAuthError::WrongDevice))
            }
            Principal::App if devices_prove && linked => {
                Err(crate::service::Error::DeviceCredentialRequired.into())
            }
            _ => Ok(()),
        }
    }

    /// A registered app's access token, for this requestor.
    fn app_client(&self) -> Result<Principal, ApiError> {
        let token = self.bearer().and_then(|t| std::str::from_utf8(t).ok());
        match token {
            Some(token)
                if self
                    .clients
                    .authenticates(self.requestor, token, ClientKind::App) =>
            {
                Ok(Principal::App)
            }
            Some(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_access_token_client_application",
                "the access token is not an app's of this service provider, or has expired: \
                 take a new one from POST /o/client/token",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_access_token_client_application",
                "this call needs the app's access token (Authorization: Bearer <access_token> \
                 from POST /o/client/token)",
            )),
        }
    }

    /// Whoever the bearer token proves; `Anyone` without one. A token that proves nobody
    /// is refused, never taken for no token.
    pub async fn principal(&self) -> Result<Principal, ApiError> {
        if let Some(call) = self.signed_call() {
            if !self.adobe {
                return Err(self.refuse(DeviceAuthError::Invalid));
            }
            return self.app(&call);
        }
        let Some(presented) = self.bearer() else {
            return Ok(Principal::Anyone);
        };
        let token = std::str::from_utf8(presented).ok();
        // A device presents the same token on every call. One whose signature passed
        // before is a device's (no backend credential ever passes as one), so it skips the
        // backend checks, which digest what is presented.
        let verified = match token {
            Some(t) => self.tokens.authenticate_verified(self.requestor, t).await,
            None => None,
        };
        if let Some(outcome) = verified {
            return outcome.map(Principal::Device).map_err(|e| self.refuse(e));
        }
        if self.is_backend(presented) {
            self.check_network()?;
            return Ok(Principal::Backend);
        }
        let token = token.ok_or_else(|| self.refuse(DeviceAuthError::Invalid))?;
        match self.tokens.authenticate(self.requestor, token).await {
            Ok(device) => Ok(Principal::Device(device)),
            Err(e) => Err(self.refuse(e)),
        }
    }

    /// A call a device makes about `device`: that device's token, or the backend's
    /// credential; in a dialect the requestor keeps to its backend, the backend's only.
    pub fn device(
        &self,
        principal: &Principal,
        device: &DeviceId,
        dialect: DeviceDialect,
    ) -> Result<(), ApiError> {
        match principal {
            Principal::Backend | Principal::App => Ok(()),
            Principal::Anyone => Err(self.refuse(DeviceAuthError::Missing)),
            Principal::Device(_) if self.requestor.backend_only.contains(&dialect) => {
                Err(self.refuse(DeviceAuthError::BackendOnly))
            }
            Principal::Device(own) if own == device => Ok(()),
            Principal::Device(_) => Err(self.refuse(DeviceAuthError::WrongDevice)),
        }
    }

    /// Counts the refusal and words it; nothing of the token is repeated.
    pub fn refuse(&self, e: DeviceAuthError) -> ApiError {
        refusal(self.tokens.refused(self.requestor, e))
    }

    /// The requestor's app, when `call` is a fresh signature of this very call by one.
    fn app(&self, call: &SignedCall<'_>) -> Result<Principal, ApiError> {
        self.signed
            .verify(self.requestor, call, self.method, self.path)
            .map(|()| Principal::App)
            .map_err(|e| self.refuse(e))
    }

    /// An Adobe v1 signed `Authorization` header, when that is what was sent.
    fn signed_call(&self) -> Option<SignedCall<'_>> {
        SignedCall::parse(self.headers.get(header::AUTHORIZATION)?.to_str().ok()?)
    }

    fn bearer(&self) -> Option<&[u8]> {
        self.headers
            .get(header::AUTHORIZATION)?
            .as_bytes()
            .strip_prefix(b"Bearer ")
    }

    fn is_backend(&self, presented: &[u8]) -> bool {
        self.requestor.accepts_backend_key(presented)
            || std::str::from_utf8(presented).is_ok_and(|token| {
                self.clients
                    .authenticates(self.requestor, token, ClientKind::Backend)
            })
    }

    /// Server-to-server calls come from the requestor's networks, when it names them.
    fn check_network(&self) -> Result<(), ApiError> {
        let allowed = &self.requestor.backend_allow_list;
        if allowed.is_empty() || allowed.iter().any(|n| n.contains(&self.client_ip)) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ip_not_allowed",
            format!(
                "{} may not make the requestor's server-to-server calls",
                self.client_ip
            ),
        ))
    }
}

/// The status and code of a refused device credential (RFC 6750 §3.1: a missing or bad
/// token is 401, a good token that does not reach this far is 403).
pub(super) fn refusal(e: DeviceAuthError) -> ApiError {
    let (status, code) = match e {
        DeviceAuthError::Missing => (StatusCode::UNAUTHORIZED, "missing_credential"),
        DeviceAuthError::Invalid | DeviceAuthError::Expired | DeviceAuthError::Revoked => {
            (StatusCode::UNAUTHORIZED, "invalid_token")
        }
        DeviceAuthError::WrongRequestor => (StatusCode::FORBIDDEN, "wrong_requestor"),
        DeviceAuthError::WrongDevice => (StatusCode::FORBIDDEN, "wrong_device"),
        DeviceAuthError::BackendOnly => (StatusCode::FORBIDDEN, "backend_credential_required"),
        DeviceAuthError::RefreshReused => (StatusCode::BAD_REQUEST, "invalid_grant"),
        DeviceAuthError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        DeviceAuthError::Signed(_) | DeviceAuthError::Replayed => {
            (StatusCode::UNAUTHORIZED, "invalid_signature")
        }
    };
    let message = match e {
        DeviceAuthError::Missing => "this call needs the device's access token (Authorization: Bearer <token>) or the requestor's backend credential".to_owned(),
        other => other.to_string(),
    };
    let refused = ApiError::new(status, code, message);
    match e {
        DeviceAuthError::Unavailable => {
            refused.retry_after(super::error::STORE_RETRY_AFTER_SECONDS)
        }
        _ => refused,
    }
}
