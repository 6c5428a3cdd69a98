//! Answers several dialects give alike, for the codes and links they share.

use super::{Answer, Body, gives, refusal};

pub(in crate::api) const LINKED_DEVICE_NEEDS_ITS_TOKEN: Answer = refusal(
    401,
    "The device is linked: a code only with its own token or the backend's (`device_credential_required`).",
);
pub(in crate::api) const NO_FREE_CODE: Answer = refusal(
    503,
    "No code could be found free (`code_space_exhausted`) or the store cannot answer.",
);
pub(in crate::api) const NO_SUCH_CODE: Answer = refusal(
    404,
    "No such code (`code_not_found`), or no such requestor.",
);
pub(in crate::api) const CODE_DROPPED: Answer = gives(204, "The code is gone.", Body::Empty);

/// What a link may meet besides success: the account webhook's answers and the device's
/// other users.
pub(in crate::api) const ACCOUNT_REFUSED: Answer = refusal(
    403,
    "The account webhook refused the user (`account_unauthorized`), or a credential was refused.",
);
pub(in crate::api) const ALREADY_LINKED: Answer = refusal(
    409,
    "The device is linked to this user already, or to another user.",
);
pub(in crate::api) const ACCOUNT_WEBHOOK_FAILED: Answer = refusal(
    502,
    "The account webhook failed or answered something else.",
);
pub(in crate::api) const ACCOUNT_WEBHOOK_SLOW: Answer =
    refusal(504, "The account webhook did not answer in time.");
pub(in crate::api) const PENDING_ABOUT: &str =
    "The account webhook holds the link until the backend approves it.";
