//! Renewals that never came. A billing system that misses the renewal, cancellation and expiry events
//! would leave a subscription "subscribed" forever; seed 000 promises that a customer whose
//! subscription "has expired or some other reason" leaves the group by itself. So an active,
//! auto-renewing subscription whose `renews_at` passed more than the tenant's grace period ago ends:
//! it becomes expired, dated at the renewal date (`expires_at = renews_at`). The membership pass
//! applies this before evaluating, and the customer's next wake-up includes the instant it happens.

use crate::customer::{Customer, Subscription, SubscriptionStatus};
use chrono::{DateTime, Duration, Utc};

/// The instant a subscription lapses, if it can: active, not canceled, a renewal date, and no expiry
/// of its own after that date (then the subscription's own expiry governs).
fn lapses_at(s: &Subscription, grace: Duration) -> Option<DateTime<Utc>> {
    let renews = s.renews_at?;
    let open = s.status == SubscriptionStatus::Active && s.canceled_at.is_none();
    (open && s.expires_at.is_none_or(|e| e <= renews)).then(|| renews + grace)
}

/// Ends every subscription of the customer that has lapsed at `now`; whether any did.
pub fn lapse_renewals(c: &mut Customer, now: DateTime<Utc>, grace_days: u32) -> bool {
    let grace = Duration::days(i64::from(grace_days));
    let mut changed = false;
    for s in &mut c.subscriptions {
        if lapses_at(s, grace).is_some_and(|at| at <= now) {
            s.status = SubscriptionStatus::Expired;
            s.expires_at = s.renews_at.take();
            changed = true;
        }
    }
    changed
}

/// The earliest future instant at which one of the customer's subscriptions lapses.
pub fn next_lapse(c: &Customer, now: DateTime<Utc>, grace_days: u32) -> Option<DateTime<Utc>> {
    let grace = Duration::days(i64::from(grace_days));
    c.subscriptions
        .iter()
        .filter_map(|s| lapses_at(s, grace))
        .filter(|at| *at > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::NewCustomer;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn renewing(renews_at: &str) -> Customer {
        serde_json::from_value::<NewCustomer>(serde_json::json!({
            "id": "c", "subscriptions": [{"application": "news", "status": "active", "renews_at": renews_at}]
        }))
        .unwrap()
        .into_customer(at("2026-01-01T00:00:00Z"))
        .unwrap()
    }

    #[test]
    fn a_missed_renewal_expires_at_its_renewal_date_once_the_grace_has_passed() {
        let mut c = renewing("2026-03-01T00:00:00Z");
        let due = at("2026-03-04T00:00:00Z");
        assert_eq!(next_lapse(&c, at("2026-03-01T00:00:00Z"), 3), Some(due));
        assert!(
            !lapse_renewals(&mut c, due - Duration::seconds(1), 3),
            "one second before the boundary"
        );
        assert_eq!(c.subscriptions[0].status, SubscriptionStatus::Active);
        assert!(lapse_renewals(&mut c, due, 3), "at the boundary");
        let s = &c.subscriptions[0];
        assert_eq!(
            (s.status, s.expires_at, s.renews_at),
            (SubscriptionStatus::Expired, Some(at("2026-03-01T00:00:00Z")), None)
        );
        assert_eq!(next_lapse(&c, due, 3), None, "nothing left to lapse");
    }

    #[test]
    fn canceled_or_self_expiring_subscriptions_do_not_lapse() {
        let mut c = renewing("2026-03-01T00:00:00Z");
        c.subscriptions[0].canceled_at = Some(at("2026-02-01T00:00:00Z"));
        assert!(!lapse_renewals(&mut c, at("2027-01-01T00:00:00Z"), 3));
        let mut c = renewing("2026-03-01T00:00:00Z");
        c.subscriptions[0].expires_at = Some(at("2026-06-01T00:00:00Z"));
        assert!(
            !lapse_renewals(&mut c, at("2026-04-01T00:00:00Z"), 3),
            "its own later expiry governs"
        );
    }
}
