//! The gateway's use cases: domain rules applied to the store, with the clock, the
//! randomness and the code key injected.

mod account;
mod activation;
mod clients;
mod confirmation;
mod decision_point;
mod device_flow;
mod device_tokens;
mod entitlement;
mod error;
mod linking;
mod outbound;
mod provider_http;
mod saml;
mod sign_in;
mod signed_calls;
mod temp_passes;
mod webhook;

pub use activation::{Activation, ActivationError, Here, Returned, Started};
pub use clients::{Clients, Registered};
pub use confirmation::Confirmation;
pub use decision_point::{DecisionClient, DecisionError};
pub use device_flow::{DeviceAuthorization, DeviceFlow, Granted, PollError};
pub use device_tokens::{DeviceAuthError, DeviceTokens, RefreshError, TokenPair};
pub use entitlement::{Authz, Entitled, Entitlements, Preauthorized, Source, Standing};
pub use error::Error;
pub use linking::{IssueCode, IssuedCode, Linked, Linking};
pub use outbound::{Outbound, Reach};
pub use sign_in::{Pending, SignIn, SignInError, SignedIn};
pub use signed_calls::SignedCalls;
pub use temp_passes::TempPasses;
pub use webhook::{WebhookClient, WebhookError};
