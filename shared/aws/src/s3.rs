//! The export bucket: `ExportSink` (single PutObject or multipart upload of an export file) and
//! `DownloadLinks` (presigned GETs that download under the export's file name). Keys come from
//! `crate::keys`: the tenant first, then the export's unguessable id. Imports keep their upload and
//! failure report under `{tenant}/imports/{id}/` (`BulkFiles`).

use crate::keys;
use crate::sdk_error::from_sdk;
use crate::Store;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cg_domain::bulk::ports::{BulkFiles, BulkObject};
use cg_domain::export::file_name::content_disposition;
use cg_domain::export::ports::{DownloadLinks, ExportSink, UploadedPart};
use cg_domain::export::ExportObject;
use cg_domain::{DomainError, Result};
use std::time::Duration;

fn object_key(obj: &ExportObject) -> String {
    keys::export_object_key(&obj.tenant, &obj.export_id, &obj.file_name)
}

impl ExportSink for Store {
    async fn put_file(&self, obj: &ExportObject, body: Vec<u8>) -> Result<()> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(object_key(obj))
            .content_type(obj.content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("s3.PutObject", e))?;
        Ok(())
    }

    async fn start_upload(&self, obj: &ExportObject) -> Result<String> {
        self.s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key(obj))
            .content_type(obj.content_type)
            .send()
            .await
            .map_err(|e| from_sdk("s3.CreateMultipartUpload", e))?
            .upload_id
            .ok_or_else(|| DomainError::Internal("CreateMultipartUpload returned no upload id".into()))
    }

    async fn upload_part(
        &self,
        obj: &ExportObject,
        upload_id: &str,
        number: u32,
        body: Vec<u8>,
    ) -> Result<UploadedPart> {
        let resp = self
            .s3
            .upload_part()
            .bucket(&self.bucket)
            .key(object_key(obj))
            .upload_id(upload_id)
            .part_number(number as i32)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("s3.UploadPart", e))?;
        let etag = resp
            .e_tag
            .ok_or_else(|| DomainError::Internal("UploadPart returned no ETag".into()))?;
        Ok(UploadedPart { number, etag })
    }

    async fn complete_upload(&self, obj: &ExportObject, upload_id: &str, parts: &[UploadedPart]) -> Result<()> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number as i32)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key(obj))
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| from_sdk("s3.CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_upload(&self, obj: &ExportObject, upload_id: &str) -> Result<()> {
        self.abort_key_upload(&object_key(obj), upload_id).await
    }

    async fn abort_unfinished_uploads(&self, obj: &ExportObject) -> Result<u32> {
        let mut aborted = 0;
        let (mut key_marker, mut upload_marker) = (None, None);
        loop {
            let resp = self
                .s3
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(keys::export_object_prefix(&obj.tenant, &obj.export_id))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|e| from_sdk("s3.ListMultipartUploads", e))?;
            for upload in resp.uploads() {
                // Everything under the export's own prefix belongs to this export.
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    self.abort_key_upload(key, id).await?;
                    aborted += 1;
                }
            }
            if resp.is_truncated() != Some(true) {
                return Ok(aborted);
            }
            key_marker = resp.next_key_marker;
            upload_marker = resp.next_upload_id_marker;
        }
    }
}

impl Store {
    /// Aborts an upload; one that no longer exists is fine (a retry may repeat an abort).
    async fn abort_key_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        let resp = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match resp {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            Err(e) => Err(from_sdk("s3.AbortMultipartUpload", e)),
        }
    }
}

impl DownloadLinks for Store {
    async fn download_link(&self, obj: &ExportObject, valid_for: Duration) -> Result<String> {
        let config = PresigningConfig::expires_in(valid_for)
            .map_err(|e| DomainError::Internal(format!("presigning config: {e}")))?;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(object_key(obj))
            .response_content_disposition(content_disposition(&obj.file_name))
            .response_content_type(obj.content_type)
            .presigned(config)
            .await
            .map_err(|e| from_sdk("s3.GetObject(presign)", e))?;
        Ok(request.uri().to_owned())
    }
}

fn bulk_key(obj: &BulkObject) -> String {
    match obj {
        BulkObject::Upload(t, id) => keys::import_upload_key(t, id),
        BulkObject::FailureReport(t, id) => keys::import_report_key(t, id),
    }
}

fn presigning(valid_for: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(valid_for).map_err(|e| DomainError::Internal(format!("presigning config: {e}")))
}

impl BulkFiles for Store {
    async fn upload_link(&self, obj: &BulkObject, valid_for: Duration) -> Result<String> {
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(bulk_key(obj))
            .presigned(presigning(valid_for)?)
            .await
            .map_err(|e| from_sdk("s3.PutObject(presign)", e))?;
        Ok(request.uri().to_owned())
    }

    async fn download_link(&self, obj: &BulkObject, file_name: &str, valid_for: Duration) -> Result<String> {
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(bulk_key(obj))
            .response_content_disposition(content_disposition(file_name))
            .response_content_type("text/csv; charset=utf-8")
            .presigned(presigning(valid_for)?)
            .await
            .map_err(|e| from_sdk("s3.GetObject(presign)", e))?;
        Ok(request.uri().to_owned())
    }

    async fn put_object(&self, obj: &BulkObject, body: Vec<u8>, content_type: &str) -> Result<()> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(bulk_key(obj))
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk("s3.PutObject", e))?;
        Ok(())
    }

    async fn object_size(&self, obj: &BulkObject) -> Result<Option<u64>> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(bulk_key(obj))
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(from_sdk("s3.HeadObject", e)),
        }
    }

    async fn download_to(&self, obj: &BulkObject, path: &std::path::Path) -> Result<u64> {
        use std::io::Write as _;
        let resp = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(bulk_key(obj))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(DomainError::not_found(
                    "the uploaded file is gone (files are kept for the bucket's retention)",
                ))
            }
            Err(e) => return Err(from_sdk("s3.GetObject", e)),
        };
        let local = |e: std::io::Error| DomainError::Internal(format!("write {}: {e}", path.display()));
        // Local disk writes are fast and bounded (one chunk): plain blocking writes.
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(local)?);
        let mut body = resp.body;
        let mut written = 0u64;
        // Chunk by chunk: memory holds one network chunk, never the file.
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| DomainError::Unavailable(format!("s3.GetObject body: {e}")))?
        {
            written += chunk.len() as u64;
            if written > cg_domain::import::MAX_FILE_BYTES {
                return Err(DomainError::validation(
                    "file",
                    "the file grew past the import's maximum size while it was read",
                ));
            }
            file.write_all(&chunk).map_err(local)?;
        }
        file.flush().map_err(local)?;
        Ok(written)
    }
}
