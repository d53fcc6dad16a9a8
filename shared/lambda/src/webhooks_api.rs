//! The webhook handlers (issue 16): endpoints, their secret, their delivery log and replays.

use crate::api::respond;
use crate::request::{json, json_body, no_content, page, path_id, tenant};
use crate::App;
use cg_domain::destinations::webhook::{NewWebhook, UrlPolicy, WebhookChange, WebhookInput, WebhookPatch};
use cg_domain::usecases::webhooks;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

fn policy(app: &App) -> UrlPolicy {
    UrlPolicy {
        allow_local: app.store.destinations.allow_local,
    }
}

/// `POST /webhooks`.
pub async fn webhooks_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = WebhookInput::try_from(json_body::<NewWebhook>(&req)?)?;
        json(
            201,
            &webhooks::create_webhook(&app.store, &t, input, policy(app), app.now()).await?,
        )
    })
    .await
}

/// `GET /webhooks`.
pub async fn webhooks_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &webhooks::list_webhooks(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

/// `GET /webhooks/{webhookId}`.
pub async fn webhooks_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "webhookId")?;
        json(200, &webhooks::get_webhook(&app.store, &t, &id).await?)
    })
    .await
}

/// `PATCH /webhooks/{webhookId}`.
pub async fn webhooks_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "webhookId")?;
        let change = WebhookChange::try_from(json_body::<WebhookPatch>(&req)?)?;
        json(
            200,
            &webhooks::update_webhook(&app.store, &t, &id, change, policy(app), app.now()).await?,
        )
    })
    .await
}

/// `DELETE /webhooks/{webhookId}`.
pub async fn webhooks_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        webhooks::delete_webhook(&app.store, &t, &path_id(&req, "webhookId")?).await?;
        Ok(no_content())
    })
    .await
}

/// `POST /webhooks/{webhookId}/rotate-secret`.
pub async fn webhooks_rotate_secret(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhooks_rotate_secret", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "webhookId")?;
        let policy = app.store.destinations.policy();
        json(
            200,
            &webhooks::rotate_secret(&app.store, &t, &id, &policy, app.now()).await?,
        )
    })
    .await
}

/// `GET /webhooks/{webhookId}/deliveries`.
pub async fn webhook_deliveries_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhook_deliveries_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "webhookId")?;
        json(
            200,
            &webhooks::list_deliveries(&app.store, &t, &id, &page(&req)?).await?,
        )
    })
    .await
}

/// `POST /webhooks/{webhookId}/deliveries/{deliveryId}/replay`.
pub async fn webhook_deliveries_replay(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("webhook_deliveries_replay", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let webhook = path_id(&req, "webhookId")?;
        let delivery = path_id(&req, "deliveryId")?;
        // Wall clock: the attempt's schedule runs in real time (see usecases::deliver).
        let now = chrono::Utc::now();
        json(202, &webhooks::replay(&app.store, &t, &webhook, &delivery, now).await?)
    })
    .await
}
