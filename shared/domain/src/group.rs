//! Groups and their members: static groups (explicit lists) and dynamic groups (a rule tree whose
//! membership the service keeps current).

use crate::contact::{Email, Phone};
use crate::customer::MemberProfile;
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, GroupId, JobId};
use crate::rules::{Definition, LifecycleSettings};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The most entries one add-members request may carry; larger lists go through bulk import.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Members are added and removed explicitly.
    Static,
    /// Members are the customers that match the group's rules, kept current by the service.
    Dynamic,
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
    /// Dynamic groups: the rule tree, as written (`rules`), or the seeds' condition groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_groups: Option<Value>,
    /// The built-in template the rules started from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Day counts of the Renewing, Expiring and Inactive states (dynamic groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<LifecycleSettings>,
    /// Groups this group's rules reference (`member_of`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses_groups: Vec<GroupId>,
    /// The last or running resync of a dynamic group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
}

impl Group {
    /// The parsed rules of a dynamic group (`None` for a static group).
    pub fn definition(&self) -> Result<Option<Definition>> {
        if self.kind == GroupKind::Static {
            return Ok(None);
        }
        Definition::parse(self.rules.as_ref(), self.condition_groups.as_ref())
            .map(Some)
            .map_err(|e| DomainError::Internal(format!("stored rules of group {} do not parse: {e}", self.id)))
    }

    pub fn lifecycle_settings(&self) -> LifecycleSettings {
        self.settings.unwrap_or_default()
    }

    /// Sets the definition fields from parsed rules.
    pub fn set_definition(&mut self, d: &Definition) {
        let (rules, groups) = split_definition(d);
        self.rules = rules;
        self.condition_groups = groups;
        self.uses_groups = d.rule.referenced_groups().into_iter().collect();
    }
}

fn split_definition(d: &Definition) -> (Option<Value>, Option<Value>) {
    match d.to_json() {
        Value::Object(mut m) => (m.remove("rules"), m.remove("condition_groups")),
        _ => (None, None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    Queued,
    Running,
    Done,
    Failed,
}

/// A dynamic group's resync: job, progress and outcome, as the group shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub status: SyncState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// When the last successful resync finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Fraction of customer shards done, 0 to 1.
    #[serde(default)]
    pub progress: f64,
    #[serde(default)]
    pub shards_done: u32,
    #[serde(default)]
    pub shards_total: u32,
    #[serde(default)]
    pub customers_evaluated: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
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
    /// Optional first members of a static group, in the same form as `POST /groups/{id}/members`.
    #[serde(default)]
    pub members: Option<MemberList>,
    /// Dynamic groups: a rule tree, or condition groups, or a template plus extra conditions.
    #[serde(default)]
    pub rules: Option<Value>,
    #[serde(default)]
    pub condition_groups: Option<Value>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub extra: Option<Value>,
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
}

/// A dynamic group's rules as given in a create, update or preview body.
#[derive(Debug, Clone)]
pub struct DraftRules {
    pub definition: Definition,
    pub template: Option<String>,
    pub settings: LifecycleSettings,
}

/// Parses the rule fields of a request body: exactly one of `rules`, `condition_groups`, `template`.
pub fn draft_rules(
    rules: Option<&Value>,
    condition_groups: Option<&Value>,
    template: Option<&str>,
    extra: Option<&Value>,
    settings: Option<LifecycleSettings>,
) -> Result<DraftRules> {
    let given = [rules.is_some(), condition_groups.is_some(), template.is_some()];
    if given.iter().filter(|x| **x).count() != 1 {
        return Err(DomainError::validation(
            "rules",
            "a dynamic group needs exactly one of rules (a tree of all/any/not), condition_groups (OR inside a group, AND between groups) or template",
        ));
    }
    if extra.is_some() && template.is_none() {
        return Err(DomainError::validation(
            "extra",
            "extra conditions apply to a template; give template too",
        ));
    }
    let definition = match template {
        Some(t) => crate::rules::from_template(t, extra)?,
        None => Definition::parse(rules, condition_groups)?,
    };
    let settings = settings.unwrap_or_default();
    settings.check()?;
    Ok(DraftRules {
        definition,
        template: template.map(str::to_owned),
        settings,
    })
}

impl NewGroup {
    /// The draft rules of a dynamic group; `None` for a static one. Rejects rule fields on a static group
    /// and members on a dynamic one.
    pub fn draft(&self) -> Result<Option<DraftRules>> {
        let has_rules = self.rules.is_some() || self.condition_groups.is_some() || self.template.is_some();
        match self.kind {
            GroupKind::Static if has_rules || self.extra.is_some() || self.settings.is_some() => Err(DomainError::validation(
                "type",
                "rules, condition_groups, template, extra and settings belong to dynamic groups: set \"type\": \"dynamic\"",
            )),
            GroupKind::Static => Ok(None),
            GroupKind::Dynamic if self.members.is_some() => Err(DomainError::validation(
                "members",
                "a dynamic group's members follow its rules; members can only be listed for a static group",
            )),
            GroupKind::Dynamic => draft_rules(
                self.rules.as_ref(),
                self.condition_groups.as_ref(),
                self.template.as_deref(),
                self.extra.as_ref(),
                self.settings,
            )
            .map(Some),
        }
    }
}

/// The body of `PATCH /groups/{id}`: a new name and, for a dynamic group, new rules or settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub rules: Option<Value>,
    #[serde(default)]
    pub condition_groups: Option<Value>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub extra: Option<Value>,
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
}

/// The body of `POST /groups/preview`: a draft dynamic definition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPreviewRequest {
    #[serde(default)]
    pub rules: Option<Value>,
    #[serde(default)]
    pub condition_groups: Option<Value>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub extra: Option<Value>,
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
    /// How many matching customers to return (0 to 50, default 10).
    #[serde(default)]
    pub sample_size: Option<u32>,
}

fn static_kind() -> GroupKind {
    GroupKind::Static
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
