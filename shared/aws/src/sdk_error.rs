//! SDK errors to domain errors: throttling and transient faults are retryable `Unavailable`, the rest
//! `Internal`. The SDK's message goes to the error's log detail, never to a client.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use cg_domain::DomainError;

const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflict",
    // S3
    "SlowDown",
    "InternalError",
    "RequestTimeout",
];

/// The domain error of a failed SDK call `operation` (`dynamodb.PutItem`): transient or internal.
pub fn from_sdk<E>(operation: &str, err: SdkError<E, HttpResponse>) -> DomainError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().unwrap_or("").to_owned();
    let detail = format!("{operation}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&err));
    // A 5xx without a modelled error code (an overloaded endpoint) is as transient as a throttle.
    let server_fault = err.raw_response().is_some_and(|r| r.status().is_server_error());
    let transient = server_fault
        || matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        );
    if code == "ValidationException" {
        // The request held a value DynamoDB cannot store (a number out of its range, an item over 400
        // KB, ...). Input checks catch these first; what slips through is the client's to fix, not
        // something a retry would cure. The detail stays in the logs.
        tracing::warn!(detail = %detail, "the store refused a value");
        return DomainError::validation(
            "body",
            "a value of the request cannot be stored (a number out of range or a customer too large); change it and send the request again",
        );
    }
    if transient || RETRYABLE_CODES.contains(&code.as_str()) {
        DomainError::Unavailable(detail)
    } else {
        DomainError::Internal(detail)
    }
}

/// A stored item that no longer deserialises is corrupt data, not bad input.
pub fn corrupt_item(what: &str, err: serde_dynamo::Error) -> DomainError {
    DomainError::Internal(format!("stored {what} item is malformed: {err}"))
}
