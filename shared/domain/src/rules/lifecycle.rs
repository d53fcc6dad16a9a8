//! The `lifecycle` condition: Tonos lifecycle states (seed 000) derived from subscription facts.
//!
//! ```json
//! {"lifecycle": {"states": ["renewing", "expiring"], "applications": ["app"], "products": ["p"],
//!                "plans": ["monthly"], "timing": {"before_days": 7}}}
//! ```
//!
//! The condition matches when at least one of the listed `states` holds at `now` (several states are
//! an OR). States are derived per subscription, so the `applications`, `products` and `plans` filters
//! (each optional; a subscription matches a filter when its value is in the list, and a subscription
//! without a product or plan never matches a product or plan filter) select the subscriptions a state
//! is looked for in: "renewing in application A" means one subscription to A is renewing, not that the
//! customer renews something and also uses A. Each state has a date, which `timing` measures from.
//!
//! With `R` = renewing days, `E` = expiring days and `I` = inactive days from the group's settings
//! (defaults 7, 7 and 30), a subscription `s` at instant `now` is:
//!
//! | state | holds when | date |
//! |---|---|---|
//! | subscribed | `s.status = active` and (`expires_at` unset or `now < expires_at`) | `subscribed_at` |
//! | renewing | active, `canceled_at` unset, `renews_at` set and `renews_at - R <= now < renews_at` | `renews_at` |
//! | canceling | active, `canceled_at` set, `expires_at` unset or `now < expires_at` | `canceled_at` |
//! | expiring | active, `expires_at` set, `renews_at` unset or `canceled_at` set, `expires_at - E <= now < expires_at` | `expires_at` |
//! | canceled | `status = canceled`; or active, `canceled_at` set and `expires_at <= now` | the later of `canceled_at` and `expires_at` |
//! | expired | `status = expired`; or active, `canceled_at` unset, `expires_at <= now` and (`renews_at` unset or `renews_at <= expires_at`) | `expires_at` |
//! | inactive | `L + I <= now`, where `L` is the last activity: `s.last_active_at`, else the customer's `activity.last_active_at`, else the customer's `created_at` (never active) | `L + I` |
//!
//! Pending and suspended subscriptions are in none of the first six states. Two states are decided for
//! the customer rather than per subscription:
//! - registered: the customer has a `registration_date` (its date, at midnight UTC); with filters the
//!   customer must also have a subscription record (any status) matching them;
//! - inactive, for a customer without any subscription and with no filters: `L` is the customer's
//!   `activity.last_active_at`, else `created_at`.
//!
//! Timing (optional, whole days from 0 to 3650):
//! - `{"before_days": n}`: the state's date lies within the next `n` days, `date - n days <= now <
//!   date`. Only for renewing and expiring (the other states only happen after the fact); it replaces
//!   the renewing or expiring days of the settings, so `renewing` with `before_days: 7` holds from 7
//!   days before `renews_at` until `renews_at`.
//! - `{"after_days": n}`: the state holds and at least `n` days have passed since its date, `now >=
//!   date + n days`. Not for renewing and expiring, whose dates lie ahead while they hold. A state
//!   without a date (e.g. a canceled subscription without `canceled_at` and `expires_at`) never
//!   matches with `after_days`.
//!
//! Every boundary above (`renews_at - R`, `renews_at`, `expires_at - E`, `expires_at`, `date + n
//! days`, `L + I`, ...) is reported as the next change when it lies ahead, so membership changes at
//! that instant without a daily sweep.

use super::compare::{add, midnight, sub};
use super::reader::{self, invalid, Fields};
use super::{window, AnyOf, EvalContext, Outcome};
use crate::customer::{Customer, Subscription, SubscriptionStatus};
use crate::error::{DomainError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest accepted day count in settings and timing.
pub const MAX_DAYS: u32 = 3650;

/// Day counts of the Renewing, Expiring and Inactive states ("Customer Groups Settings", seed 000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleSettings {
    pub renewing_days: u32,
    pub expiring_days: u32,
    pub inactive_days: u32,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            renewing_days: 7,
            expiring_days: 7,
            inactive_days: 30,
        }
    }
}

impl LifecycleSettings {
    /// Each day count must be 1 to 3650.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("renewing_days", self.renewing_days),
            ("expiring_days", self.expiring_days),
            ("inactive_days", self.inactive_days),
        ] {
            if !(1..=MAX_DAYS).contains(&v) {
                return Err(DomainError::validation(
                    format!("settings.{name}"),
                    format!("{name} must be a whole number of days from 1 to {MAX_DAYS}"),
                ));
            }
        }
        Ok(())
    }
}

