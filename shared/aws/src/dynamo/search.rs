//! `CustomerRanges` on DynamoDB: reads of several customer partitions from an id, run at once (a search
//! round reads one chunk of each of the 16 partitions; in series that would be 16 round trips).

use super::items::CustomerItem;
use super::page::PartitionQuery;
use crate::keys;
use crate::Store;
use cg_domain::ids::TenantId;
use cg_domain::ports::{CustomerRanges, RangePage, RangeRead};
use cg_domain::{DomainError, Result};

impl Store {
    async fn read_range(&self, t: &TenantId, r: &RangeRead) -> Result<RangePage> {
        let mut q = PartitionQuery::new(keys::customer_pk_for_shard(t, r.shard))
            .beyond(r.after.as_ref().map(keys::customer_sk))
            .consistent();
        if let Some(n) = r.limit {
            q = q.limit(n);
        }
        if r.descending {
            q = q.newest_first();
        }
        let page = self.query_page::<CustomerItem>(&q, "customer").await?;
        Ok(RangePage {
            more: page.last_sk.is_some(),
            customers: page.items.into_iter().map(CustomerItem::into_customer).collect(),
        })
    }
}

impl CustomerRanges for Store {
    async fn read_ranges(&self, t: &TenantId, reads: &[RangeRead]) -> Result<Vec<RangePage>> {
        let mut set = tokio::task::JoinSet::new();
        for (i, r) in reads.iter().enumerate() {
            let (store, t, r) = (self.clone(), t.clone(), r.clone());
            set.spawn(async move { (i, store.read_range(&t, &r).await) });
        }
        let mut out = vec![RangePage::default(); reads.len()];
        while let Some(joined) = set.join_next().await {
            let (i, page) = joined.map_err(|e| DomainError::Internal(format!("partition read: {e}")))?;
            out[i] = page?;
        }
        Ok(out)
    }
}
