//! Every DynamoDB key string is built here and nowhere else. All keys start with the tenant, and ids
//! cannot contain `#`, so no id can address another tenant's or another entity's items.

use cg_domain::balance::{IdempotencyKey, Operation};
use cg_domain::bulk::BulkKind;
use cg_domain::customer::Identity;
use cg_domain::export::file_name::ascii_file_name;
use cg_domain::ids::{
    BulkJobId, CustomerId, DeliveryId, ExportId, FilterId, GroupId, IntegrationId, JobId, MappingId, TenantId,
    WebhookId,
};
use chrono::{DateTime, SecondsFormat, Utc};

/// Partitions a tenant's customers are spread over, so a full resync fans out to this many workers.
pub const CUSTOMER_SHARDS: u32 = 16;
/// Sort key of an identity item, which maps a unique email, phone or external id to its customer.
pub const IDENTITY_SK: &str = "ID";
/// Partition key of the tenant registry: one item per tenant that has data.
pub const TENANTS_PK: &str = "TENANTS";
/// Sort-key prefix of group items in the tenant partition.
pub const GROUP_SK_PREFIX: &str = "G#";
/// The tenant's settings item, in the tenant partition. `G` sorts just before every `G#{id}`, so one
/// Query `begins_with(SK, "G")` reads the settings and the groups together (the membership pass's plan).
pub const SETTINGS_SK: &str = "G";
/// Sort-key prefix of customer items and of member rows.
pub const CUSTOMER_SK_PREFIX: &str = "C#";

/// Stable shard of a customer id (FNV-1a, so it never changes between builds or platforms).
pub fn shard_of(id: &CustomerId) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(CUSTOMER_SHARDS)) as u32
}

/// Partition key of one of a tenant's customer shards: `T#<tenant>#CS#<two-digit shard>`.
pub fn customer_pk_for_shard(t: &TenantId, shard: u32) -> String {
    format!("T#{t}#CS#{shard:02}")
}

/// Partition key of a customer item: the shard its id hashes to.
pub fn customer_pk(t: &TenantId, id: &CustomerId) -> String {
    customer_pk_for_shard(t, shard_of(id))
}

/// Sort key of a customer item: `C#<customer id>`.
pub fn customer_sk(id: &CustomerId) -> String {
    format!("{CUSTOMER_SK_PREFIX}{id}")
}

/// Partition key of an identity item: one per email, phone or external id, so each stays unique.
pub fn identity_pk(t: &TenantId, identity: &Identity) -> String {
    match identity {
        Identity::Email(e) => format!("T#{t}#EMAIL#{e}"),
        Identity::Phone(p) => format!("T#{t}#PHONE#{p}"),
        Identity::External(x) => format!("T#{t}#EXT#{x}"),
    }
}

/// The tenant partition: its groups, resync jobs and export records (`T#<tenant>`).
pub fn tenant_pk(t: &TenantId) -> String {
    format!("T#{t}")
}

/// Sort key of a group item in the tenant partition: `G#<group id>`.
pub fn group_sk(g: &GroupId) -> String {
    format!("{GROUP_SK_PREFIX}{g}")
}

/// Sort-key prefix of saved filters.
pub const FILTER_SK_PREFIX: &str = "F#";

/// Partition of a tenant's saved filters (its own, so the plan's Query of the tenant partition never
/// reads them): `T#<tenant>#F`.
pub fn filters_pk(t: &TenantId) -> String {
    format!("T#{t}#F")
}

/// Sort key of a saved filter: `F#<filter id>` (time-ordered ids: creation order).
pub fn filter_sk(f: &FilterId) -> String {
    format!("{FILTER_SK_PREFIX}{f}")
}

/// Partition key of a group's member rows, so a member list or export is one Query.
pub fn members_pk(t: &TenantId, g: &GroupId) -> String {
    format!("T#{t}#G#{g}")
}

/// Sort key of a member row: `C#<customer id>`, so members list in customer id order.
pub fn member_sk(c: &CustomerId) -> String {
    format!("{CUSTOMER_SK_PREFIX}{c}")
}

/// Sort key of a tenant's entry in the [`TENANTS_PK`] partition.
pub fn tenant_registry_sk(t: &TenantId) -> String {
    format!("T#{t}")
}

/// Partition key of a group's membership history entries.
pub fn history_pk(t: &TenantId, g: &GroupId) -> String {
    format!("T#{t}#G#{g}#H")
}

/// Sort key of a history entry: `{time}#{customer}#E|L`, so a descending Query lists the newest first.
pub fn history_sk(at: DateTime<Utc>, c: &CustomerId, entered: bool) -> String {
    let stamp = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    format!("{stamp}#{c}#{}", if entered { "E" } else { "L" })
}

