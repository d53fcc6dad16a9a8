//! A small demo data set for the demo tenant, written through the same use cases as the API.
//! Idempotent: re-running it on a stack that has it changes nothing.

use cg_domain::customer::NewCustomer;
use cg_domain::group::{GroupInput, MemberList, NewGroup, ParsedMembers};
use cg_domain::ids::TenantId;
use cg_domain::usecases::{customers, groups};
use cg_domain::DomainError;
use cg_lambda::App;

pub const DEMO_TENANT: &str = "demo";

const CUSTOMERS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "cust-ana",
        "Ana Kovalenko",
        "ana@example.com",
        "+380501234567",
        "A-1001",
    ),
    ("cust-ben", "Ben Okafor", "ben@example.com", "+442079460958", "A-1002"),
    (
        "cust-chloe",
        "Chloe Martin",
        "chloe@example.com",
        "+33612345678",
        "A-1003",
    ),
    ("cust-dev", "Dev Patel", "dev@example.com", "+14155552671", "A-1004"),
    ("cust-eva", "Eva Novak", "eva@example.com", "+420601123456", "A-1005"),
];

/// Days until each demo customer's news-app subscription renews (Ana and Chloe within a week).
const RENEWS_IN_DAYS: [i64; 5] = [3, 20, 6, 40, 12];

/// Seeds five customers, a static "VIP" group of three and two dynamic groups ("Renewing in 7 days"
/// for the news app, seed 000's example, and "Loyal" by a custom attribute), unless the demo tenant
/// already has groups.
pub async fn seed(app: &App) -> Result<(), DomainError> {
    let tenant = TenantId::parse(DEMO_TENANT)?;
    let now = chrono::Utc::now();
    for ((id, name, email, phone, order), days) in CUSTOMERS.iter().zip(RENEWS_IN_DAYS) {
        let renews_at = (now + chrono::Duration::days(days)).to_rfc3339();
        let input: NewCustomer = serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "email": email, "phone": phone, "order_number": order,
            "signup_date": "2026-01-15",
            "tags": ["demo"],
            "attributes": {"loyalty_points": {"type": "number", "value": 40 * days}},
            "subscriptions": [{"application": "news-app", "plan": "monthly", "status": "active", "paid": true,
                               "subscribed_at": "2026-01-15T09:00:00Z", "renews_at": renews_at}]
        }))
        .map_err(|e| DomainError::Internal(e.to_string()))?;
        match customers::create_customer(&app.store, &tenant, input, now).await {
            Ok(_) | Err(DomainError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let existing = groups::list_groups(&app.store, &tenant, &cg_domain::page::PageRequest::first(1)).await?;
    if existing.items.is_empty() {
        let input: NewGroup = serde_json::from_value(serde_json::json!({"name": "VIP", "type": "static"}))
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let group = groups::create_group(&app.store, &tenant, GroupInput::try_from(input)?, now)
            .await?
            .group;
        let list = MemberList {
            phones: Some("380501234567\n442079460958\n33612345678".into()),
            ..Default::default()
        };
        groups::add_members(&app.store, &tenant, &group.id, ParsedMembers::try_from(list)?, now).await?;
        for body in [
            serde_json::json!({"name": "Renewing in 7 days", "type": "dynamic",
                "rules": {"lifecycle": {"states": ["renewing"], "applications": ["news-app"], "timing": {"before_days": 7}}}}),
            serde_json::json!({"name": "Loyal", "type": "dynamic",
                "rules": {"attribute": {"field": "attributes.loyalty_points", "op": ">=", "value": 500}}}),
        ] {
            let input: NewGroup = serde_json::from_value(body).map_err(|e| DomainError::Internal(e.to_string()))?;
            groups::create_group(&app.store, &tenant, GroupInput::try_from(input)?, now).await?;
        }
    }
    Ok(())
}
