//! `CustomerStore` on DynamoDB: a customer item in its shard partition plus one identity item per unique
//! email, phone and external id, always written in one transaction.

use super::items::{attr, CustomerItem, IdentityItem};
use super::page::clamp_sk;
use super::page::PartitionQuery;
use super::{decode_cursor, encode_cursor, key, n, s, Item};
use crate::dynamo::put_new;
use crate::keys;
use crate::sdk_error::corrupt_item;
use crate::Store;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use cg_domain::customer::{Customer, Identity};
use cg_domain::ids::{CustomerId, TenantId};
use cg_domain::page::{Page, PageRequest};
use cg_domain::ports::{CustomerScan, CustomerStore};
use cg_domain::timeline::TimelineEntry;
use cg_domain::{DomainError, Result};
use std::collections::{BTreeSet, HashMap};

impl Store {
    pub(crate) fn customer_item(&self, t: &TenantId, c: &Customer) -> Result<Item> {
        let wake = c.next_wake_at.map(|at| keys::wake_keys(t, &c.id, at));
        let item = CustomerItem::new(keys::customer_pk(t, &c.id), keys::customer_sk(&c.id), wake, c);
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode customer: {e}")))?;
        super::size::check_customer_size(&item)?;
        Ok(item)
    }

    pub(crate) fn identity_put(&self, t: &TenantId, identity: &Identity, id: &CustomerId) -> Result<TransactWriteItem> {
        let item = IdentityItem {
            pk: keys::identity_pk(t, identity),
            sk: keys::IDENTITY_SK.into(),
            customer_id: id.clone(),
        };
        let item = serde_dynamo::to_item(item).map_err(|e| DomainError::Internal(format!("encode identity: {e}")))?;
        put_new(&self.table, item)
    }

    pub(crate) fn identity_delete(
        &self,
        t: &TenantId,
        identity: &Identity,
        id: &CustomerId,
    ) -> Result<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::identity_pk(t, identity), keys::IDENTITY_SK)))
            .condition_expression("customer_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .build()
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }
}

fn decode_customer(item: Item) -> Result<Customer> {
    serde_dynamo::from_item::<_, CustomerItem>(item)
        .map(CustomerItem::into_customer)
        .map_err(|e| corrupt_item("customer", e))
}

impl CustomerStore for Store {
    async fn create_customer(&self, t: &TenantId, c: &Customer) -> Result<()> {
        let put = put_new(&self.table, self.customer_item(t, c)?)?;
        let identities: Vec<Identity> = c.identities().into_iter().collect();
        let mut items = vec![put];
        for identity in &identities {
            items.push(self.identity_put(t, identity, &c.id)?);
        }
        // Last, so the identities keep their positions.
        items.push(self.timeline_put(t, &c.id, &TimelineEntry::created(c.created_at), c.created_at)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed[0] => Err(DomainError::conflict(
                "id",
                format!("a customer with id {:?} already exists", c.id.as_str()),
            )),
            Err(failed) => Err(identity_conflict(&identities, &failed[1..])),
        }
    }

    async fn get_customer(&self, t: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
        let item = self
            .get_consistent(keys::customer_pk(t, id), keys::customer_sk(id))
            .await?;
        item.map(decode_customer).transpose()
    }

    async fn get_customers(&self, t: &TenantId, ids: &[CustomerId]) -> Result<Vec<Customer>> {
        let unique: BTreeSet<&CustomerId> = ids.iter().collect();
        let keys = unique
            .into_iter()
            .map(|id| key(keys::customer_pk(t, id), keys::customer_sk(id)))
            .collect();
        self.batch_get(keys, true)
            .await?
            .into_iter()
            .map(decode_customer)
            .collect()
    }

