//! The import API handlers: create an import (201 with an upload link, or with the file inline), list
//! them, read one (starting its analysis once the file is uploaded; a link to the failure report once
//! done), start one with a mapping (202), cancel one.

use crate::api::respond;
use crate::request::{json, json_body, page, path_id, tenant};
use crate::App;
use cg_domain::import::{ImportRequest, MappingRequest, NewImport};
use cg_domain::usecases::imports;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /imports`.
pub async fn imports_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("imports_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input: NewImport = json_body(&req)?;
        let input = ImportRequest::try_from(input)?;
        json(
            201,
            &imports::create_import(&app.store, &app.store, &t, input, app.now()).await?,
        )
    })
    .await
}

/// `GET /imports`.
pub async fn imports_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("imports_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &imports::list_imports(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

/// `GET /imports/{importId}`.
pub async fn imports_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("imports_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "importId")?;
        json(
            200,
            &imports::get_import(&app.store, &app.store, &t, &id, app.now()).await?,
        )
    })
    .await
}

/// `POST /imports/{importId}/start`.
pub async fn imports_start(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("imports_start", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "importId")?;
        let mapping: MappingRequest = json_body(&req)?;
        json(
            202,
            &imports::start_import(&app.store, &t, &id, mapping, app.now()).await?,
        )
    })
    .await
}

/// `POST /imports/{importId}/cancel`.
pub async fn imports_cancel(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("imports_cancel", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "importId")?;
        json(200, &imports::cancel_import(&app.store, &t, &id, app.now()).await?)
    })
    .await
}
