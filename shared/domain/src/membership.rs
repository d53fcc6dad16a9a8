//! The membership pass: one read of a customer evaluates every dynamic group of the tenant, in
//! dependency order, and yields the delta against the groups the customer is in, plus the next instant
//! at which time alone can change an answer. Pure: the adapters write only the delta. The groups are
//! compiled once into one `rules::Program`, which decodes the customer once for all of them.

use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::group::{Group, GroupKind};
use crate::ids::GroupId;
use crate::rules::{self, LifecycleSettings, Program, Rule};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// A dynamic group ready to evaluate.
#[derive(Debug, Clone)]
pub struct DynamicGroup {
    /// The group whose membership the rule decides.
    pub id: GroupId,
    /// The parsed rule tree of the group's definition.
    pub rule: Rule,
    /// The group's Renewing, Expiring and Inactive day counts.
    pub settings: LifecycleSettings,
}

/// A tenant's dynamic groups in dependency order: a group comes after every group it references.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    groups: Vec<DynamicGroup>,
    /// The groups' rules compiled in the same order.
    program: Program,
    /// The tenant's settings the pass applies besides the groups (renewal grace).
    tenant: crate::settings::TenantSettings,
}

/// Why a membership changed; recorded in the group's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeReason {
    /// An ingested event (id and type).
    Event {
        /// The event's `event_id`.
        event_id: String,
        /// The event's type, e.g. `customer.active` ([`EventKind::name`](crate::events::EventKind::name)).
        kind: &'static str,
    },
    /// A time threshold passed (the scheduler's wake-up).
    Time,
    /// A full or per-group resync.
    Resync,
    /// The customer was changed through the API.
    CustomerUpdated,
    /// A group this one references changed its members.
    DependencyChanged,
    /// Another customer was merged into this one.
    Merged,
}

impl ChangeReason {
    /// The words stored in history entries, e.g. `event customer.active e-17`.
    pub fn describe(&self) -> String {
        match self {
            ChangeReason::Event { event_id, kind } => format!("event {kind} {event_id}"),
            ChangeReason::Time => "time threshold passed".into(),
            ChangeReason::Resync => "resync".into(),
            ChangeReason::CustomerUpdated => "customer updated".into(),
            ChangeReason::DependencyChanged => "membership of a referenced group changed".into(),
            ChangeReason::Merged => "merged".into(),
        }
    }
}

/// One customer's result of the pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    /// Groups the customer now matches and was not in, in plan order.
    pub entered: Vec<GroupId>,
    /// Groups the customer was in and no longer matches.
    pub left: Vec<GroupId>,
    /// The earliest instant at which time alone can change an answer; `None`: never.
    pub next_wake_at: Option<DateTime<Utc>>,
}

impl Delta {
    /// Whether no membership changes (the wake-up may still move).
    pub fn is_empty(&self) -> bool {
        self.entered.is_empty() && self.left.is_empty()
    }
}

impl Plan {
    /// Orders the groups; a cycle (which saving prevents) is an internal error.
    pub fn new(groups: Vec<DynamicGroup>) -> Result<Plan> {
        let graph: Vec<(GroupId, BTreeSet<GroupId>)> = groups
            .iter()
            .map(|g| (g.id.clone(), g.rule.referenced_groups()))
            .collect();
        let order = rules::dependency_order(&graph).map_err(|cycle| {
            DomainError::Internal(format!("stored groups reference each other in a cycle: {cycle:?}"))
        })?;
        let mut by_id: HashMap<GroupId, DynamicGroup> = groups.into_iter().map(|g| (g.id.clone(), g)).collect();
        let groups: Vec<DynamicGroup> = order.into_iter().filter_map(|id| by_id.remove(&id)).collect();
        let program = Program::new(groups.iter().map(|g| (Some(&g.id), &g.rule, &g.settings)));
        Ok(Plan {
            groups,
            program,
            tenant: crate::settings::TenantSettings::default(),
        })
    }

    /// The plan of a tenant's groups (static ones and groups being deleted are skipped by the caller).
    pub fn from_groups(groups: &[Group]) -> Result<Plan> {
        let mut dynamic = Vec::new();
        for g in groups.iter().filter(|g| g.kind == GroupKind::Dynamic) {
            if let Some(d) = &g.definition {
                dynamic.push(DynamicGroup {
                    id: g.id.clone(),
                    rule: d.rule.clone(),
                    settings: g.lifecycle_settings(),
                });
            }
        }
        Plan::new(dynamic)
    }

    /// The plan with the tenant's settings.
    pub fn with_tenant_settings(mut self, tenant: crate::settings::TenantSettings) -> Plan {
        self.tenant = tenant;
        self
    }

    /// The tenant's settings the pass applies.
    pub fn tenant_settings(&self) -> crate::settings::TenantSettings {
        self.tenant
    }

    /// Whether the tenant has no dynamic group to evaluate.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Number of dynamic groups in the plan.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// The groups in evaluation order: each after the groups it references.
    pub fn groups(&self) -> &[DynamicGroup] {
        &self.groups
    }

    /// Whether `id` is one of the plan's dynamic groups.
    pub fn contains(&self, id: &GroupId) -> bool {
        self.groups.iter().any(|g| &g.id == id)
    }

    /// Groups whose rules reference `id`, directly or through other groups.
    pub fn dependents_of(&self, id: &GroupId) -> BTreeSet<GroupId> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![id.clone()];
        while let Some(x) = frontier.pop() {
            for g in &self.groups {
                if g.rule.referenced_groups().contains(&x) && out.insert(g.id.clone()) {
                    frontier.push(g.id.clone());
                }
            }
        }
        out
    }

    /// Evaluates every group for the customer at `now`. A group sees the memberships decided earlier
    /// in the same pass, so dependent groups follow the groups they use at once.
    pub fn evaluate(&self, c: &Customer, now: DateTime<Utc>) -> Delta {
        let mut delta = Delta::default();
        delta.next_wake_at = self.program.pass(c, now, |i, answer, was| {
            if answer.matched != was {
                let id = self.groups[i].id.clone();
                if answer.matched {
                    delta.entered.push(id);
                } else {
                    delta.left.push(id);
                }
            }
        });
        delta
    }

    /// `evaluate` for many customers at once (a page of a resync shard): the same deltas, with the
    /// rules run over batches of customers, which is several times faster per customer.
    pub fn evaluate_many(&self, customers: &[Customer], now: DateTime<Utc>) -> Vec<Delta> {
        let mut deltas = vec![Delta::default(); customers.len()];
        let mut wakes = vec![None; customers.len()];
        self.program.pass_many(
            customers,
            now,
            |k, i, answer, was| {
                if answer.matched != was {
                    let id = self.groups[i].id.clone();
                    if answer.matched {
                        deltas[k].entered.push(id);
                    } else {
                        deltas[k].left.push(id);
                    }
                }
            },
            |k, t| wakes[k] = t,
        );
        for (d, t) in deltas.iter_mut().zip(wakes) {
            d.next_wake_at = t;
        }
        deltas
    }
}

/// The customer as it is after applying a delta (groups and next wake-up).
pub fn apply_delta(c: &Customer, d: &Delta) -> Customer {
    let mut next = c.clone();
    for g in &d.entered {
        next.groups.insert(g.clone());
    }
    for g in &d.left {
        next.groups.remove(g);
    }
    next.next_wake_at = d.next_wake_at;
    next
}
