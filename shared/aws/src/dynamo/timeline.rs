//! `TimelineStore` on DynamoDB. A customer's entries live in `T#{t}#TL#{customer}` under
//! `{time}#{source}#{id}` (a descending Query lists the newest first); each carries a TTL of
//! [`RETENTION_DAYS`] from when it was recorded. Messages and manual events with an id are written
//! with an idempotency marker (`attribute_not_exists`) in one transaction, 50 pairs per transaction;
//! the other entries are written by the transactions of the changes they record (see
//! [`Store::timeline_put`]).

use super::items::attr;
use super::page::PartitionQuery;
use super::{build_err, decode_cursor, encode_cursor, s, Item, MAX_TRANSACTION_ITEMS};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::corrupt_item;
use crate::Store;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use cg_domain::ids::{CustomerId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::timeline::ports::{NewEntry, OnceKey, TimelineStore};
use cg_domain::timeline::query::TimelineFilter;
use cg_domain::timeline::{Communication, Source, TimelineEntry, RETENTION_DAYS};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Query rounds one list request may spend looking for matches of a filter before it returns a
/// shorter page with a cursor.
const MAX_ROUNDS: usize = 8;

/// A timeline entry as stored (and, under a marker's key, the copy a marker keeps).
#[derive(Debug, Serialize, Deserialize)]
struct TimelineItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: String,
    entry_type: String,
    source: Source,
    at: DateTime<Utc>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    communication: Option<Communication>,
    recorded_at: DateTime<Utc>,
    ttl: i64,
}

impl TimelineItem {
    fn new(pk: String, sk: String, e: &TimelineEntry, now: DateTime<Utc>) -> TimelineItem {
        TimelineItem {
            pk,
            sk,
            id: e.id.clone(),
            entry_type: e.entry_type.clone(),
            source: e.source,
            at: e.at,
            properties: e.properties.clone(),
            communication: e.communication.clone(),
            recorded_at: now,
            ttl: (now + Duration::days(RETENTION_DAYS)).timestamp(),
        }
    }

    fn into_entry(self) -> TimelineEntry {
        TimelineEntry {
            id: self.id,
            entry_type: self.entry_type,
            source: self.source,
            at: self.at,
            properties: self.properties,
            communication: self.communication,
        }
    }
}

fn encode(item: TimelineItem) -> Result<Item> {
    serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode timeline entry: {e}")))
}

