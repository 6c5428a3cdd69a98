//! The gateway's use cases: domain rules applied to the store, with the clock, the
//! randomness and the code key injected.

mod error;
mod linking;
mod requestors;

pub use error::Error;
pub use linking::{IssueCode, IssuedCode, Linking};
pub use requestors::Requestors;
