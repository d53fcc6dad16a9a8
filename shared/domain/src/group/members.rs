//! Static membership: the member lists a request adds (ids, emails, or a phone box with one number a
//! line), their line-by-line report, and the member rows.

use super::MAX_MEMBERS_PER_REQUEST;
use crate::contact::{Email, Phone};
use crate::customer::MemberProfile;
use crate::error::{DomainError, Result};
use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who to add: exactly one of customer ids, emails, or a phone list with one number per line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberList {
    /// Customer ids, one per entry; an entry's position is its line in the report.
    pub customer_ids: Option<Vec<String>>,
    /// Email addresses, normalised before they are looked up.
    pub emails: Option<Vec<String>>,
    /// One number per line, with country code, as pasted from a spreadsheet column.
    pub phones: Option<String>,
}

/// A parsed entry: its line, the text given and what to look up.
pub type ParsedEntry = (usize, String, MemberKey);

/// One entry of a member list, parsed: the line it came from and what to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKey {
    /// A customer id, used as it is.
    Id(CustomerId),
    /// An email, resolved to a customer through the tenant's identities.
    Email(Email),
    /// A phone number, resolved to a customer through the tenant's identities.
    Phone(Phone),
}

/// A line of the member list that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// 1-based line (phone list) or position (id and email lists).
    pub line: usize,
    /// The entry as given.
    pub value: String,
    /// Why, as a stable code.
    pub reason: RejectReason,
    /// Why, in words for the user.
    pub message: String,
}

/// Why an entry of a member list was not added (`snake_case` in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not a valid customer id.
    InvalidId,
    /// Not a valid email address.
    InvalidEmail,
    /// Not a valid phone number with its country code.
    InvalidPhone,
    /// No customer of the tenant has this id, email or phone.
    NotFound,
    /// The same customer is listed on an earlier line.
    Duplicate,
}

/// What an add-members request did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AddMembersReport {
    /// Customers who became members.
    pub added: u64,
    /// Customers who were members already; nothing changed for them.
    pub already_members: u64,
    /// Entries not added, in line order.
    pub rejected: Vec<Rejection>,
}

/// A parsed member list: the valid entries to look up and the lines already rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMembers {
    /// Valid entries with their line numbers.
    pub keys: Vec<ParsedEntry>,
    /// Lines that could not be parsed.
    pub rejected: Vec<Rejection>,
}

impl TryFrom<MemberList> for ParsedMembers {
    type Error = DomainError;

    /// Parses every line; invalid lines become rejections, valid ones keys with their line numbers.
    /// Blank lines of a phone list are skipped (they are formatting, not entries).
    fn try_from(list: MemberList) -> Result<Self> {
        let given = [
            list.customer_ids.is_some(),
            list.emails.is_some(),
            list.phones.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(DomainError::validation(
                "members",
                "give exactly one of customer_ids, emails or phones",
            ));
        }
        let entries: Vec<(usize, String)> = if let Some(ids) = list.customer_ids {
            ids.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
        } else if let Some(emails) = list.emails {
            emails.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
        } else {
            let text = list.phones.unwrap_or_default();
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
        Ok(ParsedMembers { keys, rejected })
    }
}

/// A member row: the customer and the columns copied from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The customer this row makes a member.
    pub customer_id: CustomerId,
    /// Columns copied from the customer, flattened into the row and refreshed when they change.
    #[serde(flatten)]
    pub profile: MemberProfile,
    /// When the customer became a member.
    pub added_at: DateTime<Utc>,
}
