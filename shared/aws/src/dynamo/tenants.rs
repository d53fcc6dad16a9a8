//! `TenantRegistry` on DynamoDB: one small item per tenant under a fixed partition.

use super::{key, s};
use crate::keys;
use crate::sdk_error::from_sdk;
use crate::Store;
use cg_domain::ids::TenantId;
use cg_domain::ports::TenantRegistry;
use cg_domain::{DomainError, Result};

impl TenantRegistry for Store {
    async fn register_tenant(&self, t: &TenantId) -> Result<()> {
        let mut item = key(keys::TENANTS_PK.into(), keys::tenant_registry_sk(t));
        item.insert("tenant".into(), s(t.as_str()));
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb.PutItem", e))?;
        Ok(())
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>> {
        let mut out = Vec::new();
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::TENANTS_PK))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| from_sdk("dynamodb.Query", e))?;
            let tenant = item
                .get("tenant")
                .and_then(|v| v.as_s().ok())
                .and_then(|v| TenantId::parse(v).ok())
                .ok_or_else(|| DomainError::Internal("malformed tenant registry item".into()))?;
            out.push(tenant);
        }
        Ok(out)
    }
}
