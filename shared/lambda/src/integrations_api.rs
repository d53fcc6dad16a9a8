//! The email-provider handlers (issue 16): integrations and their group-to-list mappings.

use crate::api::respond;
use crate::request::{json, json_body, no_content, page, path_id, tenant};
use crate::App;
use cg_domain::destinations::integration::{
    IntegrationChange, IntegrationInput, IntegrationPatch, MappingInput, NewIntegration, NewMapping,
};
use cg_domain::usecases::integrations;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /integrations`.
pub async fn integrations_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("integrations_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = IntegrationInput::try_from(json_body::<NewIntegration>(&req)?)?;
        json(
            201,
            &integrations::create_integration(&app.store, &t, input, app.now()).await?,
        )
    })
    .await
}

/// `GET /integrations`.
pub async fn integrations_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("integrations_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &integrations::list_integrations(&app.store, &t, &page(&req)?).await?,
        )
    })
    .await
}

/// `GET /integrations/{integrationId}`.
pub async fn integrations_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("integrations_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "integrationId")?;
        json(200, &integrations::get_integration(&app.store, &t, &id).await?)
    })
    .await
}

/// `PATCH /integrations/{integrationId}`.
pub async fn integrations_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("integrations_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "integrationId")?;
        let change = IntegrationChange::try_from(json_body::<IntegrationPatch>(&req)?)?;
        json(
            200,
            &integrations::update_integration(&app.store, &t, &id, change, app.now()).await?,
        )
    })
    .await
}

/// `DELETE /integrations/{integrationId}`.
pub async fn integrations_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("integrations_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        integrations::delete_integration(&app.store, &t, &path_id(&req, "integrationId")?).await?;
        Ok(no_content())
    })
    .await
}

/// `POST /integrations/{integrationId}/mappings`.
pub async fn mappings_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("mappings_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let integration = path_id(&req, "integrationId")?;
        let input = MappingInput::try_from(json_body::<NewMapping>(&req)?)?;
        json(
            201,
            &integrations::create_mapping(&app.store, &t, &integration, input, app.now()).await?,
        )
    })
    .await
}

/// `GET /integrations/{integrationId}/mappings`.
pub async fn mappings_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("mappings_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let integration = path_id(&req, "integrationId")?;
        json(200, &integrations::list_mappings(&app.store, &t, &integration).await?)
    })
    .await
}

/// `DELETE /integrations/{integrationId}/mappings/{mappingId}`.
pub async fn mappings_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("mappings_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let integration = path_id(&req, "integrationId")?;
        let id = path_id(&req, "mappingId")?;
        integrations::delete_mapping(&app.store, &t, &integration, &id).await?;
        Ok(no_content())
    })
    .await
}

/// `POST /integrations/{integrationId}/mappings/{mappingId}/resync`.
pub async fn mappings_resync(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("mappings_resync", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let integration = path_id(&req, "integrationId")?;
        let id = path_id(&req, "mappingId")?;
        json(
            202,
            &integrations::resync_mapping(&app.store, &t, &integration, &id).await?,
        )
    })
    .await
}
