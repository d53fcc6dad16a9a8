//! The customer merge handlers (issue 15 item 5): preview a merge, perform it. A 409 lists every
//! identity conflict beside the first one's `field`.

use crate::api::respond;
use crate::balance_api::actor;
use crate::http_error::{error_with, ApiError};
use crate::request::{json, json_body, tenant};
use crate::App;
use cg_domain::merge::{MergeBody, MergeInput};
use cg_domain::usecases::merge::{self, MergeOptions};
use cg_domain::DomainError;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map};
use std::convert::Infallible;

/// `POST /customers/merge/preview`.
pub async fn customers_merge_preview(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_merge_preview", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = MergeInput::try_from(json_body::<MergeBody>(&req)?)?;
        json(
            200,
            &merge::preview(&app.store, &t, &input, &actor(&req)?, app.now()).await?,
        )
    })
    .await
}

/// `POST /customers/merge`.
pub async fn customers_merge(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("customers_merge", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = MergeInput::try_from(json_body::<MergeBody>(&req)?)?;
        let who = actor(&req)?;
        match Box::pin(merge::merge(
            &app.store,
            &t,
            &input,
            &who,
            app.now(),
            MergeOptions::default(),
        ))
        .await
        {
            Ok(done) => json(200, &done),
            Err(DomainError::Conflict { field, message }) => {
                // Name every conflict, not only the first (nothing was written; the preview re-reads).
                let conflicts = match merge::preview(&app.store, &t, &input, &who, app.now()).await {
                    Ok(p) => serde_json::to_value(p.conflicts).unwrap_or_default(),
                    Err(_) => json!([]),
                };
                let mut extra = Map::new();
                extra.insert("field".into(), field.into());
                extra.insert("conflicts".into(), conflicts);
                Ok(error_with(409, "conflict", &message, extra))
            }
            Err(e) => Err(ApiError::from(e)),
        }
    })
    .await
}
