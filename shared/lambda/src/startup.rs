//! A function binary's cold start: the `App` from the environment, or, when the configuration is
//! unusable, its reason posted to the Lambda Runtime API's `/init/error` and a non-zero exit. Lambda
//! then shows the reason as the init failure of every invocation, instead of "Runtime exited".

use crate::App;
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};

/// The Runtime API path an init failure is reported to.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// The `errorType` of a configuration Lambda cannot run with.
pub const CONFIG_ERROR_TYPE: &str = "Runtime.InvalidConfig";

/// Reads the configuration and builds the clients once; on failure reports it and exits with status 1.
pub async fn app() -> App {
    match App::from_env().await {
        Ok(app) => app,
        Err(e) => {
            let message = e.to_string();
            tracing::error!(error = %message, "cold start failed");
            report_init_error(&message).await;
            std::process::exit(1);
        }
    }
}

/// Posts the init failure to the Runtime API (when there is one: a binary run by hand has none).
async fn report_init_error(message: &str) {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    let diagnostic = Diagnostic {
        error_type: CONFIG_ERROR_TYPE.into(),
        error_message: message.into(),
    };
    let request = serde_json::to_vec(&diagnostic)
        .map_err(lambda_runtime::Error::from)
        .and_then(|body| {
            build_request()
                .method(http::Method::POST)
                .uri(INIT_ERROR_PATH)
                .header("lambda-runtime-function-error-type", CONFIG_ERROR_TYPE)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .map_err(Into::into)
        });
    let sent = match request {
        Ok(request) => PooledClient::builder().build().call(request).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::error!(error = %e, "could not report the init error to the Runtime API");
    }
}