/// The tenant and group of a history partition key (`T#{t}#G#{g}#H`), as the change stream reads it.
pub fn parse_history_pk(pk: &str) -> Option<(TenantId, GroupId)> {
    let rest = pk.strip_prefix("T#")?.strip_suffix("#H")?;
    let (t, g) = rest.split_once("#G#")?;
    Some((TenantId::parse(t).ok()?, GroupId::parse(g).ok()?))
}

/// Partition key of an ingested event id's record (kept 90 days), which makes ingestion idempotent.
pub fn event_pk(t: &TenantId, event_id: &str) -> String {
    format!("T#{t}#EV#{event_id}")
}

/// Sort key of an event id's record.
pub const EVENT_SK: &str = "EV";
/// Sort-key prefix of resync job items in the tenant partition.
pub const JOB_SK_PREFIX: &str = "J#";
/// The tenant's resync slot: the id of its queued (not yet started) resync, which new requests join.
pub const RESYNC_SLOT_SK: &str = "RSQ";

/// Sort key of a resync job item: `J#<job id>`.
pub fn job_sk(id: &JobId) -> String {
    format!("{JOB_SK_PREFIX}{id}")
}

/// WakeIndex partition for a customer shard. The index is global (the scheduler serves every tenant);
/// spreading it over the customer shards keeps each partition's write rate low.
pub fn wake_pk_for_shard(shard: u32) -> String {
    format!("WAKE#{shard:02}")
}

/// WakeIndex keys of a customer due at `at`: the sort key starts with the instant (fixed-width UTC,
/// so string order is time order) and a Query `wake_sk <= now` finds every due customer.
pub fn wake_keys(t: &TenantId, c: &CustomerId, at: DateTime<Utc>) -> (String, String) {
    (wake_pk_for_shard(shard_of(c)), format!("{}#{t}#{c}", wake_instant(at)))
}

/// The sort-key prefix of an instant: `2026-11-24T10:00:00Z`.
pub fn wake_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sort-key prefix of export records in the tenant partition.
pub const EXPORT_SK_PREFIX: &str = "X#";

/// An export record lives in the tenant's partition beside its groups.
pub fn export_sk(id: &ExportId) -> String {
    format!("{EXPORT_SK_PREFIX}{id}")
}

/// The folder of one export's file: the tenant first, then the export's unguessable id.
pub fn export_object_prefix(t: &TenantId, id: &ExportId) -> String {
    format!("{t}/exports/{id}/")
}

/// The S3 key of an export's file (ASCII name; the Unicode name travels in the download's headers).
pub fn export_object_key(t: &TenantId, id: &ExportId, file_name: &str) -> String {
    format!("{}{}", export_object_prefix(t, id), ascii_file_name(file_name))
}

/// Partition of a tenant's destinations (issue 16): webhook endpoints `W#{id}`, integrations `I#{id}`
/// and mappings `M#{integration}#{mapping}`, so the dispatcher reads all of them with one Query.
pub fn destinations_pk(t: &TenantId) -> String {
    format!("T#{t}#DEST")
}

/// Sort-key prefix of webhook endpoints in the destinations partition.
pub const WEBHOOK_SK_PREFIX: &str = "W#";
/// Sort-key prefix of integrations in the destinations partition.
pub const INTEGRATION_SK_PREFIX: &str = "I#";
/// Sort-key prefix of mappings in the destinations partition.
pub const MAPPING_SK_PREFIX: &str = "M#";

/// Sort key of a webhook endpoint.
pub fn webhook_sk(id: &WebhookId) -> String {
    format!("{WEBHOOK_SK_PREFIX}{id}")
}

/// Sort key of an integration.
pub fn integration_sk(id: &IntegrationId) -> String {
    format!("{INTEGRATION_SK_PREFIX}{id}")
}

/// Sort-key prefix of one integration's mappings.
pub fn mappings_prefix(i: &IntegrationId) -> String {
    format!("{MAPPING_SK_PREFIX}{i}#")
}

/// Sort key of a mapping.
pub fn mapping_sk(i: &IntegrationId, id: &MappingId) -> String {
    format!("{}{id}", mappings_prefix(i))
}

/// Partition of an endpoint's messages (the delivery log), newest first by id.
pub fn deliveries_pk(t: &TenantId, w: &WebhookId) -> String {
    format!("T#{t}#WH#{w}#D")
}

/// Sort key of a message in the delivery log: its id (`msg_` + time + hash, so newest sorts last).
pub fn delivery_sk(id: &DeliveryId) -> String {
    id.to_string()
}

/// Sort-key prefix of messages (every message id starts with it).
pub const DELIVERY_SK_PREFIX: &str = "msg_";

/// Partition of an endpoint's dispatch cursors.
pub fn cursors_pk(t: &TenantId, w: &WebhookId) -> String {
    format!("T#{t}#WH#{w}#CUR")
}

