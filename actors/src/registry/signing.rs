//! Detached ed25519 signatures over a catalog file's exact bytes
//! (docs/catalog-signing.md). Keys and signatures are text: hex or
//! standard base64, surrounding whitespace ignored.

use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::{Signature, Signer};

pub use ed25519_dalek::{SigningKey, VerifyingKey};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the {what} must be {len} bytes written as hex or base64: {problem}")]
    Malformed {
        what: &'static str,
        len: usize,
        problem: String,
    },
    #[error("the public key is not a valid ed25519 point: {0}")]
    NotAPoint(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature must be 64 bytes written as hex or base64: {0}")]
    Malformed(String),
    #[error("the signature does not match the catalog for this public key: the file changed after it was signed, or another key signed it")]
    Mismatch,
}

/// Where the detached signature of `catalog` lives: `<catalog>.sig`.
pub fn signature_path(catalog: &Path) -> PathBuf {
    let mut name = catalog.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Signs the catalog's bytes; returns the text to write to its `.sig` file
/// (base64, newline-terminated).
pub fn sign_catalog(catalog: &[u8], key: &SigningKey) -> String {
    let signature = key.sign(catalog);
    format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    )
}

/// Checks a `.sig` file's text against the catalog's bytes (strict ed25519:
/// no malleable or small-order signatures).
pub fn verify_catalog(
    catalog: &[u8],
    signature: &str,
    key: &VerifyingKey,
) -> Result<(), SignatureError> {
    let bytes = decode::<64>(signature).map_err(SignatureError::Malformed)?;
    key.verify_strict(catalog, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch)
}

/// An operator's secret key: the 32-byte ed25519 seed.
pub fn parse_secret_key(text: &str) -> Result<SigningKey, KeyError> {
    decode::<32>(text)
        .map(|seed| SigningKey::from_bytes(&seed))
        .map_err(|problem| malformed("secret key", 32, problem))
}

/// The public key given in the daemon's configuration.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = decode::<32>(text).map_err(|problem| malformed("public key", 32, problem))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::NotAPoint(e.to_string()))
}

/// The public key as configuration text (hex).
pub fn public_key_text(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

fn malformed(what: &'static str, len: usize, problem: String) -> KeyError {
    KeyError::Malformed { what, len, problem }
}

/// Exactly `N` bytes from hex (`2N` hex digits) or standard base64.
fn decode<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let text = text.trim();
    let bytes = if text.len() == 2 * N && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| e.to_string())?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("neither hex nor base64 ({e})"))?
    };
    let len = bytes.len();
    bytes.try_into().map_err(|_| format!("found {len} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn signature_round_trips_and_detects_a_changed_byte() {
        let sig = sign_catalog(b"- id: a\n", &key());
        assert_eq!(
            verify_catalog(b"- id: a\n", &sig, &key().verifying_key()),
            Ok(())
        );
        assert_eq!(
            verify_catalog(b"- id: b\n", &sig, &key().verifying_key()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signature_in_hex_is_accepted() {
        let sig = key().sign(b"x").to_bytes();
        assert_eq!(
            verify_catalog(b"x", &hex::encode(sig), &key().verifying_key()),
            Ok(())
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let sig = sign_catalog(b"x", &key());
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(
            verify_catalog(b"x", &sig, &other),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn truncated_signature_is_malformed() {
        let err = verify_catalog(b"x", "AAAA", &key().verifying_key()).unwrap_err();
        assert_eq!(err, SignatureError::Malformed("found 3 bytes".into()));
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let public = key().verifying_key();
        let b64 = base64::engine::general_purpose::STANDARD.encode(public.as_bytes());
        assert_eq!(parse_public_key(&public_key_text(&public)), Ok(public));
        assert_eq!(parse_public_key(&format!(" {b64}\n")), Ok(public));
        let secret = parse_secret_key(&hex::encode([7u8; 32])).unwrap();
        assert_eq!(secret.to_bytes(), [7; 32]);
    }

    #[test]
    fn short_key_names_what_is_wrong() {
        let err = parse_public_key("abcd").unwrap_err();
        assert!(
            err.to_string().contains("public key must be 32 bytes"),
            "{err}"
        );
    }

    #[test]
    fn signature_file_sits_next_to_the_catalog() {
        assert_eq!(
            signature_path(Path::new("/etc/archy/catalog.yml")),
            PathBuf::from("/etc/archy/catalog.yml.sig")
        );
    }
}
