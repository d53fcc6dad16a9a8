//! The walk of a bulk action's target, one step at a time (a partition page of a filter, a page of a
//! group's member ids, or a slice of an id list), and how a step's customers pack into full commits.
//! Part of the bulk modify and delete jobs (`bulk_action_job`).

use crate::balance::ports::BalanceStore;
use crate::bulk::action::Position;
use crate::bulk::action_ports::delete_items;
use crate::bulk::ports::MAX_BATCH_ITEMS;
use crate::customer::Customer;
use crate::error::Result;
use crate::ids::{CustomerId, GroupId, TenantId};
use crate::ports::{CustomerRanges, CustomerStore, RangeRead, Shards};
use crate::rules::Program;
use crate::search::target::TargetSpec;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Customers read per step of the walk of a group's member ids or a list of ids (BatchGetItem's 100).
pub const WALK_PAGE: u32 = 100;
/// Customers read per step of a filter's walk of a partition: one Query (a few hundred KB of typical
/// customers, under the 1 MB page), a few full commits.
pub const FILTER_PAGE: u32 = 1000;

/// One step of the walk: the customers read in order (each with the position after it) and the
/// position after the whole step.
pub(crate) struct Step {
    pub(crate) slots: Vec<(Position, Slot)>,
    pub(crate) end: Position,
    /// The step ends a partition or the target (its last batch is committed even if not full).
    pub(crate) boundary: bool,
}

/// One customer of a step (built and consumed per step, so the variants' sizes matter little).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Slot {
    Match(Customer),
    Missing(CustomerId),
    Skip,
}

pub(crate) async fn step<S: CustomerRanges + Shards + CustomerStore + BalanceStore>(
    store: &S,
    t: &TenantId,
    target: &TargetSpec,
    program: Option<&Program>,
    pos: &Position,
    now: DateTime<Utc>,
) -> Result<Step> {
    let mut slots = Vec::new();
    match target {
        TargetSpec::Filter { .. } => {
            let read = RangeRead {
                shard: pos.shard,
                after: pos.after.clone(),
                limit: Some(FILTER_PAGE),
                descending: false,
                by_created: false,
                after_created: None,
            };
            let page = store
                .read_ranges(t, std::slice::from_ref(&read))
                .await?
                .pop()
                .unwrap_or_default();
            let mut matched = Vec::new();
            let mut changes = Vec::new();
            if let Some(p) = program {
                p.matches_many(&page.customers, now, &mut matched, &mut changes);
            }
            for (i, c) in page.customers.into_iter().enumerate() {
                let at = Position {
                    shard: pos.shard,
                    after: Some(c.id.clone()),
                    ..Position::default()
                };
                let hit = matched.get(i).copied().unwrap_or(false);
                slots.push((at, if hit { Slot::Match(c) } else { Slot::Skip }));
            }
            let end = if page.more {
                slots.last().map(|(p, _)| p.clone()).unwrap_or_else(|| pos.clone())
            } else {
                let shard = pos.shard + 1;
                Position {
                    shard,
                    after: None,
                    index: 0,
                    exhausted: shard >= store.customer_shards(),
                }
            };
            Ok(Step {
                slots,
                end,
                boundary: !page.more,
            })
        }
        TargetSpec::Group { group_id } => {
            let (ids, more) = store.member_ids(t, group_id, pos.after.as_ref(), WALK_PAGE).await?;
            let customers = store.get_customers(t, &ids).await?;
            for id in &ids {
                let at = Position {
                    after: Some(id.clone()),
                    ..Position::default()
                };
                // A member deleted since its row was listed is simply not there any more.
                let slot = match customers.iter().find(|c| &c.id == id) {
                    Some(c) => Slot::Match(c.clone()),
                    None => Slot::Skip,
                };
                slots.push((at, slot));
            }
            let mut end = slots.last().map(|(p, _)| p.clone()).unwrap_or_else(|| pos.clone());
            end.exhausted = !more || ids.is_empty();
            let boundary = end.exhausted;
            Ok(Step { slots, end, boundary })
        }
        TargetSpec::Ids { ids } => {
            let start = pos.index as usize;
            let chunk: Vec<CustomerId> = ids.iter().skip(start).take(WALK_PAGE as usize).cloned().collect();
            let customers = store.get_customers(t, &chunk).await?;
            for (i, id) in chunk.iter().enumerate() {
                let at = Position {
                    index: (start + i + 1) as u64,
                    ..Position::default()
                };
                let slot = match customers.iter().find(|c| &c.id == id) {
                    Some(c) => Slot::Match(c.clone()),
                    None => Slot::Missing(id.clone()),
                };
                slots.push((at, slot));
            }
            let index = (start + chunk.len()) as u64;
            let end = Position {
                index,
                exhausted: index as usize >= ids.len(),
                ..Position::default()
            };
            let boundary = end.exhausted;
            Ok(Step { slots, end, boundary })
        }
    }
}

/// The items a batch of a step will write: the record, then per customer what its commit takes.
pub(crate) struct Pack {
    pub(crate) items: usize,
    /// Groups whose count the batch already updates (a delete's count item is shared per group).
    groups: BTreeSet<GroupId>,
}

impl Default for Pack {
    fn default() -> Self {
        Pack {
            items: 1,
            groups: BTreeSet::new(),
        }
    }
}

impl Pack {
    /// What adding the slot costs: a modify writes the customer and its timeline entry; a delete
    /// removes the customer, its identity items and per group its member row (with a history entry),
    /// plus each group's count once per batch; a missing id writes a failed row. A customer too big
    /// for any batch is a failed row.
    pub(crate) fn cost(&self, slot: &Slot, deleting: bool) -> usize {
        match slot {
            Slot::Match(c) if deleting && delete_items(c) > MAX_BATCH_ITEMS - 2 => 1,
            Slot::Match(c) if deleting => {
                let new_groups = c.groups.iter().filter(|g| !self.groups.contains(g)).count();
                1 + c.identities().len() + 2 * c.groups.len() + new_groups
            }
            Slot::Match(_) => 2,
            Slot::Missing(_) => 1,
            Slot::Skip => 0,
        }
    }

    pub(crate) fn add(&mut self, slot: &Slot, deleting: bool) {
        self.items += self.cost(slot, deleting);
        if let (Slot::Match(c), true) = (slot, deleting) {
            self.groups.extend(c.groups.iter().cloned());
        }
    }
}
