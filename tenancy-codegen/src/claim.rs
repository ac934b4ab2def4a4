//! The signed claim (`claim = signed`): `<org>.<expiry>.<key id>.<hex HMAC-SHA256>`, the MAC over
//! `<org>.<expiry>.<key id>` under the application's key. `auth_org_id()` recomputes it in
//! PostgreSQL from the key's pads (the key, zero-padded to SHA-256's 64-byte block, XORed with
//! 0x36 and 0x5c: RFC 2104), which is all the database stores. Pure functions; the generated
//! models mint the same tokens (tested against PostgreSQL).

use sha2::{Digest, Sha256};

/// A claim key: an id (which key signed a token, so two can be valid during a rotation) and a
/// secret of 32 to 64 bytes. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimKey {
    pub id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for ClaimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClaimKey {{ id: {:?}, secret: <redacted> }}", self.id)
    }
}

/// Why a key text was refused (never echoing the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid claim key: {0}; expected <id>:<hex secret>, the id 1 to 32 of A-Z a-z 0-9 _ -, the secret 32 to 64 bytes (64 to 128 hex digits), e.g. from `openssl rand -hex 32`"
)]
pub struct KeyError(pub &'static str);

impl ClaimKey {
    /// Reads `<id>:<hex secret>` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<ClaimKey, KeyError> {
        let (id, hex) = text.trim().split_once(':').ok_or(KeyError("no `:` between the id and the secret"))?;
        let id_ok =
            !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(KeyError("the id is not 1 to 32 of A-Z a-z 0-9 _ -"));
        }
        let secret = decode_hex(hex).ok_or(KeyError("the secret is not hexadecimal"))?;
        if !(32..=64).contains(&secret.len()) {
            return Err(KeyError("the secret is not 32 to 64 bytes long"));
        }
        Ok(ClaimKey { id: id.to_owned(), secret })
    }

    /// The key XORed with ipad and opad, as `auth_org_id()` reads them.
    pub fn pads(&self) -> ([u8; 64], [u8; 64]) {
        let mut inner = [0x36u8; 64];
        let mut outer = [0x5cu8; 64];
        for (i, byte) in self.secret.iter().enumerate() {
            inner[i] ^= byte;
            outer[i] ^= byte;
        }
        (inner, outer)
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let (inner, outer) = self.pads();
        let inner_hash = Sha256::new().chain_update(inner).chain_update(message).finalize();
        Sha256::new().chain_update(outer).chain_update(inner_hash).finalize().into()
    }

    /// The token for organization `org` (a lowercase uuid), valid until `expires` (Unix seconds).
    pub fn token(&self, org: &str, expires: u64) -> String {
        let message = format!("{org}.{expires}.{}", self.id);
        let mac: String = self.mac(message.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        format!("{message}.{mac}")
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// `\x...`: bytes as a PostgreSQL bytea literal's contents.
pub fn bytea_hex(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("\\x{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_hmac_sha256() {
        // RFC 4231, test case 1 (key 0x0b × 20 is shorter than we accept; pads take any length).
        let key = ClaimKey { id: "t".into(), secret: vec![0x0b; 20] };
        let mac: String = key.mac(b"Hi There").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(mac, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    #[test]
    fn keys_are_parsed_strictly_and_never_shown() {
        let key = ClaimKey::parse(&format!(" k1:{} ", "ab".repeat(32))).unwrap();
        assert_eq!(key.id, "k1");
        assert!(!format!("{key:?}").contains("abab"));
        assert!(ClaimKey::parse("k1").is_err());
        assert!(ClaimKey::parse(&format!("k 1:{}", "ab".repeat(32))).is_err());
        assert!(ClaimKey::parse("k1:abcd").is_err());
        assert!(ClaimKey::parse(&format!("k1:{}", "zz".repeat(32))).is_err());
        let err = ClaimKey::parse(&format!("k1:{}x", "ab".repeat(32))).unwrap_err().to_string();
        assert!(!err.contains("abab"), "{err}");
    }

    #[test]
    fn tokens_name_org_expiry_and_key() {
        let key = ClaimKey::parse(&format!("k1:{}", "01".repeat(32))).unwrap();
        let token = key.token("00000000-0000-4000-8000-000000000001", 1_900_000_000);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts[..3], ["00000000-0000-4000-8000-000000000001", "1900000000", "k1"]);
        assert_eq!(parts[3].len(), 64);
    }
}
