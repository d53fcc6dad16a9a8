//! `MembershipWriter` on DynamoDB. Each customer's change is written atomically: the customer item
//! (groups set, facts, wake-up keys) under its version, the member rows, history entries, event-id
//! markers, and the groups' counts. Many customers share one transaction (up to DynamoDB's 100 items),
//! and the count of each group changes by one aggregated ADD per transaction.

use super::items::{attr, HistoryItem, MemberItem};
use super::{build_err, key, n, MAX_TRANSACTION_ITEMS};
use crate::keys;
use crate::Store;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use cg_domain::customer::Customer;
use cg_domain::history::Change;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::ports::{Commit, CommitResult, MembershipCommit};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Days an ingested event id is remembered (a repeat within this window changes nothing).
pub const EVENT_ID_DAYS: i64 = 90;

/// What a transaction item stands for, to map a cancellation reason back to its commit.
#[derive(Debug, Clone)]
enum Role {
    Customer(usize),
    Event(usize, String),
    Other(usize),
    Group(GroupId),
}

/// One transaction's worth of a commit: the customer state to store and the changes written with it.
/// A commit with more changes than fit one transaction is split in parts, each moving the customer's
/// group set part of the way under the version written by the part before.
#[derive(Debug, Clone)]
struct Part {
    owner: usize,
    customer: Customer,
    expected_version: u64,
    entered: Vec<GroupId>,
    left: Vec<GroupId>,
    events: Vec<String>,
    /// The events' timeline entries, aligned with `events`.
    timeline: Vec<TimelineEntry>,
    reason: String,
}

impl Part {
    fn items(&self) -> usize {
        1 + 2 * self.events.len() + ITEMS_PER_CHANGE * (self.entered.len() + self.left.len())
    }
}

/// Items a membership change writes: the member row, the history entry and the timeline entry.
const ITEMS_PER_CHANGE: usize = 3;

#[derive(Serialize, Deserialize)]
struct EventItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    at: DateTime<Utc>,
    ttl: i64,
}

/// Changes per part: the customer plus three items and (at worst) one counter per change.
const CHANGES_PER_PART: usize = (MAX_TRANSACTION_ITEMS - 1) / (ITEMS_PER_CHANGE + 1);

/// Splits a commit so every part fits a transaction with room for the group counters; the last part
/// carries the facts and the event ids (callers send at most `MAX_EVENTS_PER_COMMIT` events per commit).
fn split(owner: usize, c: Commit) -> Vec<Part> {
    let reason = c.reason.describe();
    let mut changes: Vec<(GroupId, bool)> = c
        .entered
        .into_iter()
        .map(|g| (g, true))
        .chain(c.left.into_iter().map(|g| (g, false)))
        .collect();
    // Each event writes its id marker and its timeline entry.
    let last_room = (MAX_TRANSACTION_ITEMS - 1).saturating_sub(2 * c.events.len()) / (ITEMS_PER_CHANGE + 1);
    let mut parts = Vec::new();
    let mut state = c.before.clone();
    let mut version = c.before.version;
    while changes.len() > last_room {
        let take = CHANGES_PER_PART.min(changes.len() - last_room);
        let rest = changes.split_off(take);
        let chunk = std::mem::replace(&mut changes, rest);
        for (g, entered) in &chunk {
            if *entered {
                state.groups.insert(g.clone());
            } else {
                state.groups.remove(g);
            }
        }
        let mut customer = state.clone();
        customer.version = version + 1;
        parts.push(part(
            owner,
            customer,
            version,
            &chunk,
            (Vec::new(), Vec::new()),
            &reason,
        ));
        version += 1;
    }
    let mut customer = c.after;
    customer.version = version + 1;
    parts.push(part(
        owner,
        customer,
        version,
        &changes,
        (c.events, c.timeline),
        &reason,
    ));
    parts
}

fn part(
    owner: usize,
    customer: Customer,
    expected_version: u64,
    changes: &[(GroupId, bool)],
    (events, timeline): (Vec<String>, Vec<TimelineEntry>),
    reason: &str,
) -> Part {
    Part {
        owner,
        customer,
        expected_version,
        entered: changes.iter().filter(|x| x.1).map(|x| x.0.clone()).collect(),
        left: changes.iter().filter(|x| !x.1).map(|x| x.0.clone()).collect(),
        events,
        timeline,
        reason: reason.to_owned(),
    }
}

