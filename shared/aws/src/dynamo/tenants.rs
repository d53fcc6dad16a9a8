//! `TenantRegistry` on DynamoDB: one small item per tenant under a fixed partition.

use super::page::PartitionQuery;
use super::{key, s};
use crate::keys;
use crate::sdk_error::from_sdk;
use crate::Store;
use cg_domain::ids::TenantId;
use cg_domain::ports::TenantRegistry;
use cg_domain::Result;

impl TenantRegistry for Store {
    async fn register_tenant(&self, t: &TenantId) -> Result<()> {
        let known = |set: &std::collections::HashSet<TenantId>| set.contains(t);
        if self.registered.lock().map(|s| known(&s)).unwrap_or(false) {
            return Ok(());
        }
        let mut item = key(keys::TENANTS_PK.into(), keys::tenant_registry_sk(t));
        item.insert("tenant".into(), s(t.as_str()));
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.PutItem", e))?;
        if let Ok(mut set) = self.registered.lock() {
            set.insert(t.clone());
        }
        Ok(())
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let q = PartitionQuery::new(keys::TENANTS_PK.into()).after(start.take());
            let page = self.query_page::<TenantItem>(&q, "tenant registry").await?;
            out.extend(page.items.into_iter().map(|i| i.tenant));
            match page.last_sk {
                Some(sk) => start = Some(sk),
                None => return Ok(out),
            }
        }
    }
}

/// A registry entry.
#[derive(serde::Deserialize)]
struct TenantItem {
    tenant: TenantId,
}
