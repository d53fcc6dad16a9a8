//! The saved-filter handlers (issue 14): CRUD, copy, and save as a group.

use crate::api::respond;
use crate::request::{json, json_body, no_content, page, path_id, tenant};
use crate::App;
use cg_domain::search::saved::{CopyBody, FilterBody, FilterInput, SaveAsGroup, SaveAsGroupBody};
use cg_domain::usecases::filters;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// `POST /filters`.
pub async fn filters_create(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_create", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let input = FilterInput::new_filter(json_body::<FilterBody>(&req)?)?;
        json(201, &filters::create_filter(&app.store, &t, input, app.now()).await?)
    })
    .await
}

/// `GET /filters`.
pub async fn filters_list(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_list", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(200, &filters::list_filters(&app.store, &t, &page(&req)?).await?)
    })
    .await
}

/// `GET /filters/{filterId}`.
pub async fn filters_get(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_get", async {
        let t = tenant(&req, &app.tenant_claim)?;
        json(
            200,
            &filters::get_filter(&app.store, &t, &path_id(&req, "filterId")?).await?,
        )
    })
    .await
}

/// `PATCH /filters/{filterId}`.
pub async fn filters_update(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_update", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "filterId")?;
        let change = FilterInput::change(json_body::<FilterBody>(&req)?)?;
        json(
            200,
            &filters::update_filter(&app.store, &t, &id, change, app.now()).await?,
        )
    })
    .await
}

/// `DELETE /filters/{filterId}`.
pub async fn filters_delete(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_delete", async {
        let t = tenant(&req, &app.tenant_claim)?;
        filters::delete_filter(&app.store, &t, &path_id(&req, "filterId")?).await?;
        Ok(no_content())
    })
    .await
}

/// `POST /filters/{filterId}/copy`.
pub async fn filters_copy(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_copy", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "filterId")?;
        let body: CopyBody = json_body(&req)?;
        json(
            201,
            &filters::copy_filter(&app.store, &t, &id, body.name, app.now()).await?,
        )
    })
    .await
}

/// `POST /filters/{filterId}/groups`.
pub async fn filters_save_as_group(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    respond("filters_save_as_group", async {
        let t = tenant(&req, &app.tenant_claim)?;
        let id = path_id(&req, "filterId")?;
        let to = SaveAsGroup::try_from(json_body::<SaveAsGroupBody>(&req)?)?;
        json(201, &filters::save_as_group(&app.store, &t, &id, to, app.now()).await?)
    })
    .await
}
