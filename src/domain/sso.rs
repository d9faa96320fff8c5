//! Single sign-on with a school's OpenID Connect provider (Microsoft Entra ID, Google
//! Workspace): the settings a school gives, and which claims of a verified ID token are
//! enough to match a person to a member of staff.

use super::details::{refuse, DetailError, EmailAddress};

/// The longest issuer URL, client id or client secret kept.
const MAX_SETTING_CHARS: usize = 2000;

/// A school's OpenID Connect client: the provider's issuer URL, and the client id and secret
/// the school registered Steadfast with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    issuer: String,
    client_id: String,
    client_secret: String,
}

impl OidcClient {
    /// Reads a school's client. The issuer is an `https` URL (plain `http` only on the
    /// machine itself, for tests) without query or fragment; id and secret are not blank.
    pub fn parse(issuer: &str, client_id: &str, client_secret: &str) -> Result<Self, DetailError> {
        let issuer = parse_issuer(issuer)?;
        let client_id = setting("client_id", client_id)?;
        let client_secret = setting("client_secret", client_secret)?;
        Ok(OidcClient {
            issuer,
            client_id,
            client_secret,
        })
    }

    /// The issuer URL, as the provider's discovery document and ID tokens name it.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id (the audience of the provider's ID tokens).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }
}

fn setting(field: &'static str, raw: &str) -> Result<String, DetailError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(refuse(field, "must not be blank"));
    }
    if value.chars().count() > MAX_SETTING_CHARS || value.chars().any(char::is_control) {
        return Err(refuse(
            field,
            format!("must be at most {MAX_SETTING_CHARS} characters, without control characters"),
        ));
    }
    Ok(value.to_string())
}

fn parse_issuer(raw: &str) -> Result<String, DetailError> {
    let issuer = setting("issuer", raw)?;
    let url = url::Url::parse(&issuer)
        .map_err(|_| refuse("issuer", "must be a URL such as https://login.example.com"))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    let secure = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !secure || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse(
            "issuer",
            "must be an https URL without query or fragment",
        ));
    }
    Ok(issuer)
}

/// How a school's staff may sign in: with their school account (when a client is set),
/// with a password, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSettings {
    oidc: Option<OidcClient>,
    password_login: bool,
}

impl SignInSettings {
    /// Checks that staff can still sign in somehow: password sign-in can be turned off only
    /// when the school has a provider.
    pub fn new(oidc: Option<OidcClient>, password_login: bool) -> Result<Self, DetailError> {
        if oidc.is_none() && !password_login {
            return Err(refuse(
                "password_login",
                "password sign-in can be turned off only once the school signs in with its \
                 provider: set the issuer too",
            ));
        }
        Ok(SignInSettings {
            oidc,
            password_login,
        })
    }

    /// The school's OpenID Connect client, if it has one.
    pub fn oidc(&self) -> Option<&OidcClient> {
        self.oidc.as_ref()
    }

    /// Whether staff may sign in with a password.
    pub fn password_login(&self) -> bool {
        self.password_login
    }
}

/// Why an ID token's claims do not name a person Steadfast can match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsProblem {
    /// The token carries no `email` claim.
    #[error("your school account did not share an email address (the email scope)")]
    NoEmail,
    /// The provider does not vouch for the address (`email_verified` missing or false).
    #[error("your school account's email address is not verified by your school's provider")]
    Unverified,
    /// The claim is not an email address.
    #[error("your school account's email claim is not an email address")]
    Malformed,
}

impl ClaimsProblem {
    /// A short, stable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            ClaimsProblem::NoEmail => "no_email",
            ClaimsProblem::Unverified => "email_unverified",
            ClaimsProblem::Malformed => "email_malformed",
        }
    }
}

/// The email address a verified ID token vouches for, to match to staff (case-insensitively:
/// the address comes back lower-cased, as staff addresses are stored). Only an address the
/// provider marks `email_verified: true` counts.
pub fn verified_email(
    email: Option<&str>,
    email_verified: Option<bool>,
) -> Result<EmailAddress, ClaimsProblem> {
    let email = email.ok_or(ClaimsProblem::NoEmail)?;
    if email_verified != Some(true) {
        return Err(ClaimsProblem::Unverified);
    }
    EmailAddress::parse(email).map_err(|_| ClaimsProblem::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(issuer: &str) -> Result<OidcClient, DetailError> {
        OidcClient::parse(issuer, "steadfast", "secret")
    }

    #[test]
    fn issuers_are_https_or_loopback_http() {
        assert!(client("https://login.microsoftonline.com/tenant/v2.0").is_ok());
        assert!(client("https://accounts.google.com").is_ok());
        assert!(client("http://127.0.0.1:4000").is_ok());
        assert!(client("http://localhost:4000").is_ok());
        for bad in [
            "http://login.example.com",
            "https://login.example.com/?tenant=x",
            "https://login.example.com/#x",
            "login.example.com",
            "",
        ] {
            assert_eq!(client(bad).unwrap_err().field, "issuer", "{bad}");
        }
    }

    #[test]
    fn client_id_and_secret_are_not_blank() {
        let id = OidcClient::parse("https://a.example", " ", "secret").unwrap_err();
        assert_eq!(id.field, "client_id");
        let secret = OidcClient::parse("https://a.example", "id", "\n").unwrap_err();
        assert_eq!(secret.field, "client_secret");
        let trimmed = OidcClient::parse(" https://a.example ", " id ", "s\n").unwrap();
        assert_eq!(
            (
                trimmed.issuer(),
                trimmed.client_id(),
                trimmed.client_secret()
            ),
            ("https://a.example", "id", "s")
        );
    }

    #[test]
    fn password_sign_in_stays_on_without_a_provider() {
        let refused = SignInSettings::new(None, false).unwrap_err();
        assert_eq!(refused.field, "password_login");
        assert!(SignInSettings::new(None, true).is_ok());
        let oidc = client("https://a.example").unwrap();
        assert!(!SignInSettings::new(Some(oidc), false)
            .unwrap()
            .password_login());
    }

    #[test]
    fn only_a_verified_email_matches() {
        let email = verified_email(Some("Head@School.Example"), Some(true)).unwrap();
        assert_eq!(email.as_str(), "head@school.example");
        assert_eq!(
            verified_email(Some("head@school.example"), Some(false)),
            Err(ClaimsProblem::Unverified)
        );
        assert_eq!(
            verified_email(Some("head@school.example"), None),
            Err(ClaimsProblem::Unverified)
        );
        assert_eq!(
            verified_email(None, Some(true)),
            Err(ClaimsProblem::NoEmail)
        );
        assert_eq!(
            verified_email(Some("not an address"), Some(true)),
            Err(ClaimsProblem::Malformed)
        );
    }
}
