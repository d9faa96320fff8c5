//! Credentials: staff passwords (argon2) and API tokens (random, stored as a SHA-256 hash).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shortest password accepted for a staff account.
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// Prefix of every API token, so a leaked one is recognisable.
const TOKEN_PREFIX: &str = "sf_";

/// Hashes a password with argon2 and a random salt. A password a person has just chosen is
/// first checked with [`check_new_password`].
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// The longest password accepted: far beyond any passphrase, short enough to hash quickly.
pub const MAX_PASSWORD_LENGTH: usize = 256;

/// The least zxcvbn score a new password chosen through a link needs: 2 means it would take
/// more than a million guesses, so common passwords, keyboard runs, repeated characters and
/// the person's own name or email are refused.
const MIN_PASSWORD_SCORE: u8 = 2;

/// Checks a password a person has just chosen: at least [`MIN_PASSWORD_LENGTH`] characters,
/// not beginning or ending with spaces (a copy-and-paste slip the person would not see),
/// at most [`MAX_PASSWORD_LENGTH`], and not trivially guessable by zxcvbn,
/// which is also given `about_them` (their name and email, so a password made of them is
/// refused). A refusal names the `password` field and says how to do better.
pub fn check_new_password(password: &str, about_them: &[&str]) -> Result<()> {
    let length = password.chars().count();
    if password.trim().is_empty() || length < MIN_PASSWORD_LENGTH {
        return Err(Error::invalid(
            "password",
            format!("a password needs at least {MIN_PASSWORD_LENGTH} characters (spaces alone do not count): a few unrelated words make a good one"),
        ));
    }
    if password.trim() != password {
        return Err(Error::invalid(
            "password",
            "a password cannot begin or end with a space",
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(Error::invalid(
            "password",
            format!("a password is at most {MAX_PASSWORD_LENGTH} characters"),
        ));
    }
    // zxcvbn's time grows with the length; its authors advise checking the first 100
    // characters, which decide the score of any password anyway.
    let checked: String = password.chars().take(100).collect();
    let mut hints: Vec<&str> = Vec::new();
    for about in about_them {
        hints.push(about);
        if let Some((local, _)) = about.split_once('@') {
            hints.push(local);
        }
        hints.extend(
            about
                .split(['@', '.', ' ', '\'', '-'])
                .filter(|p| p.len() > 2),
        );
    }
    let estimate = zxcvbn::zxcvbn(&checked, &hints);
    if u8::from(estimate.score()) >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let mut message = "this password would be easy to guess".to_string();
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            message.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
        }
        message.push('.');
        for suggestion in feedback.suggestions() {
            message.push_str(&format!(" {suggestion}"));
        }
    } else {
        message.push_str(". Add another word or two.");
    }
    Err(Error::invalid("password", message))
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
    let hash = hash_secret(&secret);
    NewToken { secret, hash }
}

/// The stored form of a long random secret (an API token, a session key, a link's token):
/// being long and random, a plain SHA-256 suffices.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random token for forms (CSRF) and similar one-off secrets, hex encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The file in the data folder holding the one-time token that opens `/setup` on an
/// installation with no school yet.
const SETUP_TOKEN_FILE: &str = "setup.token";

/// The setup token of an installation with no school, made (readable by its owner only)
/// when there is none yet. `steadfast serve` prints the link that carries it.
pub fn setup_token(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join(SETUP_TOKEN_FILE);
    if let Ok(stored) = std::fs::read_to_string(&path) {
        if stored.trim().len() == 64 {
            return Ok(stored.trim().to_string());
        }
    }
    let token = random_token();
    std::fs::create_dir_all(data_dir)?;
    crate::web::write_private_file(&path, token.as_bytes())?;
    Ok(token)
}

/// Whether `sent` is the installation's setup token (compared in constant time).
pub fn setup_token_matches(data_dir: &std::path::Path, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    match std::fs::read_to_string(data_dir.join(SETUP_TOKEN_FILE)) {
        Ok(stored) if stored.trim().len() == 64 => {
            bool::from(stored.trim().as_bytes().ct_eq(sent.trim().as_bytes()))
        }
        _ => false,
    }
}

/// Removes the setup token once the first school exists.
pub fn forget_setup_token(data_dir: &std::path::Path) {
    let _ = std::fs::remove_file(data_dir.join(SETUP_TOKEN_FILE));
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
    fn short_or_padded_passwords_are_refused() {
        for refused in [
            "short",
            "          ",
            "plum kettle",
            " plum kettle orbit",
            "plum kettle orbit ",
        ] {
            let err = check_new_password(refused, &[]).unwrap_err();
            assert_eq!(err.field(), Some("password"), "{refused:?}");
        }
        assert!(check_new_password("plum kettle orbit", &[]).is_ok());
    }

    #[test]
    fn trivially_weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "password123",
            "aaaaaaaaaaaa",
            "qwertyuiop",
            "          x",
            "short",
        ] {
            let refused = check_new_password(weak, &[]).unwrap_err();
            assert_eq!(refused.field(), Some("password"), "{weak}");
        }
        let own = check_new_password(
            "sian.oneill2026",
            &["Siân O'Neill", "sian.oneill@school.example"],
        );
        assert!(own.is_err(), "a password made of the person's own address");
        assert!(check_new_password("correct horse battery staple", &[]).is_ok());
        assert!(check_new_password("plum kettle orbit", &["Ann Smith"]).is_ok());
        let message = check_new_password("password1234", &[])
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("this password would be easy to guess"),
            "{message}"
        );
        assert!(
            check_new_password(&"ab9!".repeat(70), &[]).is_err(),
            "too long"
        );
    }

    #[test]
    fn api_tokens_are_random_and_stored_hashed() {
        let a = new_api_token();
        let b = new_api_token();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("sf_"));
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert_ne!(a.hash, a.secret);
    }
}
