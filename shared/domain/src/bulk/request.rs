//! The bodies of the bulk action routes: each carries the target fields flat (`target_body!`) beside
//! its own, and parses into the input its use case takes.

use super::action::{Changes, ChangesBody};
use crate::error::{DomainError, Result};
use crate::ids::BulkJobId;
use crate::search::target::{target_body, Target, Targets};
use crate::usecases::bulk_actions::DeleteConfirmation;

target_body! {
    /// The body of `POST /customers/bulk-modify`: a target and the changes.
    pub struct BulkModifyRequest {
        /// What to change on every customer of the target.
        #[serde(default)]
        pub changes: Option<ChangesBody>,
    }
}

target_body! {
    /// The body of `POST /customers/bulk-delete/preview`: a target, and for a large tenant's filter the
    /// count job that counted it.
    pub struct DeletePreviewRequest {
        /// A finished count job of this target (the preview's 202 started it).
        #[serde(default)]
        pub count_job_id: Option<String>,
    }
}

target_body! {
    /// The body of `POST /customers/bulk-delete`: the previewed target, its token, the agreement and the
    /// reason.
    pub struct BulkDeleteRequest {
        /// The preview's confirmation token.
        #[serde(default)]
        pub token: Option<String>,
        /// Must be `true`: the user agreed to the statement.
        #[serde(default)]
        pub agree: Option<bool>,
        /// Why (at least 10 characters).
        #[serde(default)]
        pub reason: Option<String>,
    }
}

/// A parsed bulk modify.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkModifyInput {
    /// What to act on.
    pub target: Target,
    /// What to change.
    pub changes: Changes,
}

impl TryFrom<BulkModifyRequest> for BulkModifyInput {
    type Error = DomainError;

    fn try_from(b: BulkModifyRequest) -> Result<Self> {
        let target = Target::parse(b.target_fields(), Targets::Any)?;
        let changes = b.changes.clone().ok_or_else(|| {
            DomainError::validation(
                "changes",
                "give the changes: set, set_attributes, unset_attributes, add_tags or remove_tags",
            )
        })?;
        Ok(BulkModifyInput {
            target,
            changes: Changes::try_from(changes)?,
        })
    }
}

/// A parsed bulk delete preview.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletePreviewInput {
    /// What to delete.
    pub target: Target,
    /// The count job that counted it.
    pub count_job: Option<BulkJobId>,
}

impl TryFrom<DeletePreviewRequest> for DeletePreviewInput {
    type Error = DomainError;

    fn try_from(b: DeletePreviewRequest) -> Result<Self> {
        let count_job = b
            .count_job_id
            .as_deref()
            .map(|raw| {
                BulkJobId::parse(raw).map_err(|_| {
                    DomainError::validation(
                        "count_job_id",
                        "not a count job id: give the id of the preview's count job",
                    )
                })
            })
            .transpose()?;
        let target = Target::parse(b.target_fields(), Targets::Any)?;
        Ok(DeletePreviewInput { target, count_job })
    }
}

/// A parsed bulk delete.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkDeleteInput {
    /// The previewed target.
    pub target: Target,
    /// The token, agreement and reason.
    pub confirm: DeleteConfirmation,
}

impl TryFrom<BulkDeleteRequest> for BulkDeleteInput {
    type Error = DomainError;

    fn try_from(b: BulkDeleteRequest) -> Result<Self> {
        let target = Target::parse(b.target_fields(), Targets::Any)?;
        let confirm = DeleteConfirmation::parse(b.token, b.agree, b.reason)?;
        Ok(BulkDeleteInput { target, confirm })
    }
}
