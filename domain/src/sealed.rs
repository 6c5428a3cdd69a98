//! Values kept by the browser but readable and changeable only by the gateway (a cookie of
//! the sign-in under way): encrypted and authenticated with ChaCha20-Poly1305 under a key
//! every proxy derives alike, so that the browser may come back to any of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct Sealer(LessSafeKey);

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        let key = UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte key");
        Self(LessSafeKey::new(key))
    }

    /// `value` sealed for `purpose` (a value sealed for one purpose opens for no other).
    pub fn seal(&self, purpose: &str, value: &impl Serialize) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut data = serde_json::to_vec(value).expect("sealed values serialise");
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(purpose.as_bytes()),
                &mut data,
            )
            .expect("sealing in memory does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The value, if `sealed` was sealed by this key for `purpose` and not altered.
    pub fn open<T: DeserializeOwned>(&self, purpose: &str, sealed: &str) -> Option<T> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let mut data = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .0
            .open_in_place(nonce, ring::aead::Aad::from(purpose.as_bytes()), &mut data)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_sealed_opens_only_unaltered_with_its_key_and_purpose() {
        let sealer = Sealer::new([7; 32]);
        let sealed = sealer.seal("sign-in", &("demo", 42));
        assert_eq!(
            sealer.open::<(String, u32)>("sign-in", &sealed),
            Some(("demo".into(), 42))
        );
        assert_eq!(sealer.open::<(String, u32)>("other", &sealed), None);
        assert_eq!(
            Sealer::new([8; 32]).open::<(String, u32)>("sign-in", &sealed),
            None
        );
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            sealer.open::<(String, u32)>("sign-in", &String::from_utf8(altered).unwrap()),
            None
        );
    }
}
