//! What one import row does, decided against what is known of the tenant's customers (stored state
//! plus the batch's own uncommitted writes): find the customer by the row's identities, then create it,
//! update it, leave it unchanged or fail the row with a reason. Pure; the batch engine
//! (`import_batch`) does the reads and the commits. Creating and updating go through the API's own
//! `NewCustomer::into_customer` and `CustomerPatch::apply`, so validation and normalisation are the
//! same as `POST /customers` and `PATCH /customers/{id}`.

use crate::bulk::ports::CustomerWrite;
use crate::bulk::{BulkCounts, FailedRow};
use crate::customer::{AttributeValue, Customer, CustomerPatch, Identity, NewCustomer};
use crate::error::DomainError;
use crate::ids::{BulkJobId, CustomerId};
use crate::import::mapping::{ImportMode, Mapping, MatchKey};
use crate::import::row::{column_for_field, RowFailure, RowValues};
use crate::patch::Patch;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

/// A row of the file, parsed.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// The row number.
    pub row: u64,
    /// The cells as text (for the failure report).
    pub cells: Vec<String>,
    /// The mapped values, or why the row fails.
    pub values: std::result::Result<RowValues, RowFailure>,
}

/// What is known of customers and identities: `Some(None)` is known absent, a missing key unknown.
#[derive(Debug, Default)]
pub(crate) struct Belief {
    /// Customers by id, as stored or as the batch will store them.
    pub customers: HashMap<CustomerId, Option<Customer>>,
    /// Identity owners, as stored or as the batch will store them.
    pub identities: HashMap<Identity, Option<CustomerId>>,
}

impl Belief {
    pub fn customer(&self, id: &CustomerId) -> Option<&Customer> {
        self.customers.get(id).and_then(Option::as_ref)
    }

    pub fn owner(&self, i: &Identity) -> Option<&CustomerId> {
        self.identities.get(i).and_then(Option::as_ref)
    }
}

/// The outcome of one row (decided and consumed at once, so the variants' sizes matter little).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decision {
    /// The row fails; nothing of it is written.
    Failed(RowFailure),
    /// The customer already holds every value the row gives.
    Unchanged,
    /// The customer to store after this row.
    Write {
        /// Whether the row creates the customer (else it updates one).
        created: bool,
        /// The customer after the row.
        after: Customer,
    },
}

/// The id a row's new customer gets when the file gives none: the same for the same (import, row),
/// so a redone batch writes the same customer.
pub(crate) fn generated_id(job: &BulkJobId, row: u64) -> CustomerId {
    CustomerId::parse(&format!("imp-{job}-{row}")).unwrap_or_else(|_| CustomerId::generate())
}

fn describe(i: &Identity) -> String {
    match i {
        Identity::Email(e) => format!("email {e}"),
        Identity::Phone(p) => format!("phone {p}"),
        Identity::External(x) => format!("external_id {x:?}"),
    }
}

fn match_key(i: &Identity) -> MatchKey {
    match i {
        Identity::Email(_) => MatchKey::Email,
        Identity::Phone(_) => MatchKey::Phone,
        Identity::External(_) => MatchKey::ExternalId,
    }
}

/// A validation error of the customer model as a row failure naming the column.
fn invalid(mapping: &Mapping, e: DomainError) -> RowFailure {
    match e {
        DomainError::Validation { field, message } => {
            let code = match field.as_str() {
                "email" => "invalid_email",
                "phone" => "invalid_phone",
                "tags" => "invalid_tag",
                "attributes" => "invalid_attribute",
                "id" => "invalid_id",
                _ => "invalid_value",
            };
            let column = column_for_field(mapping, &field);
            let message = if column == "?" {
                message
            } else {
                format!("column {column:?}: {message}")
            };
            RowFailure::new(code, message)
        }
        other => RowFailure::new("invalid_value", other.to_string()),
    }
}

