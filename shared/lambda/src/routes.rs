//! The route table: method, path template (API Gateway syntax), the handler and the Lambda binary that
//! serves it. The dev server routes with it; tests check it against template.yaml and the OpenAPI document.

use crate::api;
use crate::balance_api;
use crate::bulk_api;
use crate::console;
use crate::export_api;
use crate::filter_api;
use crate::import_api;
use crate::integrations_api;
use crate::merge_api;
use crate::search_api;
use crate::settings_api;
use crate::timeline_api;
use crate::webhooks_api;
use crate::App;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;

/// One line per API action: the action, its method and path template, its handler, the `[[bin]]`
/// in `functions/` that serves it in AWS, and what it does. The macro turns the table into the
/// `Action` enum, `ROUTES` and `dispatch`, so a new route is one line here.
macro_rules! route_table {
    ($($action:ident: $method:ident $path:literal => $handler:path, $binary:literal, $doc:literal;)*) => {
        /// An API action, one per Lambda function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = concat!("`", stringify!($method), " ", $path, "`: ", $doc)]
                $action,
            )*
        }

        /// Every endpoint of the API; tests hold template.yaml and the OpenAPI document to it.
        pub const ROUTES: &[Route] = &[
            $(Route { method: stringify!($method), path: $path, action: Action::$action, binary: $binary },)*
        ];

        /// Calls the handler of an action. Each handler's future is boxed: inline, the match holds
        /// every handler's state at once, and a debug build's frames for the deepest request paths
        /// (the SDK under an import's create) overflowed a 2 MiB worker stack of the dev server.
        pub async fn dispatch(action: Action, app: &App, req: Request) -> Result<Response<Body>, Infallible> {
            match action {
                $(Action::$action => Box::pin($handler(app, req)).await,)*
            }
        }
    };
}

