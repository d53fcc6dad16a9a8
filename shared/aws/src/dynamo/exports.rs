//! `ExportStore` on DynamoDB: export records under the tenant's partition (`T#{t}` / `X#{id}`). Only the
//! export job writes a record after it is created, and every such write is conditioned on `attempts`,
//! the fencing token a run takes when it claims the export.

use super::groups::is_condition_failure;
use super::page::{cursor_sk, PartitionQuery};
use super::{n, Item};
use crate::keys;
use crate::sdk_error::{corrupt_item, from_sdk};
use crate::Store;
use cg_domain::export::ports::ExportStore;
use cg_domain::export::{Export, ExportColumns, ExportFormat, ExportScope, ExportStatus};
use cg_domain::ids::{ExportId, FilterId, GroupId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::{DomainError, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct ExportItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    id: ExportId,
    scope: ExportScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_id: Option<GroupId>,
    format: ExportFormat,
    bom: bool,
    #[serde(default)]
    columns: ExportColumns,
    /// The filter as JSON text: its shape is the domain's, and text keeps it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter_json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter_id: Option<FilterId>,
    url_expires_in: u32,
    status: ExportStatus,
    rows_written: u64,
    bytes_written: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_rows: Option<u64>,
    file_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    attempts: u32,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
}

impl ExportItem {
    fn new(t: &TenantId, e: &Export) -> Self {
        ExportItem {
            pk: keys::tenant_pk(t),
            sk: keys::export_sk(&e.id),
            id: e.id.clone(),
            scope: e.scope,
            group_id: e.group_id.clone(),
            format: e.format,
            bom: e.bom,
            columns: e.columns,
            filter_json: e.filter.as_ref().map(|f| f.to_string()),
            filter_id: e.filter_id.clone(),
            url_expires_in: e.url_expires_in,
            status: e.status,
            rows_written: e.rows_written,
            bytes_written: e.bytes_written,
            expected_rows: e.expected_rows,
            file_name: e.file_name.clone(),
            failure_reason: e.failure_reason.clone(),
            attempts: e.attempts,
            created_at: e.created_at,
            started_at: e.started_at,
            finished_at: e.finished_at,
            upload_id: e.upload_id.clone(),
        }
    }

    fn into_export(self) -> Result<Export> {
        let filter = match &self.filter_json {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                DomainError::Internal(format!("stored filter of export {} does not parse: {e}", self.id))
            })?),
            None => None,
        };
        Ok(Export {
            id: self.id,
            scope: self.scope,
            group_id: self.group_id,
            format: self.format,
            bom: self.bom,
            columns: self.columns,
            filter,
            filter_id: self.filter_id,
            url_expires_in: self.url_expires_in,
            status: self.status,
            rows_written: self.rows_written,
            bytes_written: self.bytes_written,
            expected_rows: self.expected_rows,
            file_name: self.file_name,
            failure_reason: self.failure_reason,
            attempts: self.attempts,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            upload_id: self.upload_id,
        })
    }
}

fn encode(t: &TenantId, e: &Export) -> Result<Item> {
    serde_dynamo::to_item(ExportItem::new(t, e)).map_err(|err| DomainError::Internal(format!("encode export: {err}")))
}

fn decode(item: Item) -> Result<Export> {
    serde_dynamo::from_item::<_, ExportItem>(item)
        .map_err(|e| corrupt_item("export", e))?
        .into_export()
}

impl ExportStore for Store {
    async fn create_export(&self, t: &TenantId, e: &Export) -> Result<()> {
        self.create_item("export", encode(t, e)?).await
    }

    async fn get_export(&self, t: &TenantId, id: &ExportId) -> Result<Option<Export>> {
        let item = self.get_consistent(keys::tenant_pk(t), keys::export_sk(id)).await?;
        item.map(decode).transpose()
    }

    async fn list_exports(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Export>> {
        let start = cursor_sk(page.cursor.as_deref(), keys::EXPORT_SK_PREFIX, |id| {
            ExportId::parse(id).is_ok()
        })?;
        // Export ids are UUID v7, so descending sort keys list the newest first.
        let q = PartitionQuery::new(keys::tenant_pk(t))
            .prefix(keys::EXPORT_SK_PREFIX)
            .after(start)
            .limit(page.limit)
            .newest_first();
        let page = self
            .query_page::<ExportItem>(&q, "export")
            .await?
            .into_page(ExportItem::into_export);
        let items = page.items.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    async fn save_export(&self, t: &TenantId, e: &Export, expected_attempts: u32) -> Result<bool> {
        let resp = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(t, e)?))
            .condition_expression("attempts = :expected")
            .expression_attribute_values(":expected", n(expected_attempts))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(err) if is_condition_failure(&err) => Ok(false),
            Err(err) => Err(from_sdk("dynamodb.PutItem", err)),
        }
    }
}
