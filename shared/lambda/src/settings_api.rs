//! The tenant settings handlers.

use crate::api::respond;
use crate::request::{json, json_body, tenant};
use crate::App;
use cg_domain::settings::SettingsPatch;
use cg_domain::usecases::settings;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `GET /settings`.
pub async fn settings_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("settings_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &settings::get_settings(&app.store, &t).await?)
    })
    .await
}

/// `PATCH /settings`.
pub async fn settings_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("settings_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let patch: SettingsPatch = json_body(&req)?;
        json(200, &settings::update_settings(&app.store, &t, patch, app.now()).await?)
    })
    .await
}