impl Store {
    fn customer_put(&self, t: &TenantId, c: &Customer, expected_version: u64) -> Result<TransactWriteItem> {
        let item = self.customer_item(t, c)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(attr::VERSION_IS)
            .expression_attribute_values(":v", n(expected_version))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn put_item<T: Serialize>(&self, item: T, condition: Option<&str>) -> Result<TransactWriteItem> {
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode item: {e}")))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The items of one part, with their roles.
    fn part_items(&self, t: &TenantId, p: &Part, now: DateTime<Utc>) -> Result<Vec<(TransactWriteItem, Role)>> {
        let mut out = Vec::with_capacity(p.items());
        out.push((
            self.customer_put(t, &p.customer, p.expected_version)?,
            Role::Customer(p.owner),
        ));
        let ttl_events = (now + Duration::days(EVENT_ID_DAYS)).timestamp();
        for e in &p.events {
            let item = EventItem {
                pk: keys::event_pk(t, e),
                sk: keys::EVENT_SK.into(),
                at: now,
                ttl: ttl_events,
            };
            out.push((
                self.put_item(item, Some(attr::IS_NEW))?,
                Role::Event(p.owner, e.clone()),
            ));
        }
        let c = &p.customer;
        // The events' timeline entries: keyed by the event, and written only with its new id marker.
        for e in &p.timeline {
            out.push((self.timeline_put(t, &c.id, e, now)?, Role::Other(p.owner)));
        }
        for (g, change) in p
            .entered
            .iter()
            .map(|g| (g, Change::Entered))
            .chain(p.left.iter().map(|g| (g, Change::Left)))
        {
            let row = match change {
                Change::Entered => self.put_item(MemberItem::new(t, g, c, now), None)?,
                Change::Left => TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key(keys::members_pk(t, g), keys::member_sk(&c.id))))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            };
            out.push((row, Role::Other(p.owner)));
            let history = HistoryItem::new(t, g, &c.id, c.email.as_ref(), change, &p.reason, now);
            out.push((self.put_item(history, None)?, Role::Other(p.owner)));
            let entry = TimelineEntry::group_change(g, change == Change::Entered, &p.reason, now);
            out.push((self.timeline_put(t, &c.id, &entry, now)?, Role::Other(p.owner)));
        }
        Ok(out)
    }

    /// Writes parts in one transaction, dropping those that fail and retrying the rest. Returns the
    /// failures by owner.
    async fn commit_batch(
        &self,
        t: &TenantId,
        parts: Vec<Part>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<usize, CommitResult>> {
        let mut failures: HashMap<usize, CommitResult> = HashMap::new();
        let mut live = parts;
        loop {
            live.retain(|p| !failures.contains_key(&p.owner));
            if live.is_empty() {
                return Ok(failures);
            }
            let mut items = Vec::new();
            let mut roles = Vec::new();
            let mut counts: BTreeMap<GroupId, i64> = BTreeMap::new();
            for p in &live {
                for (item, role) in self.part_items(t, p, now)? {
                    items.push(item);
                    roles.push(role);
                }
                for g in &p.entered {
                    *counts.entry(g.clone()).or_default() += 1;
                }
                for g in &p.left {
                    *counts.entry(g.clone()).or_default() -= 1;
                }
            }
            for (g, d) in counts.into_iter().filter(|(_, d)| *d != 0) {
                items.push(self.group_count_update(t, &g, d, true)?);
                roles.push(Role::Group(g));
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(failures),
                Err(failed) => {
                    let mut any = false;
                    for (role, _) in roles.iter().zip(&failed).filter(|(_, f)| **f) {
                        any = true;
                        match role {
                            Role::Customer(o) | Role::Other(o) => {
                                failures.entry(*o).or_insert(CommitResult::Stale);
                            }
                            Role::Event(o, id) => {
                                if let CommitResult::SeenEvents(ids) =
                                    failures.entry(*o).or_insert(CommitResult::SeenEvents(vec![]))
                                {
                                    ids.push(id.clone());
                                }
                            }
                            Role::Group(g) => {
                                // Every part that touches a vanished group must be redone with a fresh plan.
                                for p in live.iter().filter(|p| p.entered.contains(g) || p.left.contains(g)) {
                                    failures.insert(p.owner, CommitResult::GroupGone);
                                }
                            }
                        }
                    }
                    if !any {
                        return Err(DomainError::Internal("transaction cancelled without a reason".into()));
                    }
                }
            }
        }
    }
}

impl MembershipCommit for Store {
    async fn commit(&self, t: &TenantId, commits: Vec<Commit>, now: DateTime<Utc>) -> Result<Vec<CommitResult>> {
        let total = commits.len();
        // Parts in order; a commit's later parts go in later transactions than its earlier ones.
        let mut queues: Vec<Vec<Part>> = commits.into_iter().enumerate().map(|(i, c)| split(i, c)).collect();
        for q in &mut queues {
            q.reverse();
        }
        let mut results: Vec<CommitResult> = vec![CommitResult::Committed; total];
        loop {
            let mut batch: Vec<Part> = Vec::new();
            let mut used = 0usize;
            let mut groups: std::collections::BTreeSet<GroupId> = std::collections::BTreeSet::new();
            for q in queues.iter_mut() {
                let Some(p) = q.last() else { continue };
                if results[p.owner] != CommitResult::Committed {
                    q.clear();
                    continue;
                }
                let new_groups = p.entered.iter().chain(&p.left).filter(|g| !groups.contains(*g)).count();
                if used + p.items() + groups.len() + new_groups > MAX_TRANSACTION_ITEMS && !batch.is_empty() {
                    continue;
                }
                let p = q.pop().expect("checked above");
                used += p.items();
                groups.extend(p.entered.iter().chain(&p.left).cloned());
                batch.push(p);
            }
            if batch.is_empty() {
                return Ok(results);
            }
            for (owner, r) in self.commit_batch(t, batch, now).await? {
                results[owner] = r;
            }
        }
    }
}
