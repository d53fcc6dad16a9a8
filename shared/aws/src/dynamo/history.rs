//! `HistoryLog` on DynamoDB: a group's entries and exits under `T#{t}#G#{g}#H`, sort key
//! `{time}#{customer}#E|L`, so a descending Query lists the newest first. The membership commit writes
//! them in the same transaction as the change.

use super::decode_cursor;
use super::items::HistoryItem;
use super::page::PartitionQuery;
use crate::keys;
use crate::Store;
use cg_domain::history::HistoryEntry;
use cg_domain::ids::{GroupId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::ports::HistoryLog;
use cg_domain::Result;

impl HistoryLog for Store {
    async fn list_history(&self, t: &TenantId, g: &GroupId, page: &PageRequest) -> Result<Page<HistoryEntry>> {
        let start = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let q = PartitionQuery::new(keys::history_pk(t, g))
            .after(start)
            .limit(page.limit)
            .newest_first();
        Ok(self
            .query_page::<HistoryItem>(&q, "history")
            .await?
            .into_page(HistoryItem::into_entry))
    }
}
