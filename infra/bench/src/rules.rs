//! The 20 benchmark groups, each written twice: as our rule JSON and as a hand-written PostgreSQL WHERE
//! clause over the flat `customers` table (`{now}` and `{today}` are replaced by the benchmark's clock).
//! The lifecycle clauses spell out the state table of `cg_domain::rules::lifecycle` for one subscription
//! with the default settings (renewing 7, expiring 7, inactive 30 days).

pub struct BenchRule {
    pub name: &'static str,
    pub json: &'static str,
    pub sql: &'static str,
}

pub const RULES: [BenchRule; 20] = [
    BenchRule {
        name: "R01 renewing within 7 days (news)",
        json: r#"{"lifecycle":{"states":["renewing"],"applications":["news"],"timing":{"before_days":7}}}"#,
        sql: "sub_app = 'news' AND sub_status = 'active' AND sub_canceled_at IS NULL
              AND sub_renews_at - interval '7 days' <= {now} AND {now} < sub_renews_at",
    },
    BenchRule {
        name: "R02 renewing (settings) and score >= 50",
        json: r#"{"all":[{"lifecycle":{"states":["renewing"]}},{"attribute":{"field":"attributes.score","op":">=","value":50}}]}"#,
        sql: "sub_status = 'active' AND sub_canceled_at IS NULL
              AND sub_renews_at - interval '7 days' <= {now} AND {now} < sub_renews_at AND score >= 50",
    },
    BenchRule {
        name: "R03 expiring within 14 days (yearly)",
        json: r#"{"lifecycle":{"states":["expiring"],"plans":["yearly"],"timing":{"before_days":14}}}"#,
        sql: "sub_plan = 'yearly' AND sub_status = 'active' AND sub_expires_at IS NOT NULL
              AND (sub_renews_at IS NULL OR sub_canceled_at IS NOT NULL)
              AND sub_expires_at - interval '14 days' <= {now} AND {now} < sub_expires_at",
    },
    BenchRule {
        name: "R04 canceling (sports or games)",
        json: r#"{"lifecycle":{"states":["canceling"],"applications":["sports","games"]}}"#,
        sql: "sub_app IN ('sports', 'games') AND sub_status = 'active' AND sub_canceled_at IS NOT NULL
              AND (sub_expires_at IS NULL OR {now} < sub_expires_at)",
    },
    BenchRule {
        name: "R05 canceled 30+ days ago",
        json: r#"{"lifecycle":{"states":["canceled"],"timing":{"after_days":30}}}"#,
        sql: "(sub_status = 'canceled'
               OR (sub_status = 'active' AND sub_canceled_at IS NOT NULL AND sub_expires_at IS NOT NULL))
              AND {now} >= GREATEST(sub_canceled_at, sub_expires_at) + interval '30 days'",
    },
    BenchRule {
        name: "R06 expired",
        json: r#"{"lifecycle":{"states":["expired"]}}"#,
        sql: "sub_status = 'expired'
              OR (sub_status = 'active' AND sub_canceled_at IS NULL AND sub_expires_at IS NOT NULL
                  AND (sub_renews_at IS NULL OR sub_renews_at <= sub_expires_at) AND {now} >= sub_expires_at)",
    },
    BenchRule {
        name: "R07 inactive 30 days",
        json: r#"{"lifecycle":{"states":["inactive"]}}"#,
        sql: "{now} >= COALESCE(sub_last_active_at, last_active_at, created_at) + interval '30 days'",
    },
    BenchRule {
        name: "R08 paying active, NOT churn_risk",
        json: r#"{"all":[{"has_service":{"status":["active"],"paid":true}},{"not":{"tags":{"has_any":["churn_risk"]}}}]}"#,
        sql: "sub_status = 'active' AND sub_paid AND NOT (tags && ARRAY['churn_risk'])",
    },
    BenchRule {
        name: "R09 signed up in the last 30 days",
        json: r#"{"attribute":{"field":"signup_date","op":">=","value":"-30d"}}"#,
        sql: "signup_date >= {now} - interval '30 days'",
    },
    BenchRule {
        name: "R10 vip OR paid >= 100 EUR",
        json: r#"{"any":[{"tags":{"has_any":["vip"]}},{"payments_amount":{"op":">=","currency":"EUR","amount_minor":10000}}]}"#,
        sql: "tags && ARRAY['vip'] OR pay_eur_total >= 10000",
    },
    BenchRule {
        name: "R11 5+ bookings, last within 90 days",
        json: r#"{"all":[{"bookings":{"op":">=","value":5}},{"attribute":{"field":"last_booking_at","op":">=","value":"-90d"}}]}"#,
        sql: "bookings >= 5 AND last_booking_at >= {now} - interval '90 days'",
    },
    BenchRule {
        name: "R12 gender f, score 30..70, email unverified",
        json: r#"{"all":[{"attribute":{"field":"attributes.gender","op":"=","value":"f"}},{"attribute":{"field":"attributes.score","op":"between","from":30,"to":70}},{"email_verified":{"verified":false}}]}"#,
        sql: "gender = 'f' AND score BETWEEN 30 AND 70 AND NOT email_verified",
    },
    BenchRule {
        name: "R13 NOT aggregator direct, newsletter, gender in f/x",
        json: r#"{"all":[{"not":{"attribute":{"field":"attributes.aggregator","op":"=","value":"direct"}}},{"tags":{"has_all":["newsletter"]}},{"attribute":{"field":"attributes.gender","op":"in","values":["f","x"]}}]}"#,
        sql: "aggregator IS DISTINCT FROM 'direct' AND tags @> ARRAY['newsletter'] AND gender IN ('f', 'x')",
    },
    BenchRule {
        name: "R14 registered, no held service",
        json: r#"{"all":[{"no_service":{}},{"lifecycle":{"states":["registered"]}}]}"#,
        sql: "registration_date IS NOT NULL
              AND (sub_status IS NULL OR sub_status NOT IN ('active', 'pending', 'suspended'))",
    },
    BenchRule {
        name: "R15 registered 365+ days ago, no bookings",
        json: r#"{"all":[{"lifecycle":{"states":["registered"],"timing":{"after_days":365}}},{"bookings":{"op":"=","value":0}}]}"#,
        sql: "registration_date IS NOT NULL AND {now} >= registration_date + 365 AND bookings = 0",
    },
    BenchRule {
        name: "R16 suspended games OR pending",
        json: r#"{"any":[{"has_service":{"application":"games","status":["suspended"]}},{"has_service":{"status":["pending"]}}]}"#,
        sql: "(sub_app = 'games' AND sub_status = 'suspended') OR sub_status = 'pending'",
    },
    BenchRule {
        name: "R17 subscribed monthly, idle 14+ days",
        json: r#"{"all":[{"lifecycle":{"states":["subscribed"],"plans":["monthly"]}},{"attribute":{"field":"last_active_at","op":"<","value":"-14d"}}]}"#,
        sql: "sub_plan = 'monthly' AND sub_status = 'active' AND (sub_expires_at IS NULL OR {now} < sub_expires_at)
              AND last_active_at < {now} - interval '14 days'",
    },
    BenchRule {
        name: "R18 paid >= 50 EUR over the last year",
        json: r#"{"payments_over_year":{"op":">=","currency":"EUR","amount_minor":5000}}"#,
        sql: "pay_on <= {today} AND {now} < pay_on + 365 AND pay_amount >= 5000",
    },
    BenchRule {
        name: "R19 (renewing|expiring 7d) AND (vip|score>=80) AND NOT newsletter",
        json: r#"{"all":[{"lifecycle":{"states":["renewing","expiring"],"timing":{"before_days":7}}},{"any":[{"tags":{"has_any":["vip"]}},{"attribute":{"field":"attributes.score","op":">=","value":80}}]},{"not":{"tags":{"has_any":["newsletter"]}}}]}"#,
        sql: "sub_status = 'active'
              AND ((sub_canceled_at IS NULL
                    AND sub_renews_at - interval '7 days' <= {now} AND {now} < sub_renews_at)
                   OR (sub_expires_at IS NOT NULL AND (sub_renews_at IS NULL OR sub_canceled_at IS NOT NULL)
                       AND sub_expires_at - interval '7 days' <= {now} AND {now} < sub_expires_at))
              AND (tags && ARRAY['vip'] OR score >= 80)
              AND NOT (tags && ARRAY['newsletter'])",
    },
    BenchRule {
        name: "R20 created < 2025, (no signup | subscribed yearly sports), verified",
        json: r#"{"all":[{"attribute":{"field":"created_at","op":"<","value":"2025-01-01"}},{"any":[{"attribute":{"field":"signup_date","op":"missing"}},{"lifecycle":{"states":["subscribed"],"applications":["sports"],"plans":["yearly"]}}]},{"email_verified":{"verified":true}}]}"#,
        sql: "created_at < TIMESTAMPTZ '2025-01-01 00:00:00+00'
              AND (signup_date IS NULL
                   OR (sub_app = 'sports' AND sub_plan = 'yearly' AND sub_status = 'active'
                       AND (sub_expires_at IS NULL OR {now} < sub_expires_at)))
              AND email_verified",
    },
];

/// The WHERE clause with the clock filled in, on one line.
pub fn where_clause(r: &BenchRule, now: &str, today: &str) -> String {
    let sql = r
        .sql
        .replace("{now}", &format!("TIMESTAMPTZ '{now}'"))
        .replace("{today}", &format!("DATE '{today}'"));
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