impl Store {
    /// The put of a customer's timeline entry, for the transaction of the change it records. Its key
    /// is derived from the entry (time, source, id), so writing it again overwrites, never duplicates.
    pub(crate) fn timeline_put(
        &self,
        t: &TenantId,
        c: &CustomerId,
        e: &TimelineEntry,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem> {
        let item = TimelineItem::new(
            keys::timeline_pk(t, c),
            keys::timeline_sk(e.at, e.source, &e.id),
            e,
            now,
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(encode(item)?))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn marker_put(&self, t: &TenantId, w: &NewEntry, now: DateTime<Utc>) -> Result<TransactWriteItem> {
        let pk = match &w.once {
            OnceKey::Message(id) => keys::message_marker_pk(t, id),
            OnceKey::Manual(id) => keys::manual_marker_pk(t, &w.customer, id),
        };
        let item = TimelineItem::new(pk, keys::TIMELINE_MARKER_SK.into(), &w.entry, now);
        put_new(&self.table, encode(item)?)
    }
}

/// The filter expression of a list (`None`: every entry).
fn filter_expression(f: &TimelineFilter) -> Option<(String, Vec<(String, AttributeValue)>)> {
    if let Some(p) = &f.type_prefix {
        return Some((attr::ENTRY_TYPE_PREFIX.to_owned(), vec![(":tp".to_owned(), s(p))]));
    }
    if f.types.is_empty() {
        return None;
    }
    let names: Vec<String> = (0..f.types.len()).map(|i| format!(":t{i}")).collect();
    let expression = format!("{} IN ({})", attr::ENTRY_TYPE, names.join(", "));
    let values = names.into_iter().zip(f.types.iter().map(s)).collect();
    Some((expression, values))
}

impl TimelineStore for Store {
    async fn record_entries(&self, t: &TenantId, entries: &[NewEntry]) -> Result<Vec<bool>> {
        let now = self.clock.now();
        let mut fresh = vec![true; entries.len()];
        let per_transaction = MAX_TRANSACTION_ITEMS / 2;
        let positions: Vec<usize> = (0..entries.len()).collect();
        for chunk in positions.chunks(per_transaction) {
            let mut live: Vec<usize> = chunk.to_vec();
            while !live.is_empty() {
                let mut items = Vec::with_capacity(2 * live.len());
                for &i in &live {
                    let w = &entries[i];
                    items.push(self.marker_put(t, w, now)?);
                    items.push(self.timeline_put(t, &w.customer, &w.entry, now)?);
                }
                match self.transact(items).await? {
                    Ok(()) => break,
                    Err(failed) => {
                        // A marker that exists: that entry was recorded before; write the others.
                        let (seen, rest): (Vec<usize>, Vec<usize>) = live
                            .iter()
                            .enumerate()
                            .map(|(k, &i)| (i, failed.get(2 * k).copied().unwrap_or(false)))
                            .fold((Vec::new(), Vec::new()), |(mut seen, mut rest), (i, f)| {
                                if f {
                                    seen.push(i);
                                } else {
                                    rest.push(i);
                                }
                                (seen, rest)
                            });
                        if seen.is_empty() {
                            return Err(DomainError::Internal(
                                "timeline transaction cancelled without a reason".into(),
                            ));
                        }
                        for i in seen {
                            fresh[i] = false;
                        }
                        live = rest;
                    }
                }
            }
        }
        Ok(fresh)
    }

    async fn manual_entry(&self, t: &TenantId, c: &CustomerId, event_id: &str) -> Result<Option<TimelineEntry>> {
        let item = self
            .get_consistent(keys::manual_marker_pk(t, c, event_id), keys::TIMELINE_MARKER_SK)
            .await?;
        item.map(|i| {
            serde_dynamo::from_item::<_, TimelineItem>(i)
                .map(TimelineItem::into_entry)
                .map_err(|e| corrupt_item("timeline marker", e))
        })
        .transpose()
    }

    async fn list_entries(
        &self,
        t: &TenantId,
        c: &CustomerId,
        filter: &TimelineFilter,
        page: &PageRequest,
    ) -> Result<Page<TimelineEntry>> {
        let (lo, mut bound) = keys::timeline_range(filter.from, filter.to);
        // The cursor is the sort key of the last entry returned; the next page reads below it. It is
        // used as the inclusive upper bound of the key condition (its own item skipped), never as
        // ExclusiveStartKey, which DynamoDB refuses outside the key condition: any position is then
        // safe, it only narrows the range within this customer's partition.
        let mut skip: Option<String> = None;
        if let Some(a) = page.cursor.as_deref().map(decode_cursor).transpose()? {
            if a < bound {
                bound = a.clone();
            }
            skip = Some(a);
        }
        let limit = page.limit as usize;
        let mut items: Vec<TimelineEntry> = Vec::with_capacity(limit);
        let mut last_returned: Option<String> = None;
        let mut resume: Option<String> = None;
        let mut exhausted = false;
        for _ in 0..MAX_ROUNDS {
            if lo > bound {
                exhausted = true;
                break;
            }
            let want = (limit - items.len()) as u32 + u32::from(skip.is_some());
            let mut q = PartitionQuery::new(keys::timeline_pk(t, c))
                .between(lo.clone(), bound.clone())
                .limit(want)
                .newest_first();
            if let Some((expression, values)) = filter_expression(filter) {
                q = q.filter(expression, values);
            }
            let got = self.query_items(&q).await?;
            for item in got.items {
                if items.len() == limit {
                    break;
                }
                let decoded: TimelineItem =
                    serde_dynamo::from_item(item).map_err(|e| corrupt_item("timeline entry", e))?;
                if skip.as_deref() == Some(decoded.sk.as_str()) {
                    continue;
                }
                last_returned = Some(decoded.sk.clone());
                items.push(decoded.into_entry());
            }
            if items.len() == limit {
                break;
            }
            match got.last_sk {
                // Read on below the last key evaluated (it was read: skip it).
                Some(sk) => {
                    bound = sk.clone();
                    resume = Some(sk.clone());
                    skip = Some(sk);
                }
                None => {
                    exhausted = true;
                    break;
                }
            }
        }
        let next = if exhausted {
            None
        } else if items.len() == limit {
            last_returned
        } else {
            // Out of rounds with a short page: resume where reading stopped.
            resume.or(last_returned)
        };
        Ok(Page {
            items,
            next_cursor: next.as_deref().map(encode_cursor),
        })
    }
}
