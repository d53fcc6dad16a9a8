//! Email and phone normalisation: the forms stored, compared for uniqueness and matched on.

use crate::error::{DomainError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalises (trim, lowercase) and checks the shape `local@domain.tld`; deliverability is not
    /// knowable here, so the check is structural, as RFC 5321's size limits and a dotted domain.
    pub fn parse(raw: &str) -> Result<Self> {
        let email = raw.trim().to_lowercase();
        let invalid =
            |why: &str| DomainError::validation("email", format!("email {raw:?} is not a valid address: {why}"));
        if email.len() > 254 {
            return Err(invalid("it is longer than 254 characters"));
        }
        let (local, domain) = email.split_once('@').ok_or_else(|| invalid("it has no '@'"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before '@' must be 1 to 64 characters"));
        }
        if domain.contains('@') {
            return Err(invalid("it has more than one '@'"));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        {
            return Err(invalid("it contains spaces, quotes or separators"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            return Err(invalid("the domain must look like example.com"));
        }
        Ok(Email(email))
    }

    /// The normalised address: trimmed and lower-cased, as stored and compared.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+380980000000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts an international number with its country code, with or without the leading `+` or `00`
    /// (the seed's phone lists are written `380980000000`), ignoring spaces, dashes, dots and brackets.
    /// The number must be valid for its country according to libphonenumber.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid =
            |why: &str| DomainError::validation("phone", format!("phone {raw:?} is not a valid number: {why}"));
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 32 {
            return Err(invalid("give the number with its country code, e.g. +380980000000"));
        }
        let mut digits = String::with_capacity(trimmed.len() + 1);
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(invalid(
                        "only digits, an optional leading '+', spaces, dashes, dots and brackets are allowed",
                    ))
                }
            }
        }
        let digits = digits.strip_prefix("00").unwrap_or(&digits);
        if digits.len() < 6 || digits.len() > 15 {
            return Err(invalid(
                "an international number has 6 to 15 digits including the country code",
            ));
        }
        let parsed =
            phonenumber::parse(None, format!("+{digits}")).map_err(|_| invalid("the country code is unknown"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid("it is not a possible number for its country"));
        }
        Ok(Phone(parsed.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The number in E.164 form, e.g. `+380980000000`, as stored and compared.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self> {
        Phone::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ana.Smith@Example.COM ").unwrap().as_str(),
            "ana.smith@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_rejected_with_a_reason() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "@b.com",
            "a b@c.com",
            "a@.com",
            "a@b..com",
            "a@-b.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Validation { ref field, .. } if field == "email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn phones_normalise_to_e164_with_or_without_plus() {
        assert_eq!(Phone::parse("380980000000").unwrap().as_str(), "+380980000000");
        assert_eq!(Phone::parse("+44 20 7946 0958").unwrap().as_str(), "+442079460958");
        assert_eq!(Phone::parse("0044 (20) 7946-0958").unwrap().as_str(), "+442079460958");
        assert_eq!(Phone::parse("+1 415 555 2671").unwrap().as_str(), "+14155552671");
    }

    #[test]
    fn impossible_phones_are_rejected() {
        for bad in [
            "",
            "12",
            "+999 123456789",
            "+44 12",
            "call me",
            "+1 415 555 2671 ext 3",
            "++380980000000",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
