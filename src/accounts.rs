//! Credentials: staff passwords (argon2) and API tokens (random, stored as a SHA-256 hash).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shortest password accepted for a staff account.
pub const MIN_PASSWORD_LENGTH: usize = 10;

/// Prefix of every API token, so a leaked one is recognisable.
const TOKEN_PREFIX: &str = "sf_";

/// Hashes a new password with argon2 and a random salt, refusing one that is too short.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(Error::invalid(
            "password",
            format!("a password needs at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches a stored argon2 hash.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A stored hash that no password matches, checked against when an email is unknown so that
/// a failed login takes as long either way.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// A new API token: the secret shown once to its owner, and the hash that is stored.
pub struct NewToken {
    pub secret: String,
    pub hash: String,
}

/// Makes a new random API token (256 bits).
pub fn new_api_token() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    let hash = hash_api_token(&secret);
    NewToken { secret, hash }
}

/// The stored form of an API token. Tokens are long and random, so a plain SHA-256 suffices.
pub fn hash_api_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random token for forms (CSRF) and similar one-off secrets, hex encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(!verify_password("anything", dummy_password_hash()));
    }

    #[test]
    fn short_passwords_are_refused() {
        let err = hash_password("short").unwrap_err();
        assert_eq!(err.field(), Some("password"));
    }

    #[test]
    fn api_tokens_are_random_and_stored_hashed() {
        let a = new_api_token();
        let b = new_api_token();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("sf_"));
        assert_eq!(hash_api_token(&a.secret), a.hash);
        assert_ne!(a.hash, a.secret);
    }
}