/// Sort key of the cursor of one group's changes of one type.
pub fn cursor_sk(g: &GroupId, event_type: &str) -> String {
    format!("{g}#{event_type}")
}

/// Partition of a tenant's notifications (job ends for the change stream).
pub fn notifications_pk(t: &TenantId) -> String {
    format!("T#{t}#NOTE")
}

/// The tenant of a notification partition key.
pub fn parse_notifications_pk(pk: &str) -> Option<TenantId> {
    TenantId::parse(pk.strip_prefix("T#")?.strip_suffix("#NOTE")?).ok()
}

/// Partitions of the sweep's view of pending deliveries in the WakeIndex (beside the customers'
/// `WAKE#` partitions, which the wake-up never reads).
pub const DELIVERY_WAKE_PARTITIONS: u32 = 4;

/// WakeIndex keys of a pending delivery due at `at`: `DLV#{n}` / `{instant}#{tenant}#{webhook}#{id}`.
pub fn delivery_wake_keys(t: &TenantId, w: &WebhookId, id: &DeliveryId, at: DateTime<Utc>) -> (String, String) {
    let mut hash: u32 = 0x811c_9dc5;
    for b in w.as_str().bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (
        delivery_wake_pk(hash % DELIVERY_WAKE_PARTITIONS),
        format!("{}#{t}#{w}#{id}", wake_instant(at)),
    )
}

/// WakeIndex partition `n` of pending deliveries.
pub fn delivery_wake_pk(n: u32) -> String {
    format!("DLV#{n:02}")
}

