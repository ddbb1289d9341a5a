//! Random tokens, digests, MACs and password hashes, all from maintained RustCrypto crates.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chacha20poly1305::KeyInit as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes from the operating system, hex encoded.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

/// A password people can type: 20 characters from an alphabet without look-alikes.
pub fn random_password() -> String {
    // 256 % 56 != 0 gives a bias of under 0.4% per character; 20 characters keep > 110 bits.
    random_from(b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", 20)
}

/// `n` characters drawn from `alphabet` (unbiased when its length divides 256).
pub fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect()
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A 32-byte key for one `purpose`, derived from the instance secret with HKDF-SHA256, so that
/// each use of the secret gets a key of its own.
fn derived_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"payouts"), secret)
        .expand(purpose.as_bytes(), &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

/// Encrypts `plain` with XChaCha20-Poly1305 under a key derived from `secret` for `purpose`;
/// `bound_to` (say, the owner's id) must be given again to open it, so a sealed value copied to
/// another row does not open there. Hex of nonce and ciphertext.
pub fn seal(secret: &[u8], purpose: &str, bound_to: &[u8], plain: &[u8]) -> String {
    let cipher = XChaCha20Poly1305::new(&derived_key(secret, purpose).into());
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: bound_to })
        .expect("encryption of a short value does not fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

/// The plain bytes of a [`seal`]ed value, or None when it was sealed under another key, purpose
/// or binding, or was altered.
pub fn open(secret: &[u8], purpose: &str, bound_to: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 24 {
        return None;
    }
    let (nonce, body) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(&derived_key(secret, purpose).into());
    cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: bound_to }).ok()
}

/// An argon2id hash in PHC string form, with the crate's recommended parameters.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters does not fail")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification when there is no account, so that response times do not
/// tell which emails have one.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password(&random_hex(16)));
    let _ = verify_password(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_only_the_same_password() {
        let phc = hash_password("correct horse");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct horsf", &phc));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn random_values_differ_and_have_the_asked_length() {
        assert_eq!(random_hex(32).len(), 64);
        assert_ne!(random_hex(32), random_hex(32));
        let p = random_password();
        assert_eq!(p.chars().count(), 20);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_purpose_and_binding() {
        let sealed = seal(b"secret one", "totp", b"7", b"the plain bytes");
        assert_eq!(open(b"secret one", "totp", b"7", &sealed).as_deref(), Some(&b"the plain bytes"[..]));
        assert_ne!(sealed, seal(b"secret one", "totp", b"7", b"the plain bytes"), "a fresh nonce each time");
        assert!(!sealed.contains(&hex::encode(b"the plain bytes")));
        assert_eq!(open(b"secret two", "totp", b"7", &sealed), None);
        assert_eq!(open(b"secret one", "other", b"7", &sealed), None);
        assert_eq!(open(b"secret one", "totp", b"8", &sealed), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(open(b"secret one", "totp", b"7", &String::from_utf8(altered).unwrap()), None);
        assert_eq!(open(b"secret one", "totp", b"7", "not hex"), None);
        assert_eq!(open(b"secret one", "totp", b"7", "00"), None);
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