    async fn update_customer(&self, t: &TenantId, before: &Customer, after: &Customer) -> Result<()> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.customer_item(t, after)?))
            .condition_expression(attr::VERSION_IS)
            .expression_attribute_values(":v", n(before.version))
            .build()
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let (old, new) = (before.identities(), after.identities());
        let added: Vec<Identity> = new.difference(&old).cloned().collect();
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        for identity in &added {
            items.push(self.identity_put(t, identity, &after.id)?);
        }
        for identity in old.difference(&new) {
            items.push(self.identity_delete(t, identity, &after.id)?);
        }
        let entry = TimelineEntry::updated(after.version, after.updated_at);
        items.push(self.timeline_put(t, &after.id, &entry, after.updated_at)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(failed) if failed[0] => Err(DomainError::ConcurrentUpdate),
            Err(failed) if failed[1..=added.len()].iter().any(|f| *f) => {
                Err(identity_conflict(&added, &failed[1..=added.len()]))
            }
            Err(_) => Err(DomainError::ConcurrentUpdate),
        }
    }

    async fn delete_customer(&self, t: &TenantId, c: &Customer) -> Result<()> {
        let del = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::customer_pk(t, &c.id), keys::customer_sk(&c.id))))
            // No membership may have been added since the caller emptied the customer's groups.
            .condition_expression(format!("{} AND attribute_not_exists(#groups)", attr::VERSION_IS))
            .expression_attribute_names(attr::GROUPS_NAME.0, attr::GROUPS_NAME.1)
            .expression_attribute_values(":v", n(c.version))
            .build()
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().delete(del).build()];
        for identity in c.identities() {
            items.push(self.identity_delete(t, &identity, &c.id)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(DomainError::ConcurrentUpdate),
        }
    }

    async fn list_customers(&self, t: &TenantId, page: &PageRequest) -> Result<Page<Customer>> {
        // Walk the shards in order; the cursor is "<shard>|<last sort key or empty>".
        // A position that is not one of the list's (see `page::cursor_sk`) starts before the first
        // shard or after the last one.
        let (mut shard, mut start_sk) = match &page.cursor {
            None => (0, None),
            Some(c) => {
                let raw = decode_cursor(c)?;
                let (shard, sk) = raw.split_once('|').unwrap_or((raw.as_str(), ""));
                match shard.parse::<u32>() {
                    Ok(shard) if shard < keys::CUSTOMER_SHARDS => (
                        shard,
                        match sk {
                            "" => None,
                            sk => clamp_sk(sk.to_owned(), keys::CUSTOMER_SK_PREFIX, |id| {
                                CustomerId::parse(id).is_ok()
                            }),
                        },
                    ),
                    _ if shard < "0" => (0, None),
                    _ => {
                        return Ok(Page {
                            items: Vec::new(),
                            next_cursor: None,
                        })
                    }
                }
            }
        };
        let mut items = Vec::with_capacity(page.limit as usize);
        loop {
            let q = PartitionQuery::new(keys::customer_pk_for_shard(t, shard))
                .after(start_sk.take())
                .limit(page.limit - items.len() as u32);
            let found = self.query_page::<CustomerItem>(&q, "customer").await?;
            items.extend(found.items.into_iter().map(CustomerItem::into_customer));
            if items.len() >= page.limit as usize {
                let next = match found.last_sk {
                    Some(sk) => Some(format!("{shard}|{sk}")),
                    None if shard + 1 < keys::CUSTOMER_SHARDS => Some(format!("{}|", shard + 1)),
                    None => None,
                };
                return Ok(Page {
                    items,
                    next_cursor: next.map(|c| encode_cursor(&c)),
                });
            }
            match found.last_sk {
                Some(sk) => start_sk = Some(sk),
                None if shard + 1 < keys::CUSTOMER_SHARDS => shard += 1,
                None => {
                    return Ok(Page {
                        items,
                        next_cursor: None,
                    })
                }
            }
        }
    }

    async fn resolve_identities(&self, t: &TenantId, wanted: &[Identity]) -> Result<Vec<Option<CustomerId>>> {
        let pks: BTreeSet<String> = wanted.iter().map(|i| keys::identity_pk(t, i)).collect();
        let keys = pks.into_iter().map(|pk| key(pk, keys::IDENTITY_SK)).collect();
        let mut found: HashMap<String, CustomerId> = HashMap::new();
        for item in self.batch_get(keys, false).await? {
            let identity: IdentityItem = serde_dynamo::from_item(item).map_err(|e| corrupt_item("identity", e))?;
            found.insert(identity.pk, identity.customer_id);
        }
        Ok(wanted
            .iter()
            .map(|i| found.get(&keys::identity_pk(t, i)).cloned())
            .collect())
    }
}

/// The 409 for the first identity whose uniqueness condition failed.
fn identity_conflict(identities: &[Identity], failed: &[bool]) -> DomainError {
    let clash = identities.iter().zip(failed).find(|(_, f)| **f).map(|(i, _)| i);
    match clash {
        Some(Identity::Email(e)) => {
            DomainError::conflict("email", format!("email {e} is already used by another customer"))
        }
        Some(Identity::Phone(p)) => {
            DomainError::conflict("phone", format!("phone {p} is already used by another customer"))
        }
        Some(Identity::External(x)) => DomainError::conflict(
            "external_id",
            format!("external_id {x:?} is already used by another customer"),
        ),
        None => DomainError::ConcurrentUpdate,
    }
}

impl CustomerScan for Store {
    async fn scan_shard(
        &self,
        t: &TenantId,
        shard: u32,
        cursor: Option<String>,
    ) -> Result<(Vec<Customer>, Option<String>)> {
        let start = cursor.as_deref().map(decode_cursor).transpose()?;
        let q = PartitionQuery::new(keys::customer_pk_for_shard(t, shard))
            .after(start)
            .consistent();
        let page = self
            .query_page::<CustomerItem>(&q, "customer")
            .await?
            .into_page(CustomerItem::into_customer);
        Ok((page.items, page.next_cursor))
    }
}
