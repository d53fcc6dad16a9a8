//! Deterministic customers: customer `i` depends only on the seed and `i` (its own SplitMix64 stream), so
//! the first 100k of the 1M engine customers are exactly the customers loaded into the emulator.
//!
//! Every customer has at most one subscription, so PostgreSQL sees the same facts as one flat row.
//! Every generated instant has a time of day between 12:30 and 08:30 UTC (never 08:30-12:30): `NOW` is
//! 10:00 and every rule boundary is a fact plus whole days, so no customer falls due between 10:00 and
//! 12:00 except the one the wake-up benchmark plants.

use cg_domain::customer::{Activity, AttributeValue, Customer, Ledger, LedgerEntry, Subscription, SubscriptionStatus};
use cg_domain::ids::CustomerId;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The benchmark's clock: the engine's `now`, PostgreSQL's literal and every use case's `now`.
pub const NOW: &str = "2026-11-24T10:00:00Z";
const SEED: u64 = 0x5eed_2026_1124;

pub fn now() -> DateTime<Utc> {
    NOW.parse().expect("NOW is RFC 3339")
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn for_customer(i: u64) -> Rng {
        let mut r = Rng(SEED ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `pct` percent.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The customer id of index `i`.
pub fn customer_id(i: u64) -> CustomerId {
    CustomerId::parse(&format!("c{i:07}")).expect("valid id")
}

struct Clock {
    today: NaiveDate,
}

impl Clock {
    /// `days` from today at a random time of day outside 08:30-12:30.
    fn at(&self, days: i64, r: &mut Rng) -> DateTime<Utc> {
        let secs = (12 * 3600 + 1800 + r.below(20 * 3600) as i64) % 86_400;
        let day = self.today + Duration::days(days);
        day.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::seconds(secs)
    }

    fn day(&self, days: i64) -> NaiveDate {
        self.today + Duration::days(days)
    }
}

/// Customer `i`.
pub fn customer(i: u64) -> Customer {
    let mut r = Rng::for_customer(i);
    let clock = Clock {
        today: now().date_naive(),
    };
    let age = r.range(1, 1500);
    let created_at = clock.at(-age, &mut r);
    let created_day = created_at.date_naive();
    let signup_date = r
        .pct(90)
        .then(|| created_day + Duration::days(r.range(0, 3)).min(clock.day(0) - created_day));
    let registration_date = r
        .pct(70)
        .then(|| (created_day + Duration::days(r.range(0, 60))).min(clock.today));

    let mut attributes = BTreeMap::new();
    if r.pct(95) {
        attributes.insert("score".to_owned(), AttributeValue::Number(r.below(101) as f64));
    }
    if r.pct(90) {
        let g = match r.below(100) {
            0..45 => "f",
            45..90 => "m",
            _ => "x",
        };
        attributes.insert("gender".to_owned(), AttributeValue::String(g.to_owned()));
    }
    if r.pct(60) {
        let a = r.pick(&["booking", "expedia", "direct", "partner"]);
        attributes.insert("aggregator".to_owned(), AttributeValue::String(a.to_owned()));
    }
    let mut tags = BTreeSet::new();
    for (tag, pct) in [("vip", 8), ("newsletter", 40), ("beta", 5), ("churn_risk", 10)] {
        if r.pct(pct) {
            tags.insert(tag.to_owned());
        }
    }
    let email_verified = r.pct(60);

    let mut subscriptions = Vec::new();
    if r.pct(75) {
        subscriptions.push(subscription(&mut r, &clock));
    }

    let mut activity = Activity::default();
    if r.pct(75) {
        activity.last_active_at = Some(clock.at(-r.range(0, 120), &mut r));
    }
    if r.pct(50) {
        activity.bookings = r.range(1, 20) as u32;
        let last = clock.at(-r.range(0, 200), &mut r);
        activity.last_booking_at = Some(last);
        activity.first_booking_at = Some(last - Duration::days(r.range(0, 500)));
    }
    if r.pct(40) {
        let on = clock.day(-r.range(0, 500));
        let amount = r.range(500, 20_000);
        let older = if r.pct(50) { r.range(0, 50_000) } else { 0 };
        activity.payments = Ledger {
            entries: vec![LedgerEntry {
                currency: "EUR".to_owned(),
                on,
                amount_minor: amount,
            }],
            totals: BTreeMap::from([("EUR".to_owned(), amount + older)]),
            first_at: Some(on.and_time(chrono::NaiveTime::MIN).and_utc()),
        };
    }

    Customer {
        id: customer_id(i),
        external_id: None,
        email: None,
        phone: None,
        name: Some(format!("Customer {i}")),
        order_number: None,
        signup_date,
        registration_date,
        attributes,
        tags,
        subscriptions,
        email_verified,
        phone_verified: false,
        activation_required: false,
        activity,
        balances: Default::default(),
        next_wake_at: None,
        groups: BTreeSet::new(),
        created_at,
        updated_at: created_at,
        version: 1,
    }
}

fn subscription(r: &mut Rng, clock: &Clock) -> Subscription {
    let application = match r.below(100) {
        0..50 => "news",
        50..80 => "sports",
        _ => "games",
    };
    let yearly = r.pct(30);
    let mut s = Subscription {
        application: application.to_owned(),
        product: None,
        plan: Some(if yearly { "yearly" } else { "monthly" }.to_owned()),
        period: Some(if yearly { "year" } else { "month" }.to_owned()),
        paid: yearly || r.pct(85),
        status: SubscriptionStatus::Active,
        subscribed_at: Some(clock.at(-r.range(1, 900), r)),
        renews_at: None,
        expires_at: None,
        canceled_at: None,
        last_active_at: None,
    };
    let horizon = if yearly { 365 } else { 30 };
    match r.below(100) {
        0..65 => match r.below(100) {
            // Auto-renewing.
            0..60 => s.renews_at = Some(clock.at(r.range(0, horizon), r)),
            // Canceled, access until the end of the term ("canceling"; a few already past it).
            60..75 => {
                s.canceled_at = Some(clock.at(-r.range(0, 20), r));
                s.expires_at = Some(clock.at(r.range(-3, horizon), r));
            }
            // A fixed term without renewal (some already ended: expired by date).
            75..95 => s.expires_at = Some(clock.at(r.range(-10, 60), r)),
            _ => {}
        },
        65..78 => {
            s.status = SubscriptionStatus::Canceled;
            let canceled = clock.at(-r.range(0, 400), r);
            s.canceled_at = r.pct(90).then_some(canceled);
            s.expires_at = r.pct(70).then_some(canceled);
        }
        78..88 => {
            s.status = SubscriptionStatus::Expired;
            s.expires_at = r.pct(95).then(|| clock.at(-r.range(0, 500), r));
        }
        88..94 => {
            s.status = SubscriptionStatus::Pending;
            s.subscribed_at = None;
        }
        _ => {
            s.status = SubscriptionStatus::Suspended;
            s.renews_at = r.pct(50).then(|| clock.at(r.range(-5, horizon), r));
        }
    }
    if r.pct(70) {
        s.last_active_at = Some(clock.at(-r.range(0, 90), r));
    }
    s
}

/// The `customers` table of PostgreSQL, one column per fact the rules read.
pub const PG_TABLE: &str = "CREATE TABLE customers (
  id text PRIMARY KEY,
  created_at timestamptz NOT NULL,
  signup_date date,
  registration_date date,
  score double precision,
  gender text,
  aggregator text,
  tags text[] NOT NULL,
  email_verified boolean NOT NULL,
  sub_app text,
  sub_plan text,
  sub_period text,
  sub_paid boolean,
  sub_status text,
  sub_subscribed_at timestamptz,
  sub_renews_at timestamptz,
  sub_expires_at timestamptz,
  sub_canceled_at timestamptz,
  sub_last_active_at timestamptz,
  last_active_at timestamptz,
  bookings integer NOT NULL,
  first_booking_at timestamptz,
  last_booking_at timestamptz,
  pay_eur_total bigint NOT NULL,
  pay_on date,
  pay_amount bigint
)";

/// One CSV line (no quoting needed: no value contains a comma, quote or new line; empty is NULL).
pub fn csv_line(c: &Customer, out: &mut String) {
    fn ts(out: &mut String, t: Option<DateTime<Utc>>) {
        if let Some(t) = t {
            let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        out.push(',');
    }
    fn day(out: &mut String, d: Option<NaiveDate>) {
        if let Some(d) = d {
            let _ = write!(out, "{d}");
        }
        out.push(',');
    }
    fn text(out: &mut String, v: Option<&str>) {
        if let Some(v) = v {
            out.push_str(v);
        }
        out.push(',');
    }
    assert!(c.subscriptions.len() <= 1, "the flat table holds one subscription");
    let attr_text = |k: &str| match c.attributes.get(k) {
        Some(AttributeValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let _ = write!(out, "{},", c.id);
    ts(out, Some(c.created_at));
    day(out, c.signup_date);
    day(out, c.registration_date);
    if let Some(AttributeValue::Number(n)) = c.attributes.get("score") {
        let _ = write!(out, "{n}");
    }
    out.push(',');
    text(out, attr_text("gender"));
    text(out, attr_text("aggregator"));
    out.push('"');
    out.push('{');
    out.push_str(&c.tags.iter().map(String::as_str).collect::<Vec<_>>().join(","));
    out.push('}');
    out.push('"');
    out.push(',');
    let _ = write!(out, "{},", c.email_verified);
    let s = c.subscriptions.first();
    text(out, s.map(|s| s.application.as_str()));
    text(out, s.and_then(|s| s.plan.as_deref()));
    text(out, s.and_then(|s| s.period.as_deref()));
    text(out, s.map(|s| if s.paid { "true" } else { "false" }));
    text(
        out,
        s.map(|s| match s.status {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Suspended => "suspended",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Expired => "expired",
        }),
    );
    ts(out, s.and_then(|s| s.subscribed_at));
    ts(out, s.and_then(|s| s.renews_at));
    ts(out, s.and_then(|s| s.expires_at));
    ts(out, s.and_then(|s| s.canceled_at));
    ts(out, s.and_then(|s| s.last_active_at));
    let a = &c.activity;
    ts(out, a.last_active_at);
    let _ = write!(out, "{},", a.bookings);
    ts(out, a.first_booking_at);
    ts(out, a.last_booking_at);
    let _ = write!(out, "{},", a.payments.total("EUR"));
    let entry = a.payments.entries.iter().find(|e| e.currency == "EUR");
    day(out, entry.map(|e| e.on));
    if let Some(e) = entry {
        let _ = write!(out, "{}", e.amount_minor);
    }
    out.push('\n');
}
