//! What destinations need from storage, queues, the key service and the outside world, one small
//! trait each: `cg-aws` implements the storage, queue and key ports over DynamoDB, SQS and KMS;
//! `cg-outbound` the webhook client and the email providers.

use super::delivery::{Delivery, DeliveryJob, DeliveryState, NewMessage, SendResult, StoredDelivery};
use super::event::{EventType, Notification};
use super::integration::{
    Credentials, Integration, ListContact, Mapping, MappingStatus, Provider, ProviderError, SyncJob,
};
use super::secret::{Sealed, SealedFor, SigningSecret};
use super::webhook::{DisabledReason, Webhook};
use crate::error::Result;
use crate::group::Member;
use crate::ids::{CustomerId, DeliveryId, GroupId, IntegrationId, MappingId, TenantId, WebhookId};
use crate::page::{Page, PageRequest};
use crate::ports::{GroupStore, MembershipStore};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;

/// An endpoint with its sealed signing secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    /// The endpoint as the API shows it.
    pub webhook: Webhook,
    /// The current signing secret.
    pub secret: Sealed,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<Sealed>,
}

/// Webhook endpoints.
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint.
    fn create_webhook(&self, t: &TenantId, w: &StoredWebhook) -> impl Future<Output = Result<()>> + Send;
    /// The endpoint, or `None`.
    fn get_webhook(&self, t: &TenantId, id: &WebhookId) -> impl Future<Output = Result<Option<StoredWebhook>>> + Send;
    /// One page of the tenant's endpoints, oldest first.
    fn list_webhooks(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Webhook>>> + Send;
    /// Overwrites the endpoint if it was last changed at `expected_updated_at` (`ConcurrentUpdate`
    /// otherwise, `NotFound` if it is gone).
    fn save_webhook(
        &self,
        t: &TenantId,
        w: &StoredWebhook,
        expected_updated_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the endpoint; `false` if there was none.
    fn delete_webhook(&self, t: &TenantId, id: &WebhookId) -> impl Future<Output = Result<bool>> + Send;
    /// Records a failed attempt: the endpoint's `failing_since` is set unless it is set already.
    /// Returns it (`None`: the endpoint is gone).
    fn note_failure(
        &self,
        t: &TenantId,
        id: &WebhookId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    /// Records a success after failures: clears `failing_since`.
    fn note_success(&self, t: &TenantId, id: &WebhookId) -> impl Future<Output = Result<()>> + Send;
    /// Stops deliveries to the endpoint, saying why.
    fn disable_webhook(
        &self,
        t: &TenantId,
        id: &WebhookId,
        reason: DisabledReason,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Everything a tenant's changes may go to: its endpoints and its list mappings, with each mapping's
/// provider (read together: one Query in DynamoDB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Destinations {
    /// The endpoints (without secrets).
    pub webhooks: Vec<Webhook>,
    /// The mappings and the provider of the integration each belongs to.
    pub mappings: Vec<(Mapping, Provider)>,
}

/// The dispatcher's read of a tenant's destinations.
pub trait DestinationDirectory: Send + Sync {
    /// The tenant's endpoints and mappings.
    fn destinations(&self, t: &TenantId) -> impl Future<Output = Result<Destinations>> + Send;
}

/// How far the change stream of one group has been turned into messages of one type for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CursorKey {
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The group (all its changes come from one ordered stream partition).
    pub group_id: GroupId,
    /// Entries or exits.
    pub event_type: EventType,
}

/// A cursor moving with the message that covers the changes up to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorMove<'a> {
    /// Which cursor.
    pub key: &'a CursorKey,
    /// Its value as read (`None`: never set); the write fails if it moved meanwhile.
    pub from: Option<&'a str>,
    /// The sequence number of the last change the message holds.
    pub to: &'a str,
}

/// Webhook messages and their delivery log.
pub trait DeliveryLog: Send + Sync {
    /// The cursors that exist among `keys`.
    fn cursors(
        &self,
        t: &TenantId,
        keys: &[CursorKey],
    ) -> impl Future<Output = Result<HashMap<CursorKey, String>>> + Send;
    /// Records a new message and moves its cursor in one transaction. `false`: nothing was written,
    /// because a message with this id exists (`cursor: None`) or the cursor moved meanwhile.
    fn record_message(
        &self,
        t: &TenantId,
        msg: &NewMessage,
        cursor: Option<CursorMove<'_>>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// A message with its body, or `None`.
    fn get_delivery(
        &self,
        t: &TenantId,
        w: &WebhookId,
        id: &DeliveryId,
    ) -> impl Future<Output = Result<Option<StoredDelivery>>> + Send;
    /// One page of an endpoint's messages, newest first.
    fn list_deliveries(
        &self,
        t: &TenantId,
        w: &WebhookId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<Delivery>>> + Send;
    /// Writes the delivery's state (status, attempt count, next attempt, failure reason and the attempt
    /// log) if the stored one still has the `expected` status and attempt count. `false`: another
    /// worker or request changed it first (nothing written).
    fn update_delivery(
        &self,
        t: &TenantId,
        after: &Delivery,
        expected: (DeliveryState, u32),
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Pending deliveries due before `before` in one partition of the sweep's index (every tenant).
    fn due_deliveries(
        &self,
        partition: u32,
        before: DateTime<Utc>,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<(Vec<DeliveryJob>, Option<String>)>> + Send;
    /// How many partitions the sweep's index has.
    fn delivery_partitions(&self) -> u32;
}

/// The queue of delivery attempts.
pub trait DeliveryQueue: Send + Sync {
    /// Queues attempts, each after its delay (at most 15 minutes; a later attempt re-queues itself).
    fn enqueue_deliveries(
        &self,
        jobs: &[(DeliveryJob, std::time::Duration)],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// An integration with its sealed credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIntegration {
    /// As the API shows it.
    pub integration: Integration,
    /// The sealed [`Credentials`] (JSON).
    pub credentials: Sealed,
}

/// What one sync step changed on a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncProgress {
    /// For a push: the run it belongs to (nothing is written if a newer push started).
    pub run: Option<String>,
    /// Contacts confirmed minus contacts removed.
    pub synced_delta: i64,
    /// Members skipped for having no email.
    pub skipped_delta: i64,
    /// The status after this step.
    pub status: MappingStatus,
    /// The error to show (`None` clears it).
    pub error: Option<String>,
    /// When the step reached the provider (or failed).
    pub at: DateTime<Utc>,
}

/// Integrations and their mappings.
pub trait IntegrationStore: Send + Sync {
    /// Stores a new integration.
    fn create_integration(&self, t: &TenantId, i: &StoredIntegration) -> impl Future<Output = Result<()>> + Send;
    /// The integration, or `None`.
    fn get_integration(
        &self,
        t: &TenantId,
        id: &IntegrationId,
    ) -> impl Future<Output = Result<Option<StoredIntegration>>> + Send;
    /// One page of the tenant's integrations.
    fn list_integrations(
        &self,
        t: &TenantId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<Integration>>> + Send;
    /// Overwrites it if it was last changed at `expected_updated_at`.
    fn save_integration(
        &self,
        t: &TenantId,
        i: &StoredIntegration,
        expected_updated_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the integration and its mappings; `false` if there was none.
    fn delete_integration(&self, t: &TenantId, id: &IntegrationId) -> impl Future<Output = Result<bool>> + Send;
    /// Stores a new mapping.
    fn create_mapping(&self, t: &TenantId, m: &Mapping) -> impl Future<Output = Result<()>> + Send;
    /// The mapping, or `None`.
    fn get_mapping(
        &self,
        t: &TenantId,
        i: &IntegrationId,
        id: &MappingId,
    ) -> impl Future<Output = Result<Option<Mapping>>> + Send;
    /// Every mapping of the integration.
    fn list_mappings(&self, t: &TenantId, i: &IntegrationId) -> impl Future<Output = Result<Vec<Mapping>>> + Send;
    /// Deletes the mapping; `false` if there was none.
    fn delete_mapping(
        &self,
        t: &TenantId,
        i: &IntegrationId,
        id: &MappingId,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Starts a new push of the mapping: `m` carries the new run, status pushing and zero counters.
    fn save_mapping(&self, t: &TenantId, m: &Mapping) -> impl Future<Output = Result<()>> + Send;
    /// Adds a sync step's progress; `false` if the mapping is gone or a newer push started.
    fn record_sync(
        &self,
        t: &TenantId,
        i: &IntegrationId,
        id: &MappingId,
        progress: &SyncProgress,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The provider-sync queue (FIFO per mapping).
pub trait SyncQueue: Send + Sync {
    /// Queues sync jobs; a job repeated within minutes is dropped (it carries the same content).
    fn enqueue_sync(&self, jobs: &[SyncJob]) -> impl Future<Output = Result<()>> + Send;
}

/// Member rows by customer, to know who is a member now.
pub trait MemberLookup: Send + Sync {
    /// The member rows of these customers in the group (missing: not a member), read consistently.
    fn member_rows(
        &self,
        t: &TenantId,
        g: &GroupId,
        customers: &[CustomerId],
    ) -> impl Future<Output = Result<Vec<Member>>> + Send;
}

/// Encryption of secrets at rest (KMS in AWS and locally through moto).
pub trait SecretBox: Send + Sync {
    /// Encrypts `plain`, bound to the tenant and what it belongs to.
    fn seal(&self, t: &TenantId, what: SealedFor<'_>, plain: &[u8]) -> impl Future<Output = Result<Sealed>> + Send;
    /// Decrypts what `seal` returned for the same tenant and owner.
    fn open(&self, t: &TenantId, what: SealedFor<'_>, sealed: &Sealed) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

/// One signed POST of a message.
#[derive(Debug, Clone, Copy)]
pub struct SignedPost<'a> {
    /// The endpoint's URL.
    pub url: &'a str,
    /// The `webhook-id`.
    pub id: &'a DeliveryId,
    /// The exact bytes to send and sign.
    pub body: &'a str,
    /// Secrets to sign with (the current one first; during a rotation overlap also the previous).
    pub secrets: &'a [SigningSecret],
    /// The longest to wait for an answer.
    pub timeout: std::time::Duration,
}

/// The HTTP client of webhook deliveries: signs per Standard Webhooks, refuses private addresses,
/// never follows redirects.
pub trait WebhookSender: Send + Sync {
    /// Sends one attempt and reports what happened (never an error: failures are results).
    fn send(&self, post: SignedPost<'_>) -> impl Future<Output = SendResult> + Send;
}

/// An email provider's lists (one adapter per provider).
pub trait ContactListProvider: Send + Sync {
    /// Puts contacts on (or takes them off) the list, at most [`Provider::batch_limit`] at once.
    fn sync_contacts(
        &self,
        provider: Provider,
        credentials: &Credentials,
        list_id: u64,
        contacts: &[ListContact],
    ) -> impl Future<Output = std::result::Result<(), ProviderError>> + Send;
}

/// Where features report that something happened (a job's end): the extension point for the import
/// and bulk-action jobs. The notification becomes a stream-visible item; the dispatcher delivers it
/// to every endpoint subscribed to its type.
pub trait Notifications: Send + Sync {
    /// Records the notification; recording the same id again changes nothing.
    fn notify(&self, t: &TenantId, n: &Notification) -> impl Future<Output = Result<()>> + Send;
}

/// What the webhook API needs.
pub trait WebhookApiPorts: WebhookStore + DeliveryLog + DeliveryQueue + SecretBox + GroupStore {}
impl<T: WebhookStore + DeliveryLog + DeliveryQueue + SecretBox + GroupStore> WebhookApiPorts for T {}

/// What the dispatcher needs.
pub trait DispatchPorts: DestinationDirectory + DeliveryLog + DeliveryQueue + SyncQueue + GroupStore {}
impl<T: DestinationDirectory + DeliveryLog + DeliveryQueue + SyncQueue + GroupStore> DispatchPorts for T {}

/// What a delivery attempt needs (besides the client).
pub trait DeliverPorts: WebhookStore + DeliveryLog + DeliveryQueue + SecretBox {}
impl<T: WebhookStore + DeliveryLog + DeliveryQueue + SecretBox> DeliverPorts for T {}

/// What the integrations API needs.
pub trait IntegrationPorts: IntegrationStore + SecretBox + SyncQueue + GroupStore {}
impl<T: IntegrationStore + SecretBox + SyncQueue + GroupStore> IntegrationPorts for T {}

/// What a provider sync needs (besides the provider).
pub trait SyncPorts: IntegrationStore + SecretBox + SyncQueue + MembershipStore + MemberLookup + GroupStore {}
impl<T: IntegrationStore + SecretBox + SyncQueue + MembershipStore + MemberLookup + GroupStore> SyncPorts for T {}
