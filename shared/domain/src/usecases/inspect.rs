//! Looking at dynamic groups without changing them: preview a draft definition, explain one
//! customer's answer, read a group's history, list the built-in templates.

use crate::customer::MemberProfile;
use crate::error::{DomainError, Result};
use crate::group::PreviewInput;
use crate::history::HistoryEntry;
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{CustomerScan, CustomerStore, GroupStore, HistoryLog, Shards};
use crate::rules::{self, Definition, EvalContext, Program, Rule};
use crate::usecases::lookup::{get_customer, get_group};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Customers a preview evaluates at most; beyond it the count is marked incomplete.
pub const PREVIEW_MAX_CUSTOMERS: u64 = 20_000;

/// The response of `POST /groups/preview`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// Customers that match.
    pub matched: u64,
    /// Customers evaluated.
    pub evaluated: u64,
    /// False when the tenant has more customers than a preview evaluates; `matched` then counts the
    /// customers evaluated.
    pub complete: bool,
    /// Some of the matching customers.
    pub sample: Vec<PreviewCustomer>,
    /// The definition as it would be saved.
    #[serde(flatten)]
    pub definition: Definition,
}

/// A matching customer in a preview's sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewCustomer {
    /// The customer.
    pub customer_id: CustomerId,
    /// The columns a member list shows.
    #[serde(flatten)]
    pub profile: MemberProfile,
}

/// Evaluates a draft definition over the tenant's customers without saving it.
pub async fn preview<S>(store: &S, t: &TenantId, input: PreviewInput, now: DateTime<Utc>) -> Result<Preview>
where
    S: CustomerScan + GroupStore + Shards,
{
    let PreviewInput {
        draft,
        settings,
        sample_size,
    } = input;
    let groups = store.list_all_groups(t).await?;
    for u in draft.definition.rule.referenced_groups() {
        if !groups.iter().any(|g| g.id == u) {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {u:?}, which does not exist"),
            ));
        }
    }
    let mut out = Preview {
        matched: 0,
        evaluated: 0,
        complete: true,
        sample: Vec::new(),
        definition: draft.definition.clone(),
    };
    let program = Program::single(&draft.definition.rule, &settings);
    let (mut matched, mut next_changes) = (Vec::new(), Vec::new());
    'shards: for shard in 0..store.customer_shards() {
        let mut cursor = None;
        loop {
            let (customers, next) = store.scan_shard(t, shard, cursor).await?;
            program.matches_many(&customers, now, &mut matched, &mut next_changes);
            for (c, is_match) in customers.iter().zip(&matched) {
                if out.evaluated >= PREVIEW_MAX_CUSTOMERS {
                    out.complete = false;
                    break 'shards;
                }
                out.evaluated += 1;
                if *is_match {
                    out.matched += 1;
                    if out.sample.len() < sample_size as usize {
                        out.sample.push(PreviewCustomer {
                            customer_id: c.id.clone(),
                            profile: c.member_view(),
                        });
                    }
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The response of `GET /groups/{id}/explain/{customerId}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The group.
    pub group_id: GroupId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The instant evaluated.
    pub at: DateTime<Utc>,
    /// Whether the rules match now.
    pub matched: bool,
    /// Whether the customer is a member as stored.
    pub is_member: bool,
    /// When the answer can next change by the passing of time alone.
    pub next_change: Option<DateTime<Utc>>,
    /// The rule tree, each node annotated with whether it matches.
    pub tree: Value,
}

/// For a dynamic group and a customer: the rule tree annotated with which nodes match now.
pub async fn explain<S>(
    store: &S,
    t: &TenantId,
    group_id: &GroupId,
    customer_id: &CustomerId,
    now: DateTime<Utc>,
) -> Result<Explanation>
where
    S: GroupStore + CustomerStore,
{
    let group = get_group(store, t, group_id).await?;
    let Some(definition) = group.definition.as_ref() else {
        return Err(DomainError::conflict(
            "type",
            "explain applies to dynamic groups; a static group's members are the ones added",
        ));
    };
    let customer = get_customer(store, t, customer_id).await?;
    let settings = group.lifecycle_settings();
    let program = Program::single(&definition.rule, &settings);
    let in_group = |g: &GroupId| customer.groups.contains(g);
    let ctx = EvalContext {
        now,
        settings: &settings,
        in_group: &in_group,
    };
    let outcome = program
        .evaluate(&customer, now)
        .pop()
        .unwrap_or_else(|| rules::evaluate(&definition.rule, &customer, &ctx));
    // The compiled engine explains every customer but one with a leap-second instant.
    let tree = program
        .explain(0, &customer, now)
        .unwrap_or_else(|| rules::explain(&definition.rule, &customer, &ctx));
    Ok(Explanation {
        group_id: group.id.clone(),
        customer_id: customer.id.clone(),
        at: now,
        matched: outcome.matched,
        is_member: customer.groups.contains(&group.id),
        next_change: outcome.next_change,
        tree,
    })
}

/// A group's entries and exits, newest first.
pub async fn history<S: GroupStore + HistoryLog>(
    store: &S,
    t: &TenantId,
    group_id: &GroupId,
    page: &PageRequest,
) -> Result<Page<HistoryEntry>> {
    let group = get_group(store, t, group_id).await?;
    store.list_history(t, &group.id, page).await
}

/// One built-in template (seed 002's segments) with its rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateView {
    /// What `template` takes.
    pub id: &'static str,
    /// The seed's name.
    pub name: &'static str,
    /// The seed's description.
    pub description: &'static str,
    /// The rule tree it stands for.
    pub rules: Rule,
}

/// The response of `GET /group-templates`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateList {
    /// The templates.
    pub items: Vec<TemplateView>,
    /// The names `extra` takes.
    pub extras: &'static [&'static str],
}

/// The built-in templates with their rules.
pub fn templates() -> TemplateList {
    TemplateList {
        items: rules::templates()
            .into_iter()
            .map(|(tpl, rule)| TemplateView {
                id: tpl.id,
                name: tpl.name,
                description: tpl.description,
                rules: rule,
            })
            .collect(),
        extras: &["gender", "customer_group", "aggregator", "bookings"],
    }
}