route_table! {
    CustomersCreate: POST "/customers" => api::customers_create, "api-customers-create", "create a customer.";
    CustomersList: GET "/customers" => api::customers_list, "api-customers-list", "a page of customers.";
    CustomersGet: GET "/customers/{customerId}" => api::customers_get, "api-customers-get", "one customer.";
    CustomersUpdate: PATCH "/customers/{customerId}" => api::customers_update, "api-customers-update", "merge-patch a customer.";
    CustomersDelete: DELETE "/customers/{customerId}" => api::customers_delete, "api-customers-delete", "leave every group, then delete the customer.";
    GroupsCreate: POST "/groups" => api::groups_create, "api-groups-create", "create a static or dynamic group.";
    GroupsList: GET "/groups" => api::groups_list, "api-groups-list", "a page of groups.";
    GroupsGet: GET "/groups/{groupId}" => api::groups_get, "api-groups-get", "one group, with the live progress of its resync.";
    GroupsUpdate: PATCH "/groups/{groupId}" => api::groups_update, "api-groups-update", "rename, or change a dynamic group's rules or settings.";
    GroupsDelete: DELETE "/groups/{groupId}" => api::groups_delete, "api-groups-delete", "hide the group and queue the purge of its members (202).";
    GroupMembersAdd: POST "/groups/{groupId}/members" => api::group_members_add, "api-group-members-add", "add customers to a static group by id, email or phone.";
    GroupMembersList: GET "/groups/{groupId}/members" => api::group_members_list, "api-group-members-list", "a page of a group's members.";
    GroupMembersRemove: DELETE "/groups/{groupId}/members/{customerId}" => api::group_members_remove, "api-group-members-remove", "remove one member of a static group.";
    GroupsResync: POST "/groups/{groupId}/resync" => api::groups_resync, "api-groups-resync", "queue a resync of a dynamic group (202).";
    GroupsPreview: POST "/groups/preview" => api::groups_preview, "api-groups-preview", "a draft definition's match count and sample, before saving.";
    GroupsExplain: GET "/groups/{groupId}/explain/{customerId}" => api::groups_explain, "api-groups-explain", "the rule tree with what matched, and the next change.";
    GroupHistoryList: GET "/groups/{groupId}/history" => api::group_history_list, "api-group-history-list", "entries and exits, newest first.";
    GroupTemplatesList: GET "/group-templates" => api::group_templates_list, "api-group-templates-list", "the built-in templates a dynamic group can start from.";
    EventsIngest: POST "/events" => api::events_ingest, "api-events-ingest", "ingest 1 to 500 lifecycle and activity events.";
    ExportsCreateGroup: POST "/groups/{groupId}/exports" => export_api::exports_create_group, "api-exports-create-group", "queue an export of a group's members (202).";
    ExportsCreateCustomers: POST "/customers/exports" => export_api::exports_create_customers, "api-exports-create-customers", "queue an export of the tenant's customers (202).";
    ExportsGet: GET "/exports/{exportId}" => export_api::exports_get, "api-exports-get", "one export, with a fresh download link once done.";
    SettingsGet: GET "/settings" => settings_api::settings_get, "api-settings-get", "the tenant's settings (renewal grace).";
    SettingsUpdate: PATCH "/settings" => settings_api::settings_update, "api-settings-update", "change the tenant's settings; a new grace resyncs the dynamic groups.";
    ExportsList: GET "/exports" => export_api::exports_list, "api-exports-list", "a page of exports, newest first.";
    WebhooksCreate: POST "/webhooks" => webhooks_api::webhooks_create, "api-webhooks-create", "create a webhook endpoint; its signing secret is returned once.";
    WebhooksList: GET "/webhooks" => webhooks_api::webhooks_list, "api-webhooks-list", "a page of webhook endpoints.";
    WebhooksGet: GET "/webhooks/{webhookId}" => webhooks_api::webhooks_get, "api-webhooks-get", "one webhook endpoint (never its secret).";
    WebhooksUpdate: PATCH "/webhooks/{webhookId}" => webhooks_api::webhooks_update, "api-webhooks-update", "change, disable or enable a webhook endpoint.";
    WebhooksDelete: DELETE "/webhooks/{webhookId}" => webhooks_api::webhooks_delete, "api-webhooks-delete", "delete a webhook endpoint.";
    WebhooksRotateSecret: POST "/webhooks/{webhookId}/rotate-secret" => webhooks_api::webhooks_rotate_secret, "api-webhooks-rotate-secret", "a new signing secret (shown once); the old one signs too during the overlap.";
    WebhookDeliveriesList: GET "/webhooks/{webhookId}/deliveries" => webhooks_api::webhook_deliveries_list, "api-webhook-deliveries-list", "the endpoint's delivery log, newest first.";
    WebhookDeliveriesReplay: POST "/webhooks/{webhookId}/deliveries/{deliveryId}/replay" => webhooks_api::webhook_deliveries_replay, "api-webhook-deliveries-replay", "send a message again with the same id and body (202).";
    IntegrationsCreate: POST "/integrations" => integrations_api::integrations_create, "api-integrations-create", "connect an email provider account (SmartEmailing).";
    IntegrationsList: GET "/integrations" => integrations_api::integrations_list, "api-integrations-list", "a page of integrations.";
    IntegrationsGet: GET "/integrations/{integrationId}" => integrations_api::integrations_get, "api-integrations-get", "one integration (never its credentials).";
    IntegrationsUpdate: PATCH "/integrations/{integrationId}" => integrations_api::integrations_update, "api-integrations-update", "rename an integration or replace its credentials.";
    IntegrationsDelete: DELETE "/integrations/{integrationId}" => integrations_api::integrations_delete, "api-integrations-delete", "delete an integration and its mappings.";
    MappingsCreate: POST "/integrations/{integrationId}/mappings" => integrations_api::mappings_create, "api-mappings-create", "keep a group on a provider list; pushes every member.";
    MappingsList: GET "/integrations/{integrationId}/mappings" => integrations_api::mappings_list, "api-mappings-list", "an integration's mappings with their sync status.";
    MappingsDelete: DELETE "/integrations/{integrationId}/mappings/{mappingId}" => integrations_api::mappings_delete, "api-mappings-delete", "stop keeping a group on a list.";
    MappingsResync: POST "/integrations/{integrationId}/mappings/{mappingId}/resync" => integrations_api::mappings_resync, "api-mappings-resync", "push every member of the mapping's group again (202).";
    ImportsCreate: POST "/imports" => import_api::imports_create, "api-imports-create", "create an import: an upload link, or the file inline.";
    ImportsList: GET "/imports" => import_api::imports_list, "api-imports-list", "a page of imports, newest first.";
    ImportsGet: GET "/imports/{importId}" => import_api::imports_get, "api-imports-get", "one import: analysis once uploaded, the failure report once done.";
    ImportsStart: POST "/imports/{importId}/start" => import_api::imports_start, "api-imports-start", "start an analysed import with its mapping (202).";
    CustomerLedgerList: GET "/customers/{customerId}/ledger" => balance_api::customer_ledger_list, "api-customer-ledger-list", "a customer's balance ledger, newest first.";
    BalanceAdjustmentsCreate: POST "/customers/{customerId}/balance-adjustments" => balance_api::balance_adjustments_create, "api-balance-adjustments-create", "set or adjust one customer's balance, once per idempotency key.";
    BalanceOperationsCreate: POST "/groups/{groupId}/balance-operations" => balance_api::balance_operations_create, "api-balance-operations-create", "set or adjust the balance of every member of a group (202).";
    BalanceOperationsGet: GET "/balance-operations/{operationId}" => balance_api::balance_operations_get, "api-balance-operations-get", "one group balance operation with its progress and counts.";
    // Timeline and communication history (issue 15 parts 7 and 8).
    CommunicationsCreate: POST "/communications" => timeline_api::communications_create, "api-communications-create", "record 1 to 500 messages sent to customers, once per provider message id.";
    CustomerCommunicationsList: GET "/customers/{customerId}/communications" => timeline_api::customer_communications_list, "api-customer-communications-list", "a customer's messages, newest first.";
    CustomerTimelineCreate: POST "/customers/{customerId}/timeline" => timeline_api::customer_timeline_create, "api-customer-timeline-create", "record a manual event on a customer's timeline.";
    CustomerTimelineList: GET "/customers/{customerId}/timeline" => timeline_api::customer_timeline_list, "api-customer-timeline-list", "a customer's timeline, newest first, by type and time.";
    CustomersSearch: POST "/customers/search" => search_api::customers_search, "api-customers-search", "a page of the customers a filter matches, with chosen fields and a cursor.";
    CustomersCount: POST "/customers/count" => search_api::customers_count, "api-customers-count", "the exact number of customers a filter matches (202 with a count job for a large tenant).";
    CountJobsGet: GET "/count-jobs/{jobId}" => search_api::count_jobs_get, "api-count-jobs-get", "a count job with its progress, and its exact count once done.";
    FiltersCreate: POST "/filters" => filter_api::filters_create, "api-filters-create", "save a filter.";
    FiltersList: GET "/filters" => filter_api::filters_list, "api-filters-list", "a page of saved filters, oldest first.";
    FiltersGet: GET "/filters/{filterId}" => filter_api::filters_get, "api-filters-get", "one saved filter.";
    FiltersUpdate: PATCH "/filters/{filterId}" => filter_api::filters_update, "api-filters-update", "rename a saved filter or replace its filter.";
    FiltersDelete: DELETE "/filters/{filterId}" => filter_api::filters_delete, "api-filters-delete", "delete a saved filter.";
    FiltersCopy: POST "/filters/{filterId}/copy" => filter_api::filters_copy, "api-filters-copy", "copy a saved filter.";
    FiltersSaveAsGroup: POST "/filters/{filterId}/groups" => filter_api::filters_save_as_group, "api-filters-save-as-group", "save a filter as a dynamic group or a static snapshot.";
    // Bulk actions (issue 14).
    CustomersBulkModify: POST "/customers/bulk-modify" => bulk_api::customers_bulk_modify, "api-customers-bulk-modify", "modify every customer of a target: attributes, profile fields, tags (202 with the job).";
    CustomersBulkDeletePreview: POST "/customers/bulk-delete/preview" => bulk_api::customers_bulk_delete_preview, "api-customers-bulk-delete-preview", "count a bulk delete's customers: the statement and a single-use confirmation token.";
    CustomersBulkDelete: POST "/customers/bulk-delete" => bulk_api::customers_bulk_delete, "api-customers-bulk-delete", "delete every customer of a previewed target (token, agree, reason; 202 with the job).";
    CustomersMergePreview: POST "/customers/merge/preview" => merge_api::customers_merge_preview, "api-customers-merge-preview", "the customer as it would be after merging another into it, with every identity conflict (writes nothing).";
    CustomersMerge: POST "/customers/merge" => merge_api::customers_merge, "api-customers-merge", "merge the secondary customer into the primary, exactly once (409 on identity conflicts).";
    BulkJobsGet: GET "/bulk-jobs/{jobId}" => bulk_api::bulk_jobs_get, "api-bulk-jobs-get", "a bulk modify or delete with its progress and counts.";
    AuditList: GET "/audit" => bulk_api::audit_list, "api-audit-list", "the audit log of bulk modifies and deletes, newest first.";
    ImportsCancel: POST "/imports/{importId}/cancel" => import_api::imports_cancel, "api-imports-cancel", "cancel an import after the batch in flight.";
    ConsolePage: GET "/console" => console::console, "api-console", "the admin console's page (no authorizer).";
    ConsoleAsset: GET "/console/{proxy+}" => console::console, "api-console", "a module, style sheet or image of the admin console (no authorizer).";
}

