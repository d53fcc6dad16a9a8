//! The one error type of the domain; `cg_lambda::http_error` is the one place that maps it to HTTP.

/// Everything a use case can fail with. Messages of the client-facing variants say what to fix;
/// the detail of `Unavailable` and `Internal` is for logs only and never reaches a response.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// The request is well-formed but a value breaks a rule (`field` names the offending input).
    #[error("{message}")]
    Validation {
        /// The input at fault: a body field (`email`) or the path of a bad rule node (`rules.all[1].any`).
        field: String,
        /// What is wrong and how to fix it; shown to the client.
        message: String,
    },
    /// The input is malformed rather than breaking a rule (e.g. a cursor this service never issued).
    #[error("{0}")]
    Malformed(String),
    /// The thing does not exist for this tenant (another tenant's ids land here too).
    #[error("{0}")]
    NotFound(String),
    /// A unique value (email, phone, external id, id) is already taken within the tenant, or the
    /// resource's state forbids the request (`type`: rules on a static group, members on a dynamic one).
    #[error("{message}")]
    Conflict {
        /// The unique field whose value is taken (`id`, `email`, `phone`, `external_id`), or `type`.
        field: String,
        /// Which value is taken; shown to the client.
        message: String,
    },
    /// The item changed between read and write; the client may retry.
    #[error("the resource was changed by another request at the same time; retry the request")]
    ConcurrentUpdate,
    /// A dependency is throttling or briefly down: retryable.
    #[error("the service is temporarily unavailable; retry shortly")]
    Unavailable(String),
    /// A bug or corrupt data: not retryable, details are logged only.
    #[error("internal error")]
    Internal(String),
}

/// The domain's result: the error is a [`DomainError`] unless a caller names another.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

impl DomainError {
    /// A `Validation` error naming the offending input.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A `NotFound` error; the message is shown to the client.
    pub fn not_found(message: impl Into<String>) -> Self {
        DomainError::NotFound(message.into())
    }

    /// A `Conflict` error naming the unique field that is taken.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether a background job should retry after this error.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DomainError::Unavailable(_) | DomainError::ConcurrentUpdate)
    }
}
