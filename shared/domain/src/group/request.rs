//! The bodies of the group routes and their parsed forms. A handler deserialises the body (serde
//! names unknown fields and wrong types) and converts it with `TryFrom` into the parsed input the use
//! case takes: names checked, rules parsed into a [`Definition`], member lists parsed line by line.

use super::members::{MemberList, ParsedMembers};
use super::{group_name, GroupKind};
use crate::error::{DomainError, Result};
use crate::rules::{Definition, LifecycleSettings};
use serde::Deserialize;
use serde_json::Value;

/// The body of `POST /groups`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// The group's name.
    pub name: String,
    /// `static` (default) or `dynamic`.
    #[serde(rename = "type", default = "static_kind")]
    pub kind: GroupKind,
    /// Optional first members of a static group, in the same form as `POST /groups/{id}/members`.
    #[serde(default)]
    pub members: Option<MemberList>,
    /// Dynamic groups: a rule tree.
    #[serde(default)]
    pub rules: Option<Value>,
    /// Dynamic groups: condition groups (OR inside, AND between).
    #[serde(default)]
    pub condition_groups: Option<Value>,
    /// Dynamic groups: a built-in template.
    #[serde(default)]
    pub template: Option<String>,
    /// Extra conditions of a template.
    #[serde(default)]
    pub extra: Option<Value>,
    /// Renewing, expiring and inactive day counts.
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
}

fn static_kind() -> GroupKind {
    GroupKind::Static
}

/// A dynamic group's rules as given in a create, update or preview body, parsed.
#[derive(Debug, Clone)]
pub struct DraftRules {
    /// The parsed rules.
    pub definition: Definition,
    /// The template they came from, if any.
    pub template: Option<String>,
}

/// The rule fields of a body, before parsing.
#[derive(Debug, Clone, Copy)]
pub struct RuleFields<'a> {
    /// `rules`.
    pub rules: Option<&'a Value>,
    /// `condition_groups`.
    pub condition_groups: Option<&'a Value>,
    /// `template`.
    pub template: Option<&'a str>,
    /// `extra`.
    pub extra: Option<&'a Value>,
}

impl RuleFields<'_> {
    /// Whether any field that defines rules is given.
    pub fn any(&self) -> bool {
        self.rules.is_some() || self.condition_groups.is_some() || self.template.is_some()
    }

    /// Parses exactly one of `rules`, `condition_groups`, `template` (+ `extra`).
    pub fn parse(self) -> Result<DraftRules> {
        let given = [
            self.rules.is_some(),
            self.condition_groups.is_some(),
            self.template.is_some(),
        ];
        if given.iter().filter(|x| **x).count() != 1 {
            return Err(DomainError::validation(
                "rules",
                "a dynamic group needs exactly one of rules (a tree of all/any/not), condition_groups (OR inside a group, AND between groups) or template",
            ));
        }
        if self.extra.is_some() && self.template.is_none() {
            return Err(DomainError::validation(
                "extra",
                "extra conditions apply to a template; give template too",
            ));
        }
        let definition = match self.template {
            Some(t) => crate::rules::from_template(t, self.extra)?,
            None => Definition::parse(self.rules, self.condition_groups)?,
        };
        Ok(DraftRules {
            definition,
            template: self.template.map(str::to_owned),
        })
    }
}

fn checked(settings: Option<LifecycleSettings>) -> Result<Option<LifecycleSettings>> {
    if let Some(s) = &settings {
        s.check()?;
    }
    Ok(settings)
}

/// A parsed `POST /groups`.
#[derive(Debug, Clone)]
pub struct GroupInput {
    /// The checked name.
    pub name: String,
    /// Static or dynamic.
    pub kind: GroupKind,
    /// A dynamic group's rules.
    pub draft: Option<DraftRules>,
    /// A dynamic group's settings (defaults when absent).
    pub settings: LifecycleSettings,
    /// A static group's first members.
    pub members: Option<ParsedMembers>,
}

impl TryFrom<NewGroup> for GroupInput {
    type Error = DomainError;

