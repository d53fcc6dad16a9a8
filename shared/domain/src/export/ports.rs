//! What exports need from storage and queues, one small trait each; `cg-aws` implements them over
//! DynamoDB, SQS and S3.

use super::{Export, ExportJob, ExportObject};
use crate::customer::Customer;
use crate::error::Result;
use crate::group::{Group, Member};
use crate::ids::{ExportId, GroupId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{CustomerStore, GroupStore, MembershipStore};
use std::future::Future;
use std::time::Duration;

/// Export records.
pub trait ExportStore: Send + Sync {
    /// Stores a new record; its id must be new.
    fn create_export(&self, t: &TenantId, e: &Export) -> impl Future<Output = Result<()>> + Send;
    /// The tenant's export with this id, or `None`.
    fn get_export(&self, t: &TenantId, id: &ExportId) -> impl Future<Output = Result<Option<Export>>> + Send;
    /// The tenant's exports, newest first.
    fn list_exports(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Export>>> + Send;
    /// Overwrites the record if its stored `attempts` is still `expected_attempts`; `false` if another
    /// run of the job has taken the export over meanwhile (a fencing token against duplicate deliveries).
    fn save_export(
        &self,
        t: &TenantId,
        e: &Export,
        expected_attempts: u32,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// The rows an export reads: the narrow view of the stores the export job needs (any store with groups,
/// members and customers provides it).
pub trait ExportSource: Send + Sync {
    /// The group to export, or `None` if it is gone or being deleted.
    fn export_group(&self, t: &TenantId, g: &GroupId) -> impl Future<Output = Result<Option<Group>>> + Send;
    /// One page of a group's member rows, in key order.
    fn member_page(
        &self,
        t: &TenantId,
        g: &GroupId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<Member>>> + Send;
    /// One page of the tenant's customers, shard by shard.
    fn customer_page(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Customer>>> + Send;
}

impl<S: GroupStore + MembershipStore + CustomerStore> ExportSource for S {
    fn export_group(&self, t: &TenantId, g: &GroupId) -> impl Future<Output = Result<Option<Group>>> + Send {
        self.get_group(t, g)
    }
    fn member_page(
        &self,
        t: &TenantId,
        g: &GroupId,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<Member>>> + Send {
        self.list_members(t, g, page)
    }
    fn customer_page(&self, t: &TenantId, page: &PageRequest) -> impl Future<Output = Result<Page<Customer>>> + Send {
        self.list_customers(t, page)
    }
}

/// The queue that starts export jobs.
pub trait ExportQueue: Send + Sync {
    /// Sends the message that starts the export's job.
    fn enqueue_export(&self, job: &ExportJob) -> impl Future<Output = Result<()>> + Send;
}

/// A part of a multipart upload, as the completion needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// 1-based.
    pub number: u32,
    /// The ETag storage returned for the part; the completion must repeat it.
    pub etag: String,
}

/// Where export files go: one object per export, written whole or as a multipart upload. Writing the
/// same object again replaces it, which is what makes a restarted export idempotent.
pub trait ExportSink: Send + Sync {
    /// Writes a small file in one request.
    fn put_file(&self, obj: &ExportObject, body: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
    /// Starts a multipart upload; returns its id.
    fn start_upload(&self, obj: &ExportObject) -> impl Future<Output = Result<String>> + Send;
    /// Uploads part `number` (1-based) of an upload and returns it for the completion.
    fn upload_part(
        &self,
        obj: &ExportObject,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<UploadedPart>> + Send;
    /// Joins the parts, in order, into the finished object.
    fn complete_upload(
        &self,
        obj: &ExportObject,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Aborts one upload; an upload that no longer exists is not an error.
    fn abort_upload(&self, obj: &ExportObject, upload_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Aborts every unfinished upload of this object (e.g. one started by a worker that died before it
    /// could record the upload id); returns how many there were.
    fn abort_unfinished_uploads(&self, obj: &ExportObject) -> impl Future<Output = Result<u32>> + Send;
}

/// Download links for finished exports.
pub trait DownloadLinks: Send + Sync {
    /// A link that lets anyone holding it GET the file for `valid_for`, saving it under its file name.
    fn download_link(&self, obj: &ExportObject, valid_for: Duration) -> impl Future<Output = Result<String>> + Send;
}
