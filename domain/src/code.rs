//! Registration codes: the short code a device shows and a person types elsewhere.
//!
//! Codes are drawn uniformly from the requestor's alphabet, normalised on input (case,
//! dashes, spaces), and stored only as an HMAC under a server key, so neither a store dump
//! nor a timing difference in a lookup tells anything about a live code.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ids::{DeviceId, UserId};
use super::time::Timestamp;

/// An alphabet and length of codes, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFormat {
    alphabet: Vec<u8>,
    length: usize,
}

/// Why a code format was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeFormatError {
    #[error("the code alphabet needs at least 2 distinct characters")]
    AlphabetTooSmall,
    #[error("code characters must be ASCII letters or digits, not {0:?}")]
    BadCharacter(char),
    #[error("the code alphabet repeats {0:?} (letters are case-insensitive)")]
    Repeated(char),
    #[error("codes must be 4 to 32 characters long, not {0}")]
    BadLength(usize),
}

impl CodeFormat {
    pub fn new(alphabet: &str, length: usize) -> Result<Self, CodeFormatError> {
        let mut chars = Vec::with_capacity(alphabet.len());
        for c in alphabet.chars() {
            if !c.is_ascii_alphanumeric() {
                return Err(CodeFormatError::BadCharacter(c));
            }
            let upper = c.to_ascii_uppercase() as u8;
            if chars.contains(&upper) {
                return Err(CodeFormatError::Repeated(c));
            }
            chars.push(upper);
        }
        if chars.len() < 2 {
            return Err(CodeFormatError::AlphabetTooSmall);
        }
        if !(4..=32).contains(&length) {
            return Err(CodeFormatError::BadLength(length));
        }
        Ok(Self {
            alphabet: chars,
            length,
        })
    }

    /// Bits of entropy of one code: what a guesser is up against.
    pub fn entropy_bits(&self) -> f64 {
        self.length as f64 * (self.alphabet.len() as f64).log2()
    }

    /// A fresh code, each character uniform over the alphabet.
    pub fn generate(&self, rng: &mut impl Rng) -> Code {
        let code = (0..self.length)
            .map(|_| char::from(self.alphabet[rng.random_range(0..self.alphabet.len())]))
            .collect();
        Code(code)
    }

    /// Reads what a person typed: case, dashes and whitespace are ignored. `None` when the
    /// result cannot be a code of this format.
    pub fn normalise(&self, input: &str) -> Option<Code> {
        let code: String = input
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let fits = code.len() == self.length
            && code
                .bytes()
                .all(|b| self.alphabet.contains(&b) && b.is_ascii());
        fits.then_some(Code(code))
    }
}

/// A normalised code: upper-case, no separators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Grouped by four for reading aloud and typing: `WDJB-MJHT`.
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }
}

/// The server-side key codes are hashed under.
#[derive(Clone)]
pub struct CodeKey(Hmac<Sha256>);

/// The shortest code key a gateway starts with: codes, device secrets, client secrets and
/// every token are keyed by it.
pub const MIN_CODE_KEY_BYTES: usize = 32;

impl CodeKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length"))
    }

    /// Hashes a code within its requestor: the same characters under two requestors are
    /// two different codes.
    pub fn hash(&self, requestor: &str, code: &Code) -> CodeHash {
        let mut mac = self.0.clone();
        mac.update(requestor.as_bytes());
        mac.update(b"\0");
        mac.update(code.0.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }

    /// A key for `purpose`, apart from every code hash (a leading byte no code has).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(b"\x02derived\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Hashes an RFC 8628 device code, apart from user codes (a leading byte no code has).
    pub fn hash_device_code(&self, requestor: &str, device_code: &str) -> CodeHash {
        let mut mac = self.0.clone();
        mac.update(b"\x01device-code\0");
        mac.update(requestor.as_bytes());
        mac.update(b"\0");
        mac.update(device_code.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

/// The keyed hash of a code: what the store holds and looks up.
#[derive(Clone, Copy, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CodeHash([u8; 32]);

impl PartialEq for CodeHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

// Consistent with `eq`: equal hashes have equal bytes.
impl std::hash::Hash for CodeHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl CodeHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeHash({self})")
    }
}

impl FromStr for CodeHash {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)?;
        Ok(Self(bytes))
    }
}

impl From<CodeHash> for String {
    fn from(h: CodeHash) -> String {
        h.to_string()
    }
}

impl TryFrom<String> for CodeHash {
    type Error = hex::FromHexError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A live registration code, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeRecord {
    pub hash: CodeHash,
    /// Identifies the issue of the code (the Adobe dialect's record `id`).
    pub id: String,
    pub requestor: String,
    pub device: DeviceId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// The MVPD the device preselected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    /// The kind of device, as it described itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// Roughly where the device asked from: its network (`access::rough_network`), never
    /// its address; shown to the person confirming the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_from: Option<IpNet>,
    /// What an Adobe v2 authentication session asked for with the code.
    // Boxed: rarely there, like `awaiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<SessionParams>>,
    /// The keyed hash of the RFC 8628 device code polling for this code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code: Option<CodeHash>,
    #[serde(default, skip_serializing_if = "CodeState::is_pending")]
    pub state: CodeState,
    /// The link held for the requestor's approval, while the state is `Approving`.
    // Boxed: rarely there, and a code record stays small in every journal change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Box<AwaitingUser>>,
}

/// What an Adobe v2 authentication session asked for besides its MVPD: the programmer's
/// domain, and where the browser returns once signed in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

/// A link a user asked for with a code, held until the requestor's backend approves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingUser {
    pub user: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvpd: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Where a code is in its life. Codes polled for by a device code are kept after use or
/// refusal until they expire, so the poll can learn the outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CodeState {
    #[default]
    Pending,
    Redeemed,
    Denied,
    /// A user asked for the link and the requestor's backend answered that it will decide
    /// later: no one else may use the code meanwhile.
    Approving,
}