    /// Rejects rule fields on a static group and members on a dynamic one.
    fn try_from(g: NewGroup) -> Result<Self> {
        let fields = RuleFields {
            rules: g.rules.as_ref(),
            condition_groups: g.condition_groups.as_ref(),
            template: g.template.as_deref(),
            extra: g.extra.as_ref(),
        };
        let draft = match g.kind {
            GroupKind::Static if fields.any() || g.extra.is_some() || g.settings.is_some() => {
                return Err(DomainError::validation(
                    "type",
                    "rules, condition_groups, template, extra and settings belong to dynamic groups: set \"type\": \"dynamic\"",
                ))
            }
            GroupKind::Static => None,
            GroupKind::Dynamic if g.members.is_some() => {
                return Err(DomainError::validation(
                    "members",
                    "a dynamic group's members follow its rules; members can only be listed for a static group",
                ))
            }
            GroupKind::Dynamic => Some(fields.parse()?),
        };
        let settings = checked(g.settings)?.unwrap_or_default();
        let name = group_name(&g.name)?;
        // Validate the member list before anything is written, so a bad list creates nothing.
        let members = g.members.map(ParsedMembers::try_from).transpose()?;
        Ok(GroupInput {
            name,
            kind: g.kind,
            draft,
            settings,
            members,
        })
    }
}

/// The body of `PATCH /groups/{id}`: a new name and, for a dynamic group, new rules or settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// New rules as a tree.
    #[serde(default)]
    pub rules: Option<Value>,
    /// New rules as condition groups.
    #[serde(default)]
    pub condition_groups: Option<Value>,
    /// New rules from a template.
    #[serde(default)]
    pub template: Option<String>,
    /// Extra conditions of the template.
    #[serde(default)]
    pub extra: Option<Value>,
    /// New day counts.
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
}

/// A parsed `PATCH /groups/{id}`.
#[derive(Debug, Clone)]
pub struct GroupChange {
    /// The checked new name.
    pub name: Option<String>,
    /// New rules.
    pub draft: Option<DraftRules>,
    /// New, checked day counts.
    pub settings: Option<LifecycleSettings>,
}

impl GroupChange {
    /// Whether the change redefines the group (only dynamic groups can be redefined).
    pub fn redefines(&self) -> bool {
        self.draft.is_some() || self.settings.is_some()
    }
}

impl TryFrom<GroupUpdate> for GroupChange {
    type Error = DomainError;

    fn try_from(u: GroupUpdate) -> Result<Self> {
        let fields = RuleFields {
            rules: u.rules.as_ref(),
            condition_groups: u.condition_groups.as_ref(),
            template: u.template.as_deref(),
            extra: u.extra.as_ref(),
        };
        if u.name.is_none() && !fields.any() && u.settings.is_none() && u.extra.is_none() {
            return Err(DomainError::validation(
                "name",
                "nothing to change: give name, and for a dynamic group rules, condition_groups, template or settings",
            ));
        }
        let draft = if fields.any() || u.extra.is_some() {
            Some(fields.parse()?)
        } else {
            None
        };
        Ok(GroupChange {
            name: u.name.as_deref().map(group_name).transpose()?,
            draft,
            settings: checked(u.settings)?,
        })
    }
}

/// The body of `POST /groups/preview`: a draft dynamic definition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPreviewRequest {
    /// Rules as a tree.
    #[serde(default)]
    pub rules: Option<Value>,
    /// Rules as condition groups.
    #[serde(default)]
    pub condition_groups: Option<Value>,
    /// Rules from a template.
    #[serde(default)]
    pub template: Option<String>,
    /// Extra conditions of the template.
    #[serde(default)]
    pub extra: Option<Value>,
    /// Day counts.
    #[serde(default)]
    pub settings: Option<LifecycleSettings>,
    /// How many matching customers to return (0 to 50, default 10).
    #[serde(default)]
    pub sample_size: Option<u32>,
}

/// Matching customers a preview returns by default.
pub const PREVIEW_DEFAULT_SAMPLE: u32 = 10;
/// The largest `sample_size`.
pub const PREVIEW_MAX_SAMPLE: u32 = 50;

/// A parsed preview request.
#[derive(Debug, Clone)]
pub struct PreviewInput {
    /// The draft rules.
    pub draft: DraftRules,
    /// The day counts to evaluate with.
    pub settings: LifecycleSettings,
    /// How many matching customers to return.
    pub sample_size: u32,
}

impl TryFrom<GroupPreviewRequest> for PreviewInput {
    type Error = DomainError;

    fn try_from(r: GroupPreviewRequest) -> Result<Self> {
        let sample_size = r.sample_size.unwrap_or(PREVIEW_DEFAULT_SAMPLE);
        if sample_size > PREVIEW_MAX_SAMPLE {
            return Err(DomainError::validation(
                "sample_size",
                format!("sample_size must be 0 to {PREVIEW_MAX_SAMPLE}"),
            ));
        }
        let draft = RuleFields {
            rules: r.rules.as_ref(),
            condition_groups: r.condition_groups.as_ref(),
            template: r.template.as_deref(),
            extra: r.extra.as_ref(),
        }
        .parse()?;
        Ok(PreviewInput {
            draft,
            settings: checked(r.settings)?.unwrap_or_default(),
            sample_size,
        })
    }
}