/// The routes API Gateway serves without the JWT authorizer: the console's static files, which carry
/// no tenant data (the page's API calls send the token).
pub const PUBLIC: &[Action] = &[Action::ConsolePage, Action::ConsoleAsset];

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

/// A matched route's path parameters (name, percent-decoded value).
type Params = Vec<(String, String)>;

/// Matches a method and path against the table, as API Gateway would.
pub fn match_route(method: &str, path: &str) -> Matched {
    let Some(given) = segments(path) else {
        return Matched::NotFound;
    };
    // As API Gateway: among the templates that fit, the most specific one (most literal segments) wins,
    // so `/customers/exports` is not `/customers/{customerId}`; a 405 lists that template's methods.
    let mut fits: Vec<(usize, &'static Route, Params)> = Vec::new();
    for route in ROUTES {
        let mut template: Vec<&str> = route.path.trim_matches('/').split('/').collect();
        // A greedy last segment (`{proxy+}`) takes the rest of the path, one segment or more.
        let mut greedy = None;
        if let Some(name) = template.last().and_then(|t| t.strip_prefix('{')?.strip_suffix("+}")) {
            if given.len() < template.len() || given[template.len() - 1..].iter().any(String::is_empty) {
                continue;
            }
            greedy = Some((name.to_owned(), given[template.len() - 1..].join("/")));
            template.pop();
        }
        let given = &given[..if greedy.is_some() { template.len() } else { given.len() }];
        if template.len() != given.len() {
            continue;
        }
        let mut params = Vec::new();
        let mut literal = 0;
        let fit =
            template
                .iter()
                .zip(given)
                .all(|(t, g)| match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) => {
                        params.push((name.to_owned(), g.clone()));
                        !g.is_empty()
                    }
                    None => {
                        literal += 1;
                        t == g
                    }
                });
        if fit {
            params.extend(greedy);
            fits.push((literal, route, params));
        }
    }
    let best_for_method = fits
        .iter()
        .filter(|(_, r, _)| r.method == method)
        .max_by_key(|(literal, _, _)| *literal);
    if let Some((_, route, params)) = best_for_method {
        return Matched::Route(route, params.clone());
    }
    match fits.iter().map(|(literal, _, _)| *literal).max() {
        None => Matched::NotFound,
        Some(best) => Matched::MethodNotAllowed(
            fits.iter()
                .filter(|(literal, _, _)| *literal == best)
                .map(|(_, r, _)| r.method)
                .collect(),
        ),
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
        match match_route("OPTIONS", "/customers/exports") {
            Matched::MethodNotAllowed(allowed) => assert_eq!(allowed, ["POST"], "the literal path's methods only"),
            _ => panic!("OPTIONS /customers/exports is a 405"),
        }
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
    fn a_greedy_segment_takes_the_rest_of_the_path() {
        match match_route("GET", "/console/screens/groups.js") {
            Matched::Route(r, p) => {
                assert_eq!(r.action, Action::ConsoleAsset);
                assert_eq!(p, vec![("proxy".into(), "screens/groups.js".into())]);
            }
            _ => panic!("should match"),
        }
        assert!(matches!(match_route("GET", "/console"), Matched::Route(r, _) if r.action == Action::ConsolePage));
        assert!(matches!(
            match_route("POST", "/console/app.js"),
            Matched::MethodNotAllowed(_)
        ));
    }

    #[test]
    fn every_binary_name_is_unique() {
        // The console's page and assets are one function (one HttpApi integration, two routes).
        let routes: Vec<_> = ROUTES.iter().filter(|r| r.action != Action::ConsolePage).collect();
        let mut names: Vec<_> = routes.iter().map(|r| r.binary).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), routes.len());
    }
}
