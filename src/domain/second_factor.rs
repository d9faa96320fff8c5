//! The second factor of password sign-in: a TOTP authenticator (RFC 6238 with SHA-1, 6 digits
//! and 30-second steps, as every authenticator app reads it), which steps a code may come from,
//! what a typed code is, single-use recovery codes, and the school setting naming the roles
//! that must use it.
//!
//! Nothing here reads the clock or a random source: times and random bytes are passed in.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::Role;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds a code lasts (one step).
pub const STEP_SECONDS: i64 = 30;
/// Steps either side of now whose codes are accepted, for a phone's clock a little off.
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a new shared secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at a time.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code, not counting the dashes that group them.
const RECOVERY_CODE_CHARS: usize = 12;
/// The characters of recovery codes: Crockford's base32 (no i, l, o or u), so a code read
/// aloud or copied by hand is hard to get wrong.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// The name shown for Steadfast in authenticator apps.
pub const ISSUER: &str = "Steadfast";
/// The roles that must use a second factor unless a school says otherwise: those who read
/// SEN and plan records.
pub const DEFAULT_REQUIRED_ROLES: [Role; 3] = [Role::Sendco, Role::Slt, Role::Admin];

/// Why a secret cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the authenticator secret is not usable")]
pub struct BadSecret;

/// An authenticator: the secret shared with a person's app, and the codes it shows.
pub struct Authenticator {
    totp: TOTP,
}

impl Authenticator {
    /// An authenticator over raw secret bytes (at least 16) for the account `account` (shown
    /// in the app beside [`ISSUER`]).
    pub fn new(secret: Vec<u8>, account: &str) -> Result<Authenticator, BadSecret> {
        let account = account.replace(':', " ");
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            // Unused: the window is decided by `candidate_steps`.
            0,
            STEP_SECONDS as u64,
            secret,
            Some(ISSUER.to_string()),
            account,
        )
        .map(|totp| Authenticator { totp })
        .map_err(|_| BadSecret)
    }

    /// An authenticator over a secret stored as base32 text.
    pub fn from_base32(secret: &str, account: &str) -> Result<Authenticator, BadSecret> {
        let bytes = totp_rs::Secret::Encoded(secret.to_string())
            .to_bytes()
            .map_err(|_| BadSecret)?;
        Authenticator::new(bytes, account)
    }

    /// The secret as base32 text (unpadded), to store and to type into an app by hand.
    pub fn secret_base32(&self) -> String {
        self.totp.get_secret_base32()
    }

    /// The `otpauth://` address an app reads from the QR code.
    pub fn otpauth_url(&self) -> String {
        self.totp.get_url()
    }

    /// The code of a step.
    pub fn code_at_step(&self, step: i64) -> String {
        let seconds = u64::try_from(step.max(0)).unwrap_or_default() * STEP_SECONDS as u64;
        self.totp.generate(seconds)
    }

    /// The step whose code `code` is, among the steps accepted at `now_unix` after
    /// `last_used` (see [`candidate_steps`]); `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now_unix: i64, last_used: Option<i64>) -> Option<i64> {
        candidate_steps(now_unix, last_used)
            .into_iter()
            .find(|step| {
                bool::from(
                    self.code_at_step(*step)
                        .as_bytes()
                        .ct_eq(code.trim().as_bytes()),
                )
            })
    }
}

/// The step of a time (seconds since 1970).
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The steps whose codes are accepted at `now_unix`: the current one and [`SKEW_STEPS`]
/// either side, except those at or before `last_used` (a code works once, and an older one
/// never after a newer one).
pub fn candidate_steps(now_unix: i64, last_used: Option<i64>) -> Vec<i64> {
    let now = step_of(now_unix);
    (now - SKEW_STEPS..=now + SKEW_STEPS)
        .filter(|step| last_used.is_none_or(|used| *step > used))
        .collect()
}

/// What a person typed in the code box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedCode {
    /// Six digits from the authenticator app (spaces removed).
    Authenticator(String),
    /// A recovery code, in its canonical form (lower case, no dashes or spaces).
    Recovery(String),
}

impl TypedCode {
    /// Reads a typed code: six digits, or a recovery code written with or without its dashes,
    /// in either case. Anything else is `None`.
    pub fn parse(typed: &str) -> Option<TypedCode> {
        let compact: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(TypedCode::Authenticator(compact));
        }
        let canonical: String = compact
            .to_ascii_lowercase()
            .chars()
            .map(|c| match c {
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            })
            .collect();
        let fits = canonical.len() == RECOVERY_CODE_CHARS
            && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        fits.then_some(TypedCode::Recovery(canonical))
    }
}

