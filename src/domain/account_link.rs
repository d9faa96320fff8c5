//! Single-use links to choose a password: the *invitation* a new member of staff receives,
//! and the *password reset* anyone can ask for from the sign-in page. A link is a random
//! token sent by email and stored only as its hash; it works once, until it expires, and a
//! newer link of the same kind replaces it.
//!
//! Pure: what a link is for, how long it lasts, and whether it may still be used.

use chrono::{NaiveDateTime, TimeDelta};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkPurpose {
    /// A new account's first password.
    Invitation,
    /// A forgotten password replaced.
    Reset,
}

impl LinkPurpose {
    /// The stable name stored with the link.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::Reset => "reset",
        }
    }

    /// The purpose with this stored name.
    pub fn parse(raw: &str) -> Option<LinkPurpose> {
        match raw {
            "invitation" => Some(LinkPurpose::Invitation),
            "reset" => Some(LinkPurpose::Reset),
            _ => None,
        }
    }

    /// How long a link works: an invitation 7 days (it may wait over a weekend or a
    /// half-term), a reset 2 hours (the person asked for it and is waiting for it).
    pub fn lifetime(self) -> TimeDelta {
        match self {
            LinkPurpose::Invitation => TimeDelta::days(7),
            LinkPurpose::Reset => TimeDelta::hours(2),
        }
    }

    /// How long a link lasts, in words for emails and pages.
    pub fn lifetime_words(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "7 days",
            LinkPurpose::Reset => "2 hours",
        }
    }
}

/// A stored link, as far as deciding whether it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFacts {
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// When a newer link of the same kind (or a deactivation) replaced it.
    pub revoked_at: Option<NaiveDateTime>,
    /// Whether the account it is for is still open.
    pub account_active: bool,
}

/// Whether a link may be used now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// It works.
    Usable,
    /// No link has this token (mistyped, or cut short by an email program).
    Unknown,
    /// It has been used already.
    Used,
    /// Its time is up.
    Expired,
    /// A newer link replaced it, or the account was closed.
    Replaced,
}

impl LinkState {
    /// Whether a stored link works at `now`. A used link says so even once expired (the
    /// person most likely chose their password already).
    pub fn of(facts: &LinkFacts, now: NaiveDateTime) -> LinkState {
        if facts.used_at.is_some() {
            LinkState::Used
        } else if facts.revoked_at.is_some() || !facts.account_active {
            LinkState::Replaced
        } else if now >= facts.expires_at {
            LinkState::Expired
        } else {
            LinkState::Usable
        }
    }

    /// Why a link that does not work does not, in a sentence for its page.
    pub fn explanation(self) -> &'static str {
        match self {
            LinkState::Usable => "This link works.",
            LinkState::Unknown => {
                "This link is not one Steadfast knows. It may have been cut short: copy the whole address from the email."
            }
            LinkState::Used => "This link has been used already: each link works once.",
            LinkState::Expired => "This link has expired.",
            LinkState::Replaced => {
                "This link no longer works: a newer one has been sent since, or the account has been closed."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn facts() -> LinkFacts {
        LinkFacts {
            expires_at: at(12),
            used_at: None,
            revoked_at: None,
            account_active: true,
        }
    }

    #[test]
    fn a_link_works_once_until_it_expires() {
        assert_eq!(LinkState::of(&facts(), at(11)), LinkState::Usable);
        assert_eq!(LinkState::of(&facts(), at(12)), LinkState::Expired);
        let used = LinkFacts {
            used_at: Some(at(10)),
            ..facts()
        };
        assert_eq!(LinkState::of(&used, at(13)), LinkState::Used);
        let replaced = LinkFacts {
            revoked_at: Some(at(10)),
            ..facts()
        };
        assert_eq!(LinkState::of(&replaced, at(11)), LinkState::Replaced);
        let closed = LinkFacts {
            account_active: false,
            ..facts()
        };
        assert_eq!(LinkState::of(&closed, at(11)), LinkState::Replaced);
    }

    #[test]
    fn invitations_last_a_week_and_resets_two_hours() {
        assert_eq!(LinkPurpose::Invitation.lifetime(), TimeDelta::days(7));
        assert_eq!(LinkPurpose::Reset.lifetime(), TimeDelta::hours(2));
        for purpose in [LinkPurpose::Invitation, LinkPurpose::Reset] {
            assert_eq!(LinkPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(LinkPurpose::parse("other"), None);
    }
}