/// A lifecycle state (Tonos event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Registered,
    Subscribed,
    Renewing,
    Canceling,
    Expiring,
    Canceled,
    Expired,
    Inactive,
}

const STATES: [(State, &str); 8] = [
    (State::Registered, "registered"),
    (State::Subscribed, "subscribed"),
    (State::Renewing, "renewing"),
    (State::Canceling, "canceling"),
    (State::Expiring, "expiring"),
    (State::Canceled, "canceled"),
    (State::Expired, "expired"),
    (State::Inactive, "inactive"),
];

impl State {
    pub fn name(self) -> &'static str {
        STATES.iter().find(|(s, _)| *s == self).map_or("", |(_, n)| n)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StateSet(u8);

impl StateSet {
    pub fn contains(self, s: State) -> bool {
        self.0 & s.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = State> {
        STATES.into_iter().map(|(s, _)| s).filter(move |s| self.contains(*s))
    }
}

impl FromIterator<State> for StateSet {
    fn from_iter<I: IntoIterator<Item = State>>(iter: I) -> Self {
        StateSet(iter.into_iter().fold(0, |acc, s| acc | s.bit()))
    }
}

/// `timing`: measured from the state's date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// The date lies within the next n days.
    BeforeDays(u32),
    /// At least n days have passed since the date.
    AfterDays(u32),
}

/// `lifecycle: {"states", "applications"?, "products"?, "plans"?, "timing"?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub states: StateSet,
    pub applications: Option<Vec<String>>,
    pub products: Option<Vec<String>>,
    pub plans: Option<Vec<String>>,
    pub timing: Option<Timing>,
}

