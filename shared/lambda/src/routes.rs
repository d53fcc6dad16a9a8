//! The route table: method, path template (API Gateway syntax), the handler and the Lambda binary that
//! serves it. The dev server routes with it; tests check it against template.yaml and the OpenAPI document.

use crate::api;
use crate::export_api;
use crate::App;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// An API action, one per Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /customers`: create a customer.
    CustomersCreate,
    /// `GET /customers`: a page of customers.
    CustomersList,
    /// `GET /customers/{customerId}`: one customer.
    CustomersGet,
    /// `PATCH /customers/{customerId}`: merge-patch a customer.
    CustomersUpdate,
    /// `DELETE /customers/{customerId}`: leave every group, then delete the customer.
    CustomersDelete,
    /// `POST /groups`: create a static or dynamic group.
    GroupsCreate,
    /// `GET /groups`: a page of groups.
    GroupsList,
    /// `GET /groups/{groupId}`: one group, with the live progress of its resync.
    GroupsGet,
    /// `PATCH /groups/{groupId}`: rename, or change a dynamic group's rules or settings.
    GroupsUpdate,
    /// `DELETE /groups/{groupId}`: hide the group and queue the purge of its members (202).
    GroupsDelete,
    /// `POST /groups/{groupId}/members`: add customers to a static group by id, email or phone.
    GroupMembersAdd,
    /// `GET /groups/{groupId}/members`: a page of a group's members.
    GroupMembersList,
    /// `DELETE /groups/{groupId}/members/{customerId}`: remove one member of a static group.
    GroupMembersRemove,
    /// `POST /groups/{groupId}/resync`: queue a resync of a dynamic group (202).
    GroupsResync,
    /// `POST /groups/preview`: a draft definition's match count and sample, before saving.
    GroupsPreview,
    /// `GET /groups/{groupId}/explain/{customerId}`: the rule tree with what matched, and the next change.
    GroupsExplain,
    /// `GET /groups/{groupId}/history`: entries and exits, newest first.
    GroupHistoryList,
    /// `GET /group-templates`: the built-in templates a dynamic group can start from.
    GroupTemplatesList,
    /// `POST /events`: ingest 1 to 500 lifecycle and activity events.
    EventsIngest,
    /// `POST /groups/{groupId}/exports`: queue an export of a group's members (202).
    ExportsCreateGroup,
    /// `POST /customers/exports`: queue an export of the tenant's customers (202).
    ExportsCreateCustomers,
    /// `GET /exports/{exportId}`: one export, with a fresh download link once done.
    ExportsGet,
    /// `GET /exports`: a page of exports, newest first.
    ExportsList,
}

/// One row of the route table: an endpoint and what serves it.
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template in API Gateway syntax, e.g. `/groups/{groupId}`.
    pub path: &'static str,
    /// The handler [`dispatch`] calls.
    pub action: Action,
    /// The `[[bin]]` in `functions/` that serves this route in AWS.
    pub binary: &'static str,
}

/// Every endpoint of the API; tests hold template.yaml and the OpenAPI document to it.
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        path: "/customers",
        action: Action::CustomersCreate,
        binary: "api-customers-create",
    },
    Route {
        method: "GET",
        path: "/customers",
        action: Action::CustomersList,
        binary: "api-customers-list",
    },
    Route {
        method: "GET",
        path: "/customers/{customerId}",
        action: Action::CustomersGet,
        binary: "api-customers-get",
    },
    Route {
        method: "PATCH",
        path: "/customers/{customerId}",
        action: Action::CustomersUpdate,
        binary: "api-customers-update",
    },
    Route {
        method: "DELETE",
        path: "/customers/{customerId}",
        action: Action::CustomersDelete,
        binary: "api-customers-delete",
    },
    Route {
        method: "POST",
        path: "/groups",
        action: Action::GroupsCreate,
        binary: "api-groups-create",
    },
    Route {
        method: "GET",
        path: "/groups",
        action: Action::GroupsList,
        binary: "api-groups-list",
    },
    Route {
        method: "GET",
        path: "/groups/{groupId}",
        action: Action::GroupsGet,
        binary: "api-groups-get",
    },
    Route {
        method: "PATCH",
        path: "/groups/{groupId}",
        action: Action::GroupsUpdate,
        binary: "api-groups-update",
    },
    Route {
        method: "DELETE",
        path: "/groups/{groupId}",
        action: Action::GroupsDelete,
        binary: "api-groups-delete",
    },
    Route {
        method: "POST",
        path: "/groups/{groupId}/members",
        action: Action::GroupMembersAdd,
        binary: "api-group-members-add",
    },
    Route {
        method: "GET",
        path: "/groups/{groupId}/members",
        action: Action::GroupMembersList,
        binary: "api-group-members-list",
    },
    Route {
        method: "DELETE",
        path: "/groups/{groupId}/members/{customerId}",
        action: Action::GroupMembersRemove,
        binary: "api-group-members-remove",
    },
    Route {
        method: "POST",
        path: "/groups/{groupId}/resync",
        action: Action::GroupsResync,
        binary: "api-groups-resync",
    },
    Route {
        method: "POST",
        path: "/groups/preview",
        action: Action::GroupsPreview,
        binary: "api-groups-preview",
    },
    Route {
        method: "GET",
        path: "/groups/{groupId}/explain/{customerId}",
        action: Action::GroupsExplain,
        binary: "api-groups-explain",
    },
    Route {
        method: "GET",
        path: "/groups/{groupId}/history",
        action: Action::GroupHistoryList,
        binary: "api-group-history-list",
    },
    Route {
        method: "GET",
        path: "/group-templates",
        action: Action::GroupTemplatesList,
        binary: "api-group-templates-list",
    },
    Route {
        method: "POST",
        path: "/events",
        action: Action::EventsIngest,
        binary: "api-events-ingest",
    },
    Route {
        method: "POST",
        path: "/groups/{groupId}/exports",
        action: Action::ExportsCreateGroup,
        binary: "api-exports-create-group",
    },
    Route {
        method: "POST",
        path: "/customers/exports",
        action: Action::ExportsCreateCustomers,
        binary: "api-exports-create-customers",
    },
    Route {
        method: "GET",
        path: "/exports/{exportId}",
        action: Action::ExportsGet,
        binary: "api-exports-get",
    },
    Route {
        method: "GET",
        path: "/exports",
        action: Action::ExportsList,
        binary: "api-exports-list",
    },
];