/// Whether two customer states hold the same facts (the write's stamps aside).
fn same(a: &Customer, b: &Customer) -> bool {
    let mut b = b.clone();
    b.updated_at = a.updated_at;
    b.version = a.version;
    *a == b
}

/// Decides one row (`row` is its number; `now` stamps new and changed customers).
pub(crate) fn decide(
    belief: &Belief,
    mapping: &Mapping,
    job: &BulkJobId,
    row: u64,
    values: &RowValues,
    now: DateTime<Utc>,
) -> Decision {
    let identities = values.identities();
    let mut matched: Vec<(String, CustomerId)> = Vec::new();
    if let Some(id) = &values.id {
        if mapping.matches_on(MatchKey::Id) && belief.customer(id).is_some() {
            matched.push((format!("id {id:?}"), id.clone()));
        }
    }
    for i in &identities {
        if !mapping.matches_on(match_key(i)) {
            continue;
        }
        if let Some(owner) = belief.owner(i) {
            if belief.customer(owner).is_none() {
                return Decision::Failed(RowFailure::new(
                    "identity_taken",
                    format!(
                        "{} is held by customer {owner}, which could not be read; retry the import",
                        describe(i)
                    ),
                ));
            }
            matched.push((describe(i), owner.clone()));
        }
    }
    let distinct: BTreeSet<&CustomerId> = matched.iter().map(|(_, id)| id).collect();
    if distinct.len() > 1 {
        let (a, b) = (
            &matched[0],
            matched
                .iter()
                .find(|(_, id)| *id != matched[0].1)
                .unwrap_or(&matched[0]),
        );
        return Decision::Failed(RowFailure::new(
            "identity_conflict",
            format!(
                "{} belongs to customer {} but {} to customer {}; a row can update only one customer",
                a.0, a.1, b.0, b.1
            ),
        ));
    }
    match matched.first().map(|(_, id)| id.clone()) {
        None => create(belief, mapping, job, row, values, &identities, now),
        Some(id) => update(belief, mapping, &id, values, &identities, now),
    }
}

fn create(
    belief: &Belief,
    mapping: &Mapping,
    job: &BulkJobId,
    row: u64,
    values: &RowValues,
    identities: &[Identity],
    now: DateTime<Utc>,
) -> Decision {
    if mapping.mode == ImportMode::UpdateOnly {
        return Decision::Failed(RowFailure::new(
            "not_found",
            "no customer matches this row's identities; an update_only import changes existing customers only",
        ));
    }
    let id = values.id.clone().unwrap_or_else(|| generated_id(job, row));
    if belief.customer(&id).is_some() {
        return Decision::Failed(RowFailure::new(
            "id_taken",
            format!("customer id {id:?} already exists; add id to match_on to update that customer"),
        ));
    }
    for i in identities {
        if let Some(owner) = belief.owner(i) {
            return Decision::Failed(RowFailure::new(
                "identity_taken",
                format!("{} already belongs to customer {owner}; it must be unique", describe(i)),
            ));
        }
    }
    let mut tags = values.tags.clone();
    tags.extend(mapping.add.tags.iter().cloned());
    let mut attributes = values.attributes.clone();
    if let Some(source) = &mapping.add.source {
        attributes
            .entry("source".to_owned())
            .or_insert_with(|| AttributeValue::String(source.clone()));
    }
    let input = NewCustomer {
        id: Some(id),
        external_id: values.external_id.clone(),
        email: values.email.as_ref().map(|e| e.as_str().to_owned()),
        phone: values.phone.as_ref().map(|p| p.as_str().to_owned()),
        name: values.name.clone(),
        order_number: values.order_number.clone(),
        signup_date: values.signup_date,
        registration_date: values.registration_date,
        attributes,
        tags,
        ..Default::default()
    };
    match input.into_customer(now) {
        Ok(after) => Decision::Write { created: true, after },
        Err(e) => Decision::Failed(invalid(mapping, e)),
    }
}