/// Tenant, endpoint and message of a delivery's WakeIndex sort key.
pub fn parse_delivery_wake_sk(sk: &str) -> Option<(TenantId, WebhookId, DeliveryId)> {
    let mut parts = sk.splitn(4, '#');
    let (_, t, w, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((
        TenantId::parse(t).ok()?,
        WebhookId::parse(w).ok()?,
        DeliveryId::parse(id).ok()?,
    ))
}

/// Sort-key prefix of a kind's bulk job records in the tenant partition: `B#import#`.
pub fn bulk_sk_prefix(kind: BulkKind) -> String {
    format!("B#{}#", kind.as_str())
}

/// Sort key of a bulk job record: `B#<kind>#<job id>` (ids are UUID v7: newest last).
pub fn bulk_sk(kind: BulkKind, id: &BulkJobId) -> String {
    format!("{}{id}", bulk_sk_prefix(kind))
}

/// Partition key of a bulk job's failed rows: `T#<tenant>#B#<job id>#F`.
pub fn bulk_rows_pk(t: &TenantId, id: &BulkJobId) -> String {
    format!("T#{t}#B#{id}#F")
}

/// Sort key of a failed row: the row number, zero-padded so string order is row order.
pub fn bulk_row_sk(row: u64) -> String {
    format!("R#{row:010}")
}

/// Partition key of a customer's balance ledger: `T#<tenant>#BAL#<customer id>` (entries are items of
/// their own, so the customer item holds only the balances).
pub fn ledger_pk(t: &TenantId, c: &CustomerId) -> String {
    format!("T#{t}#BAL#{c}")
}

/// Sort-key prefix of ledger entries.
pub const LEDGER_SK_PREFIX: &str = "E#";

/// Sort key of a ledger entry: `E#<customer created_at, nanoseconds>#<customer version after the
/// change, 20 digits>`. The version is written under the condition that it is the next one, so the
/// keys are in commit order (a descending Query lists the newest first) and never collide; the
/// creation instant keeps a customer re-created under the same id from colliding with its
/// predecessor's entries.
pub fn ledger_sk(customer_created_at: DateTime<Utc>, version: u64) -> String {
    format!(
        "{LEDGER_SK_PREFIX}{}#{version:020}",
        customer_created_at.to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

/// Partition key of an operation's markers, one per customer it changed:
/// `T#<tenant>#BOP#<kind>#<operation id>` (sort key: the customer's `C#<id>`).
pub fn balance_marker_pk(t: &TenantId, op: &Operation) -> String {
    format!("T#{t}#BOP#{}#{}", op.kind.as_str(), op.id)
}

/// Sort key, in the tenant partition, of the item that maps a group operation's idempotency key to
/// the operation: `BOPKEY#<key>`.
pub fn balance_key_sk(key: &IdempotencyKey) -> String {
    format!("BOPKEY#{}", key.as_str())
}

/// The folder of an import's objects: the tenant first, then the import's unguessable id.
pub fn import_object_prefix(t: &TenantId, id: &BulkJobId) -> String {
    format!("{t}/imports/{id}/")
}

/// The S3 key of an import's uploaded file.
pub fn import_upload_key(t: &TenantId, id: &BulkJobId) -> String {
    format!("{}upload", import_object_prefix(t, id))
}

/// The S3 key of an import's failure report.
pub fn import_report_key(t: &TenantId, id: &BulkJobId) -> String {
    format!("{}failed-rows.csv", import_object_prefix(t, id))
}

mod timeline;
pub use timeline::*;

/// Partition key of a tenant's bulk delete confirmations: `T#<tenant>#BDT` (issue 14).
pub fn confirmations_pk(t: &TenantId) -> String {
    format!("T#{t}#BDT")
}

/// Sort key of a confirmation: `K#<token>`.
pub fn confirmation_sk(token: &str) -> String {
    format!("K#{token}")
}

/// Partition key of a tenant's audit log: `T#<tenant>#AUDIT` (issue 14).
pub fn audit_pk(t: &TenantId) -> String {
    format!("T#{t}#AUDIT")
}

/// Sort-key prefix of audit entries.
pub const AUDIT_SK_PREFIX: &str = "A#";

/// Sort key of an audit entry: `A#<entry id>` (a bulk job's UUID v7: newest last).
pub fn audit_sk(id: &str) -> String {
    format!("{AUDIT_SK_PREFIX}{id}")
}

/// Partition key of a merge record (issue 15), keyed by the secondary: `T#<tenant>#MERGE#<secondary id>`.
/// It is also the secondary's tombstone (`merged_into`) once the merge is done.
pub fn merge_pk(t: &TenantId, secondary: &CustomerId) -> String {
    format!("T#{t}#MERGE#{secondary}")
}

/// Sort key of a merge record.
pub const MERGE_SK: &str = "MERGE";

/// Sort-key prefix of a count job's items in the tenant partition: `CJ#<job id>` (the job) and
/// `CJ#<job id>#P#<partition>` (each partition's progress), so one Query reads them all.
pub fn count_job_sk(id: &BulkJobId) -> String {
    format!("CJ#{id}")
}

/// Sort key of a count job partition's progress: `CJ#<job id>#P#<partition, two digits>`.
pub fn count_part_sk(id: &BulkJobId, shard: u32) -> String {
    format!("CJ#{id}#P#{shard:02}")
}

/// CreatedIndex sort key of a customer: its creation time (UTC, nanoseconds, fixed width, so text
/// order is time order) then `#` and its id (ids hold no `#`), so the index orders by (time, id).
pub fn created_sk(at: DateTime<Utc>, id: &CustomerId) -> String {
    format!("{}#{id}", at.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        let id = CustomerId::parse("customer-1").unwrap();
        assert_eq!(shard_of(&id), shard_of(&CustomerId::parse("customer-1").unwrap()));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let s = shard_of(&CustomerId::parse(&format!("c{i}")).unwrap());
            assert!(s < CUSTOMER_SHARDS);
            seen.insert(s);
        }
        assert_eq!(seen.len() as u32, CUSTOMER_SHARDS, "ids spread over every shard");
    }

    #[test]
    fn stream_keys_parse_back() {
        let t = TenantId::parse("acme").unwrap();
        let g = GroupId::parse("g-1").unwrap();
        assert_eq!(parse_history_pk(&history_pk(&t, &g)), Some((t.clone(), g)));
        assert_eq!(parse_notifications_pk(&notifications_pk(&t)), Some(t.clone()));
        let (w, id) = (WebhookId::parse("w").unwrap(), DeliveryId::parse("msg_1").unwrap());
        let (_, sk) = delivery_wake_keys(&t, &w, &id, Utc::now());
        assert_eq!(parse_delivery_wake_sk(&sk), Some((t, w, id)));
        assert!(parse_history_pk("T#acme#G#g#X").is_none());
    }

    #[test]
    fn keys_start_with_the_tenant() {
        let t = TenantId::parse("acme").unwrap();
        let c = CustomerId::parse("c1").unwrap();
        let g = GroupId::parse("g1").unwrap();
        let w = WebhookId::parse("w1").unwrap();
        for k in [
            customer_pk(&t, &c),
            members_pk(&t, &g),
            tenant_pk(&t),
            destinations_pk(&t),
            deliveries_pk(&t, &w),
            cursors_pk(&t, &w),
            notifications_pk(&t),
        ] {
            assert!(k.starts_with("T#acme"), "{k}");
        }
        let x = ExportId::parse("0190d7a4-5b7e-7c2a-9f1e-2d3c4b5a6978").unwrap();
        assert_eq!(
            export_object_key(&t, &x, "Клієнти ✓-2026-03-01.csv"),
            "acme/exports/0190d7a4-5b7e-7c2a-9f1e-2d3c4b5a6978/export-2026-03-01.csv"
        );
    }
}