/// Calls the handler of an action.
pub async fn dispatch(action: Action, app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    match action {
        Action::CustomersCreate => api::customers_create(app, req).await,
        Action::CustomersList => api::customers_list(app, req).await,
        Action::CustomersGet => api::customers_get(app, req).await,
        Action::CustomersUpdate => api::customers_update(app, req).await,
        Action::CustomersDelete => api::customers_delete(app, req).await,
        Action::GroupsCreate => api::groups_create(app, req).await,
        Action::GroupsList => api::groups_list(app, req).await,
        Action::GroupsGet => api::groups_get(app, req).await,
        Action::GroupsUpdate => api::groups_update(app, req).await,
        Action::GroupsDelete => api::groups_delete(app, req).await,
        Action::GroupMembersAdd => api::group_members_add(app, req).await,
        Action::GroupMembersList => api::group_members_list(app, req).await,
        Action::GroupMembersRemove => api::group_members_remove(app, req).await,
        Action::GroupsResync => api::groups_resync(app, req).await,
        Action::GroupsPreview => api::groups_preview(app, req).await,
        Action::GroupsExplain => api::groups_explain(app, req).await,
        Action::GroupHistoryList => api::group_history_list(app, req).await,
        Action::GroupTemplatesList => api::group_templates_list(app, req).await,
        Action::EventsIngest => api::events_ingest(app, req).await,
        Action::ExportsCreateGroup => export_api::exports_create_group(app, req).await,
        Action::ExportsCreateCustomers => export_api::exports_create_customers(app, req).await,
        Action::ExportsGet => export_api::exports_get(app, req).await,
        Action::ExportsList => export_api::exports_list(app, req).await,
    }
}

/// Percent-decoded path segments; `None` if a segment is not valid UTF-8 after decoding.
fn segments(path: &str) -> Option<Vec<String>> {
    path.trim_matches('/')
        .split('/')
        .map(|seg| {
            let bytes = seg.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).ok()
        })
        .collect()
}

/// What a path matched: the route and its parameters, or which methods the path allows.
pub enum Matched {
    /// A route matched, with its path parameters (name, percent-decoded value).
    Route(&'static Route, Vec<(String, String)>),
    /// The path exists, not for this method: the methods it allows (405).
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path (404).
    NotFound,
}

/// Matches a method and path against the table, as API Gateway would.
pub fn match_route(method: &str, path: &str) -> Matched {
    let Some(given) = segments(path) else {
        return Matched::NotFound;
    };
    let mut allowed = Vec::new();
    for route in ROUTES {
        let template: Vec<&str> = route.path.trim_matches('/').split('/').collect();
        if template.len() != given.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits =
            template
                .iter()
                .zip(&given)
                .all(|(t, g)| match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) => {
                        params.push((name.to_owned(), g.clone()));
                        !g.is_empty()
                    }
                    None => t == g,
                });
        if fits {
            if route.method == method {
                return Matched::Route(route, params);
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates_and_decode_parameters() {
        match match_route("DELETE", "/groups/g1/members/a%3Ab") {
            Matched::Route(r, p) => {
                assert_eq!(r.action, Action::GroupMembersRemove);
                assert_eq!(
                    p,
                    vec![("groupId".into(), "g1".into()), ("customerId".into(), "a:b".into())]
                );
            }
            _ => panic!("should match"),
        }
        assert!(matches!(match_route("PUT", "/groups"), Matched::MethodNotAllowed(_)));
        assert!(matches!(match_route("GET", "/nope"), Matched::NotFound));
        assert!(matches!(match_route("GET", "/customers/%ZZ"), Matched::NotFound));
        // The customer export sits beside the customer id routes without shadowing them.
        assert!(
            matches!(match_route("POST", "/customers/exports"), Matched::Route(r, _) if r.action == Action::ExportsCreateCustomers)
        );
        assert!(
            matches!(match_route("GET", "/customers/exports"), Matched::Route(r, _) if r.action == Action::CustomersGet)
        );
    }

    #[test]
    fn every_binary_name_is_unique() {
        let mut names: Vec<_> = ROUTES.iter().map(|r| r.binary).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ROUTES.len());
    }
}