/// A recovery code made from random bytes (one character from each of the first 12), in
/// its canonical form. Show it with [`display_recovery_code`].
pub fn recovery_code(random: &[u8; 16]) -> String {
    random
        .iter()
        .take(RECOVERY_CODE_CHARS)
        .map(|byte| char::from(RECOVERY_ALPHABET[usize::from(byte % 32)]))
        .collect()
}

/// A canonical recovery code grouped in fours for reading: `abcd-efgh-jkmn`.
pub fn display_recovery_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|group| String::from_utf8_lossy(group).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A base32 secret grouped in fours, easier to type into an app by hand.
pub fn display_secret(secret: &str) -> String {
    display_recovery_code(secret).replace('-', " ")
}

/// The roles named in a school's setting (comma-separated role names); unknown names are
/// skipped.
pub fn parse_required_roles(text: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = text
        .split(',')
        .filter_map(|name| Role::parse(name).ok())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The setting's text for a set of roles.
pub fn required_roles_text(roles: &[Role]) -> String {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 seed of RFC 6238, Appendix B.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let app = Authenticator::new(RFC_SEED.to_vec(), "a@b.example").unwrap();
        // Appendix B gives 8 digits; 6-digit codes are their last six.
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(app.code_at_step(step_of(time)), code[2..], "T = {time}");
            assert_eq!(
                app.matching_step(&code[2..], time, None),
                Some(step_of(time))
            );
        }
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let app = Authenticator::new(RFC_SEED.to_vec(), "a@b.example").unwrap();
        assert_eq!(app.secret_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let again = Authenticator::from_base32(&app.secret_base32(), "a@b.example").unwrap();
        assert_eq!(again.code_at_step(1), app.code_at_step(1));
        let url = app.otpauth_url();
        assert!(
            url.starts_with("otpauth://totp/Steadfast:a%40b.example?"),
            "{url}"
        );
        assert!(
            url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{url}"
        );
        assert!(
            Authenticator::new(vec![1; 10], "short").is_err(),
            "too short"
        );
        assert!(Authenticator::from_base32("not base32!", "x").is_err());
        assert_eq!(display_secret("GEZDGNBVGY"), "GEZD GNBV GY");
    }

    #[test]
    fn one_step_either_side_is_accepted_once() {
        let now = 1_000_000_020; // step 33_333_334
        assert_eq!(
            candidate_steps(now, None),
            vec![33_333_333, 33_333_334, 33_333_335]
        );
        assert_eq!(
            candidate_steps(now, Some(33_333_333)),
            vec![33_333_334, 33_333_335]
        );
        assert_eq!(candidate_steps(now, Some(33_333_335)), Vec::<i64>::new());
        let app = Authenticator::new(RFC_SEED.to_vec(), "x").unwrap();
        let before = app.code_at_step(33_333_333);
        let two_before = app.code_at_step(33_333_332);
        assert_eq!(app.matching_step(&before, now, None), Some(33_333_333));
        assert_eq!(app.matching_step(&before, now, Some(33_333_333)), None);
        assert_eq!(app.matching_step(&two_before, now, None), None);
    }

    #[test]
    fn typed_codes_are_read_forgivingly() {
        assert_eq!(
            TypedCode::parse(" 123 456 "),
            Some(TypedCode::Authenticator("123456".into()))
        );
        assert_eq!(
            TypedCode::parse("ABCD-EFGH-JKMN"),
            Some(TypedCode::Recovery("abcdefghjkmn".into()))
        );
        assert_eq!(
            TypedCode::parse("oil0 abcd wxyz"),
            Some(TypedCode::Recovery("0110abcdwxyz".into())),
            "o, i and l read as 0, 1 and 1"
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcd-efgh-jkm",
            "abcd-efgh-jkmu",
            "12345x",
        ] {
            assert_eq!(TypedCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_have_twelve_characters_of_the_alphabet() {
        let code = recovery_code(&[0, 1, 31, 32, 255, 10, 20, 30, 40, 50, 60, 70, 9, 9, 9, 9]);
        assert_eq!(code, "01z0zamy8jw6");
        assert_eq!(display_recovery_code(&code), "01z0-zamy-8jw6");
        assert_eq!(
            TypedCode::parse(&display_recovery_code(&code)),
            Some(TypedCode::Recovery(code))
        );
    }

    #[test]
    fn the_setting_lists_role_names() {
        assert_eq!(
            parse_required_roles("sendco, slt,admin,wizard,slt"),
            vec![Role::Sendco, Role::Slt, Role::Admin]
        );
        assert_eq!(parse_required_roles(""), Vec::<Role>::new());
        assert_eq!(
            required_roles_text(&DEFAULT_REQUIRED_ROLES),
            "sendco,slt,admin"
        );
        assert_eq!(required_roles_text(&[]), "");
    }
}