impl Lifecycle {
    pub(crate) fn parse(v: &Value, path: &str) -> Result<Self> {
        let f = Fields::new(v, path, &["states", "applications", "products", "plans", "timing"])?;
        let states_path = f.path_of("states");
        let mut states = Vec::new();
        for (i, item) in reader::array(f.required("states")?, &states_path)?.iter().enumerate() {
            let found = STATES.iter().find(|(_, n)| item.as_str() == Some(n));
            let Some((s, _)) = found else {
                let names: Vec<_> = STATES.iter().map(|(_, n)| *n).collect();
                return Err(invalid(
                    &reader::index(&states_path, i),
                    format!(
                        "unknown state {}; expected one of {}",
                        reader::short(item),
                        names.join(", ")
                    ),
                ));
            };
            states.push(*s);
        }
        let states: StateSet = states.into_iter().collect();
        let timing = f
            .get("timing")
            .map(|t| parse_timing(t, &f.path_of("timing"), states))
            .transpose()?;
        Ok(Lifecycle {
            states,
            applications: f.strings("applications")?,
            products: f.strings("products")?,
            plans: f.strings("plans")?,
            timing,
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "states".into(),
            self.states.iter().map(|s| Value::from(s.name())).collect(),
        );
        for (k, v) in [
            ("applications", &self.applications),
            ("products", &self.products),
            ("plans", &self.plans),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.iter().map(|x| Value::from(x.as_str())).collect());
            }
        }
        if let Some(t) = self.timing {
            let (k, n) = match t {
                Timing::BeforeDays(n) => ("before_days", n),
                Timing::AfterDays(n) => ("after_days", n),
            };
            m.insert("timing".into(), serde_json::json!({ k: n }));
        }
        Value::Object(m)
    }

    fn filtered(&self) -> bool {
        self.applications.is_some() || self.products.is_some() || self.plans.is_some()
    }

    fn selects(&self, s: &Subscription) -> bool {
        fn within(list: &Option<Vec<String>>, v: Option<&String>) -> bool {
            list.as_ref().is_none_or(|l| v.is_some_and(|v| l.contains(v)))
        }
        within(&self.applications, Some(&s.application))
            && within(&self.products, s.product.as_ref())
            && within(&self.plans, s.plan.as_ref())
    }

    pub(crate) fn check(&self, c: &Customer, ctx: &EvalContext) -> Outcome {
        let now = ctx.now;
        let mut acc = AnyOf::default();
        if self.states.contains(State::Registered) {
            if let Some(reg) = c.registration_date {
                let selected = !self.filtered() || c.subscriptions.iter().any(|s| self.selects(s));
                if selected && acc.add(self.since(Some(midnight(reg)), None, now)) {
                    return acc.finish();
                }
            }
        }
        if self.states.contains(State::Inactive) && !self.filtered() && c.subscriptions.is_empty() {
            let last = c.activity.last_active_at.unwrap_or(c.created_at);
            let date = add(last, days(ctx.settings.inactive_days));
            if acc.add(self.since(Some(date), Some(date), now)) {
                return acc.finish();
            }
        }
        for s in c.subscriptions.iter().filter(|s| self.selects(s)) {
            for state in self.states.iter() {
                if acc.add(self.state_of(state, s, c, ctx)) {
                    return acc.finish();
                }
            }
        }
        acc.finish()
    }

    /// A state that, once entered at `start` (`None`: already), holds from then on; `date` is what
    /// `after_days` counts from.
    fn since(&self, date: Option<DateTime<Utc>>, start: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Outcome {
        self.until(date, start, None, now)
    }

    /// A state holding in `[start, end)`, narrowed by `after_days` counted from `date`.
    fn until(
        &self,
        date: Option<DateTime<Utc>>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let start = match self.timing {
            Some(Timing::AfterDays(n)) => {
                let Some(date) = date else { return Outcome::fixed(false) };
                let after = add(date, days(n));
                Some(start.map_or(after, |s| s.max(after)))
            }
            _ => start,
        };
        window(start, end, now)
    }

    /// `[date - w, date)`, where `before_days` replaces the settings' `w`.
    fn ahead(&self, date: DateTime<Utc>, w: u32, now: DateTime<Utc>) -> Outcome {
        let w = match self.timing {
            Some(Timing::BeforeDays(n)) => n,
            _ => w,
        };
        window(Some(sub(date, days(w))), Some(date), now)
    }

    fn state_of(&self, state: State, s: &Subscription, c: &Customer, ctx: &EvalContext) -> Outcome {
        let now = ctx.now;
        let active = s.status == SubscriptionStatus::Active;
        let never = Outcome::fixed(false);
        match state {
            State::Registered => never,
            State::Subscribed if active => self.until(s.subscribed_at, None, s.expires_at, now),
            State::Renewing => match (active, s.canceled_at, s.renews_at) {
                (true, None, Some(r)) => self.ahead(r, ctx.settings.renewing_days, now),
                _ => never,
            },
            State::Canceling => match (active, s.canceled_at) {
                (true, Some(canceled)) => self.until(Some(canceled), None, s.expires_at, now),
                _ => never,
            },
            State::Expiring => match (active, s.expires_at) {
                (true, Some(e)) if s.renews_at.is_none() || s.canceled_at.is_some() => {
                    self.ahead(e, ctx.settings.expiring_days, now)
                }
                _ => never,
            },
            State::Canceled => {
                let date = s.canceled_at.max(s.expires_at);
                match (s.status, s.canceled_at, s.expires_at) {
                    (SubscriptionStatus::Canceled, _, _) => self.since(date, None, now),
                    (SubscriptionStatus::Active, Some(_), Some(e)) => self.since(date, Some(e), now),
                    _ => never,
                }
            }
            State::Expired => match (s.status, s.canceled_at, s.expires_at) {
                (SubscriptionStatus::Expired, _, e) => self.since(e, None, now),
                (SubscriptionStatus::Active, None, Some(e)) if s.renews_at.is_none_or(|r| r <= e) => {
                    self.since(Some(e), Some(e), now)
                }
                _ => never,
            },
            State::Inactive => {
                let last = s.last_active_at.or(c.activity.last_active_at).unwrap_or(c.created_at);
                let date = add(last, days(ctx.settings.inactive_days));
                self.since(Some(date), Some(date), now)
            }
            State::Subscribed => never,
        }
    }
}

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

fn parse_timing(v: &Value, path: &str, states: StateSet) -> Result<Timing> {
    let f = Fields::new(v, path, &["before_days", "after_days"])?;
    let n = |k: &str| -> Result<Option<u32>> {
        f.get(k)
            .map(|v| reader::integer(v, &f.path_of(k), 0, i64::from(MAX_DAYS)).map(|n| n as u32))
            .transpose()
    };
    let timing = match (n("before_days")?, n("after_days")?) {
        (Some(b), None) => Timing::BeforeDays(b),
        (None, Some(a)) => Timing::AfterDays(a),
        _ => return Err(invalid(path, "give exactly one of before_days or after_days")),
    };
    let ahead = |s: State| matches!(s, State::Renewing | State::Expiring);
    match timing {
        Timing::BeforeDays(_) => {
            if let Some(s) = states.iter().find(|s| !ahead(*s)) {
                return Err(invalid(
                    path,
                    format!(
                        "before_days applies to renewing and expiring only; {} only happens after the fact, use after_days",
                        s.name()
                    ),
                ));
            }
        }
        Timing::AfterDays(_) => {
            if let Some(s) = states.iter().find(|s| ahead(*s)) {
                return Err(invalid(
                    path,
                    format!(
                        "after_days does not apply to {}: its date lies ahead while it holds; use before_days",
                        s.name()
                    ),
                ));
            }
        }
    }
    Ok(timing)
}
