//! What an event does to the customer's facts.

use super::{Event, EventKind, SubscriptionRef, SubscriptionTerms};
use crate::customer::{check_subscriptions, Customer, Subscription, SubscriptionStatus};
use crate::error::{DomainError, Result};

impl Event {
    /// Applies the event to the customer's facts.
    pub fn apply(&self, c: &mut Customer) -> Result<()> {
        let at = self.occurred_at;
        match &self.kind {
            EventKind::Registered {} => {
                c.registration_date.get_or_insert(at.date_naive());
            }
            EventKind::Active {} => c.activity.record_activity(at),
            EventKind::EmailVerified {} => c.email_verified = true,
            EventKind::PhoneVerified {} => c.phone_verified = true,
            EventKind::Activated {} => c.activation_required = false,
            EventKind::Booking { starts_at } => c.activity.record_booking(starts_at.unwrap_or(at)),
            EventKind::Payment { currency, amount_minor } => {
                c.activity.payments.record("payments", currency, at, *amount_minor)?
            }
            EventKind::Expense { currency, amount_minor } => {
                c.activity.expenses.record("expenses", currency, at, *amount_minor)?
            }
            EventKind::SubscriptionCreated { subscription, terms } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Active;
                s.subscribed_at = Some(at);
                s.canceled_at = None;
                s.renews_at = None;
                s.expires_at = None;
                apply_terms(s, terms);
            }
            EventKind::SubscriptionRenewed { subscription, terms } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Active;
                s.subscribed_at.get_or_insert(at);
                s.canceled_at = None;
                apply_terms(s, terms);
            }
            EventKind::SubscriptionUpdated { subscription, terms } => {
                apply_terms(subscription_mut(c, subscription), terms);
            }
            EventKind::SubscriptionCanceled {
                subscription,
                expires_at,
            } => {
                let s = subscription_mut(c, subscription);
                s.canceled_at = Some(at);
                s.renews_at = None;
                if let Some(e) = expires_at {
                    s.expires_at = Some(*e);
                }
                if s.expires_at.is_none_or(|e| e <= at) {
                    s.status = SubscriptionStatus::Canceled;
                    s.expires_at.get_or_insert(at);
                }
            }
            EventKind::SubscriptionExpired { subscription } => {
                let s = subscription_mut(c, subscription);
                s.status = SubscriptionStatus::Expired;
                s.renews_at = None;
                if s.expires_at.is_none_or(|e| e > at) {
                    s.expires_at = Some(at);
                }
            }
            EventKind::SubscriptionSuspended { subscription } => {
                subscription_mut(c, subscription).status = SubscriptionStatus::Suspended;
            }
            EventKind::SubscriptionActive { subscription } => {
                let s = subscription_mut(c, subscription);
                s.last_active_at = Some(s.last_active_at.map_or(at, |x| x.max(at)));
                c.activity.record_activity(at);
            }
        }
        check_subscriptions(&c.subscriptions)
            .map_err(|e| DomainError::validation("subscription", format!("the event cannot be applied: {e}")))
    }
}

fn apply_terms(s: &mut Subscription, t: &SubscriptionTerms) {
    if t.renews_at.is_some() {
        s.renews_at = t.renews_at;
    }
    if t.expires_at.is_some() {
        s.expires_at = t.expires_at;
    }
    if t.period.is_some() {
        s.period.clone_from(&t.period);
    }
    if let Some(p) = t.paid {
        s.paid = p;
    }
}

/// The customer's subscription the reference names, created (pending) if it does not exist yet.
fn subscription_mut<'a>(c: &'a mut Customer, r: &SubscriptionRef) -> &'a mut Subscription {
    let pos = c
        .subscriptions
        .iter()
        .position(|s| s.application == r.application && s.product == r.product && s.plan == r.plan);
    let i = pos.unwrap_or_else(|| {
        c.subscriptions.push(Subscription {
            application: r.application.clone(),
            product: r.product.clone(),
            plan: r.plan.clone(),
            period: None,
            paid: false,
            status: SubscriptionStatus::Pending,
            subscribed_at: None,
            renews_at: None,
            expires_at: None,
            canceled_at: None,
            last_active_at: None,
        });
        c.subscriptions.len() - 1
    });
    &mut c.subscriptions[i]
}