fn update(
    belief: &Belief,
    mapping: &Mapping,
    id: &CustomerId,
    values: &RowValues,
    identities: &[Identity],
    now: DateTime<Utc>,
) -> Decision {
    if mapping.mode == ImportMode::CreateOnly {
        return Decision::Failed(RowFailure::new(
            "already_exists",
            format!("the row matches existing customer {id}; a create_only import adds new customers only"),
        ));
    }
    if let Some(given) = &values.id {
        if given != id {
            return Decision::Failed(RowFailure::new(
                "identity_conflict",
                format!("the row's id {given:?} differs from customer {id}, whom its identities match"),
            ));
        }
    }
    for i in identities {
        if let Some(owner) = belief.owner(i).filter(|o| *o != id) {
            return Decision::Failed(RowFailure::new(
                "identity_taken",
                format!("{} already belongs to customer {owner}; it must be unique", describe(i)),
            ));
        }
    }
    let Some(current) = belief.customer(id) else {
        return Decision::Failed(RowFailure::new("not_found", format!("customer {id} could not be read")));
    };
    let set = |v: &Option<String>| v.clone().map_or(Patch::Keep, Patch::Set);
    let mut attributes: std::collections::BTreeMap<String, Option<AttributeValue>> = values
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    if let Some(source) = &mapping.add.source {
        if !current.attributes.contains_key("source") && !attributes.contains_key("source") {
            attributes.insert("source".into(), Some(AttributeValue::String(source.clone())));
        }
    }
    let new_tags: Vec<&String> = values.tags.iter().chain(&mapping.add.tags).collect();
    let tags = (!new_tags.iter().all(|t| current.tags.contains(t.trim()))).then(|| {
        current
            .tags
            .iter()
            .cloned()
            .chain(new_tags.into_iter().cloned())
            .collect::<Vec<_>>()
    });
    let patch = CustomerPatch {
        external_id: set(&values.external_id),
        email: values
            .email
            .as_ref()
            .map_or(Patch::Keep, |e| Patch::Set(e.as_str().to_owned())),
        phone: values
            .phone
            .as_ref()
            .map_or(Patch::Keep, |p| Patch::Set(p.as_str().to_owned())),
        name: set(&values.name),
        order_number: set(&values.order_number),
        signup_date: values.signup_date.map_or(Patch::Keep, Patch::Set),
        registration_date: values.registration_date.map_or(Patch::Keep, Patch::Set),
        attributes: (!attributes.is_empty()).then_some(attributes),
        tags,
        ..Default::default()
    };
    match patch.apply(current, now) {
        Ok(after) if same(current, &after) => Decision::Unchanged,
        Ok(after) => Decision::Write { created: false, after },
        Err(e) => Decision::Failed(invalid(mapping, e)),
    }
}

/// A customer write of the pending transaction: its state before the transaction and after it.
#[derive(Debug)]
pub(crate) struct PendingWrite {
    pub base: Option<Customer>,
    pub after: Customer,
}

impl PendingWrite {
    pub fn write(&self) -> CustomerWrite {
        match &self.base {
            None => CustomerWrite::Create(self.after.clone()),
            Some(b) => CustomerWrite::Update {
                before: b.clone(),
                after: self.after.clone(),
            },
        }
    }

    /// The identity items this write puts or deletes.
    pub fn touched(&self) -> BTreeSet<Identity> {
        let before = self.base.as_ref().map(Customer::identities).unwrap_or_default();
        before.symmetric_difference(&self.after.identities()).cloned().collect()
    }
}

/// The transaction being filled: its writes in first-touch order, failed rows, counts, the rows it
/// covers (to redo them) and its item count.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub order: Vec<CustomerId>,
    pub writes: HashMap<CustomerId, PendingWrite>,
    pub failed: Vec<FailedRow>,
    pub counts: BulkCounts,
    pub rows: Vec<ParsedRow>,
    pub items: usize,
}
