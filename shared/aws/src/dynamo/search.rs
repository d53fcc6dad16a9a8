//! `CustomerRanges` on DynamoDB: reads of several customer partitions from an id, run at once (a search
//! round reads one chunk of each of the 16 partitions; in series that would be 16 round trips).

use super::items::CustomerItem;
use super::page::PartitionQuery;
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use cg_domain::ids::TenantId;
use cg_domain::ports::{CustomerRanges, RangePage, RangeRead};
use cg_domain::{DomainError, Result};

/// The index of customers in creation order (template.yaml).
const CREATED_INDEX: &str = "CreatedIndex";

impl Store {
    /// A read of one partition in creation order from CreatedIndex (eventually consistent: a GSI
    /// cannot be read strongly).
    async fn read_created(&self, t: &TenantId, r: &RangeRead) -> Result<RangePage> {
        let pk = keys::customer_pk_for_shard(t, r.shard);
        let beyond = match (&r.after, r.after_created) {
            (Some(id), Some(at)) => Some(keys::created_sk(at, id)),
            _ => None,
        };
        let condition = match (&beyond, r.descending) {
            (None, _) => "created_pk = :pk",
            (Some(_), false) => "created_pk = :pk AND created_sk > :beyond",
            (Some(_), true) => "created_pk = :pk AND created_sk < :beyond",
        };
        let mut req = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name(CREATED_INDEX)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", super::s(&pk))
            .scan_index_forward(!r.descending)
            .set_limit(r.limit.map(|n| n as i32));
        if let Some(b) = beyond {
            req = req.expression_attribute_values(":beyond", super::s(b));
        }
        let resp = req.send().await.map_err(|e| from_sdk("dynamodb.Query", e))?;
        let customers = resp
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, CustomerItem>(item)
                    .map(CustomerItem::into_customer)
                    .map_err(|e| corrupt_item("customer", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RangePage {
            more: resp.last_evaluated_key.is_some(),
            customers,
        })
    }

    async fn read_range(&self, t: &TenantId, r: &RangeRead) -> Result<RangePage> {
        if r.by_created {
            return self.read_created(t, r).await;
        }
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
