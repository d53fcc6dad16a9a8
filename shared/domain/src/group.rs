//! Groups and their members. This slice has static groups (explicit lists); dynamic groups add a rule.

use crate::contact::{Email, Phone};
use crate::customer::MemberProfile;
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, GroupId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most entries one add-members request may carry; larger lists go through bulk import.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Members are added and removed explicitly.
    Static,
}

/// A group as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: GroupKind,
    /// Exact number of members, maintained in the same transaction as each membership change.
    pub member_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated group name: trimmed, 1 to 200 characters.
pub fn group_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(DomainError::validation(
            "name",
            "name must be 1 to 200 characters without control characters",
        ));
    }
    Ok(name.to_owned())
}

/// The body of `POST /groups`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(rename = "type", default = "static_kind")]
    pub kind: GroupKind,
    /// Optional first members, in the same form as `POST /groups/{id}/members`.
    #[serde(default)]
    pub members: Option<MemberList>,
}

fn static_kind() -> GroupKind {
    GroupKind::Static
}

/// The body of `PATCH /groups/{id}`: a rename.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRename {
    pub name: String,
}

/// Who to add: exactly one of customer ids, emails, or a phone list with one number per line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberList {
    pub customer_ids: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    /// One number per line, with country code, as pasted from a spreadsheet column.
    pub phones: Option<String>,
}

/// A parsed entry: its line, the text given and what to look up.
pub type ParsedEntry = (usize, String, MemberKey);

/// One entry of a member list, parsed: the line it came from and what to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKey {
    Id(CustomerId),
    Email(Email),
    Phone(Phone),
}

/// A line of the member list that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// 1-based line (phone list) or position (id and email lists).
    pub line: usize,
    pub value: String,
    pub reason: RejectReason,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    InvalidId,
    InvalidEmail,
    InvalidPhone,
    NotFound,
    Duplicate,
}

/// What an add-members request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AddMembersReport {
    pub added: u64,
    pub already_members: u64,
    pub rejected: Vec<Rejection>,
}

impl MemberList {
    /// Parses every line; invalid lines become rejections, valid ones keys with their line numbers.
    /// Blank lines of a phone list are skipped (they are formatting, not entries).
    pub fn parse(self) -> Result<(Vec<ParsedEntry>, Vec<Rejection>)> {
        let given = [
            self.customer_ids.is_some(),
            self.emails.is_some(),
            self.phones.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(DomainError::validation(
                "members",
                "give exactly one of customer_ids, emails or phones",
            ));
        }
        let entries: Vec<(usize, String)> = if let Some(ids) = self.customer_ids {
            ids.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
        } else if let Some(emails) = self.emails {
            emails.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
        } else {
            let text = self.phones.unwrap_or_default();
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l.trim().to_owned()))
                .collect()
        };
        if entries.is_empty() {
            return Err(DomainError::validation("members", "the member list is empty"));
        }
        if entries.len() > MAX_MEMBERS_PER_REQUEST {
            return Err(DomainError::validation(
                "members",
                format!("at most {MAX_MEMBERS_PER_REQUEST} entries per request; split the list or use bulk import"),
            ));
        }
        let kind = if given[0] {
            0
        } else if given[1] {
            1
        } else {
            2
        };
        let mut keys = Vec::with_capacity(entries.len());
        let mut rejected = Vec::new();
        for (line, value) in entries {
            let parsed = match kind {
                0 => CustomerId::parse(value.trim())
                    .map(MemberKey::Id)
                    .map_err(|e| (RejectReason::InvalidId, e)),
                1 => Email::parse(&value)
                    .map(MemberKey::Email)
                    .map_err(|e| (RejectReason::InvalidEmail, e)),
                _ => Phone::parse(&value)
                    .map(MemberKey::Phone)
                    .map_err(|e| (RejectReason::InvalidPhone, e)),
            };
            match parsed {
                Ok(key) => keys.push((line, value, key)),
                Err((reason, err)) => rejected.push(Rejection {
                    line,
                    value,
                    reason,
                    message: err.to_string(),
                }),
            }
        }
        Ok((keys, rejected))
    }
}

/// A member row: the customer and the columns copied from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub customer_id: CustomerId,
    #[serde(flatten)]
    pub profile: MemberProfile,
    pub added_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_lists_report_bad_lines_with_their_numbers_and_skip_blank_lines() {
        let list = MemberList {
            phones: Some("380980000000\n\n12\n+44 20 7946 0958\r\n".into()),
            ..Default::default()
        };
        let (keys, rejected) = list.parse().unwrap();
        assert_eq!(keys.iter().map(|k| k.0).collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(rejected.len(), 1);
        assert_eq!((rejected[0].line, rejected[0].reason), (3, RejectReason::InvalidPhone));
    }

    #[test]
    fn exactly_one_kind_of_list_is_required() {
        assert!(MemberList::default().parse().is_err());
        let two = MemberList {
            emails: Some(vec![]),
            phones: Some("1".into()),
            ..Default::default()
        };
        assert!(two.parse().is_err());
        let empty = MemberList {
            emails: Some(vec![]),
            ..Default::default()
        };
        assert!(empty.parse().is_err());
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(group_name("  VIP ").unwrap(), "VIP");
        assert!(group_name("   ").is_err());
        assert!(group_name(&"x".repeat(201)).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every non-blank line of a phone list is accounted for exactly once, as a key or a rejection,
        /// under its own 1-based line number (oracle: counting the lines directly).
        #[test]
        fn every_phone_line_is_added_or_rejected_once(lines in proptest::collection::vec("[0-9 +a-z]{0,16}", 1..40)) {
            let text = lines.join("\n");
            let expected: Vec<usize> = text.lines().enumerate()
                .filter(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i + 1).collect();
            match (MemberList { phones: Some(text.clone()), ..Default::default() }).parse() {
                Ok((keys, rejected)) => {
                    let mut seen: Vec<usize> = keys.iter().map(|k| k.0).chain(rejected.iter().map(|r| r.line)).collect();
                    seen.sort_unstable();
                    prop_assert_eq!(seen, expected);
                    for r in &rejected {
                        prop_assert_eq!(r.reason, RejectReason::InvalidPhone);
                    }
                }
                Err(_) => prop_assert!(expected.is_empty(), "only an all-blank list is refused"),
            }
        }

        /// Normalised contacts are fixed points: normalising again changes nothing.
        #[test]
        fn normalisation_is_idempotent(local in "[A-Za-z0-9._]{1,20}", domain in "[A-Za-z]{1,10}", tld in "[A-Za-z]{2,4}",
                                        digits in "[0-9]{9,12}") {
            let email = Email::parse(&format!(" {local}@{domain}.{tld} ")).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
            if let Ok(phone) = Phone::parse(&digits) {
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone.clone());
                prop_assert!(phone.as_str().starts_with('+'));
            }
        }
    }
}