impl CodeState {
    fn is_pending(&self) -> bool {
        *self == CodeState::Pending
    }

    /// Whether a link may still be made with the code: waiting for a user, or for the
    /// requestor's approval of one.
    pub fn is_redeemable(self) -> bool {
        matches!(self, CodeState::Pending | CodeState::Approving)
    }
}

impl CodeRecord {
    /// Whether the code can still be entered.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.state == CodeState::Pending && !self.is_expired(now)
    }

    /// Expired records are dropped; until then a record keeps its code from being reissued.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rfc8628() -> CodeFormat {
        CodeFormat::new("BCDFGHJKLMNPQRSTVWXZ", 8).unwrap()
    }

    #[test]
    fn default_format_has_rfc8628_entropy() {
        let bits = rfc8628().entropy_bits();
        assert!((bits - 34.57).abs() < 0.01, "{bits}");
    }

    #[test]
    fn generated_codes_use_only_the_alphabet_and_length() {
        let format = rfc8628();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let code = format.generate(&mut rng);
            assert_eq!(code.as_str().len(), 8);
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c))
            );
            assert_eq!(format.normalise(code.as_str()), Some(code));
        }
    }

    #[test]
    fn generation_is_roughly_uniform() {
        let format = CodeFormat::new("AB", 16).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let a_count: usize = (0..1000)
            .map(|_| format.generate(&mut rng).as_str().matches('A').count())
            .sum();
        // 16,000 draws of a fair coin: far inside ±3 %.
        assert!((7_520..8_480).contains(&a_count), "{a_count}");
    }

    #[test]
    fn input_is_normalised_for_case_dashes_and_spaces() {
        let format = rfc8628();
        let expected = Some(Code("WDJBMJHT".into()));
        assert_eq!(format.normalise("WDJB-MJHT"), expected);
        assert_eq!(format.normalise("wdjb mjht"), expected);
        assert_eq!(format.normalise(" w-d-j-b-m-j-h-t "), expected);
    }

    #[test]
    fn input_outside_the_format_is_rejected() {
        let format = rfc8628();
        assert_eq!(format.normalise("WDJB-MJH"), None, "too short");
        assert_eq!(format.normalise("WDJB-MJHTX"), None, "too long");
        assert_eq!(format.normalise("WDJB-MJHA"), None, "vowel");
        assert_eq!(format.normalise("WDJB-MJH1"), None, "digit");
        assert_eq!(format.normalise("WDJB-MJHÉ"), None, "non-ASCII");
    }

    #[test]
    fn display_groups_by_four() {
        assert_eq!(Code("WDJBMJHT".into()).display(), "WDJB-MJHT");
        assert_eq!(Code("ABCDEF".into()).display(), "ABCD-EF");
    }

    #[test]
    fn bad_formats_are_refused() {
        assert_eq!(
            CodeFormat::new("A", 8),
            Err(CodeFormatError::AlphabetTooSmall)
        );
        assert_eq!(
            CodeFormat::new("AbB", 8),
            Err(CodeFormatError::Repeated('B'))
        );
        assert_eq!(
            CodeFormat::new("AB-", 8),
            Err(CodeFormatError::BadCharacter('-'))
        );
        assert_eq!(CodeFormat::new("AB", 3), Err(CodeFormatError::BadLength(3)));
    }

    #[test]
    fn hashes_depend_on_key_requestor_and_code() {
        let code = Code("WDJBMJHT".into());
        let key = CodeKey::new(b"k1");
        let h = key.hash("demo", &code);
        assert_eq!(h, key.hash("demo", &code));
        assert_ne!(h, CodeKey::new(b"k2").hash("demo", &code));
        assert_ne!(h, key.hash("other", &code));
        assert_ne!(h, key.hash("demo", &Code("WDJBMJHV".into())));
        assert_eq!(h.to_string().parse::<CodeHash>().unwrap(), h);
    }

    #[test]
    fn records_expire_at_their_deadline() {
        let record = CodeRecord {
            hash: CodeHash([0; 32]),
            id: "id".into(),
            requestor: "demo".into(),
            device: DeviceId::parse("tv").unwrap(),
            issued_at: Timestamp::from_unix_millis(0),
            expires_at: Timestamp::from_unix_millis(1_000),
            mvpd: None,
            device_type: None,
            requested_from: None,
            session: None,
            device_code: None,
            state: CodeState::Pending,
            awaiting: None,
        };
        assert!(record.is_live(Timestamp::from_unix_millis(999)));
        assert!(!record.is_live(Timestamp::from_unix_millis(1_000)));
        let redeemed = CodeRecord {
            state: CodeState::Redeemed,
            awaiting: None,
            ..record
        };
        assert!(!redeemed.is_live(Timestamp::from_unix_millis(999)));
        assert!(!redeemed.is_expired(Timestamp::from_unix_millis(999)));
    }

    proptest::proptest! {
        /// Normalising any input never panics, gives a code of the format or nothing, and
        /// a normal code is its own normal form.
        #[test]
        fn code_normalisation_is_total_and_idempotent(input in "\\PC{0,24}") {
            let format = rfc8628();
            if let Some(code) = format.normalise(&input) {
                proptest::prop_assert_eq!(code.as_str().chars().count(), 8);
                proptest::prop_assert!(code.as_str().chars().all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
                proptest::prop_assert_eq!(format.normalise(code.as_str()), Some(code.clone()));
                proptest::prop_assert_eq!(format.normalise(&code.display()), Some(code));
            }
        }
    }
}
