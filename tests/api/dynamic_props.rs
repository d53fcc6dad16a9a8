//! Property: after any sequence of customer changes, events, clock advances and resyncs, every dynamic
//! group's stored members (member rows, counts and the customers' group sets, on the emulator) equal a
//! from-scratch evaluation of its rules by an independent oracle written here, not by the engine.
//!
//! All use cases run with an explicit clock; the queue is drained by calling the worker's job runner
//! at that clock, so a missed wake-up shows up as a difference at the next check.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use cg_domain::customer::{AttributeValue, Customer, CustomerPatch, NewCustomer, SubscriptionStatus};
use cg_domain::events::EventBatch;
use cg_domain::group::{GroupInput, GroupKind, NewGroup, SyncState};
use cg_domain::ids::{CustomerId, GroupId, JobId, TenantId};
use cg_domain::jobs::GroupJob;
use cg_domain::page::PageRequest;
use cg_domain::ports::{CustomerStore, GroupStore, MembershipStore, ResyncJobs};
use cg_domain::usecases::{customers, events, groups, jobs, resync, wake};
use cg_lambda::App;
use cg_tests::{drop_isolated, fresh_tenant, isolated_app};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const CUSTOMERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        c: usize,
        app: bool,
        renews_h: Option<i64>,
        expires_h: Option<i64>,
    },
    Cancel {
        c: usize,
        app: bool,
    },
    Expire {
        c: usize,
        app: bool,
    },
    Score {
        c: usize,
        score: u8,
    },
    Vip {
        c: usize,
        on: bool,
    },
    Signup {
        c: usize,
        days_ago: i64,
    },
    Advance {
        hours: i64,
    },
    Resync,
    Replay,
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CUSTOMERS;
    prop_oneof![
        (
            c.clone(),
            any::<bool>(),
            prop::option::of(-48i64..400),
            prop::option::of(-48i64..400)
        )
            .prop_map(|(c, app, renews_h, expires_h)| Op::Subscribe {
                c,
                app,
                renews_h,
                expires_h
            }),
        (c.clone(), any::<bool>()).prop_map(|(c, app)| Op::Cancel { c, app }),
        (c.clone(), any::<bool>()).prop_map(|(c, app)| Op::Expire { c, app }),
        (c.clone(), 0u8..100).prop_map(|(c, score)| Op::Score { c, score }),
        (c.clone(), any::<bool>()).prop_map(|(c, on)| Op::Vip { c, on }),
        (c, 0i64..60).prop_map(|(c, days_ago)| Op::Signup { c, days_ago }),
        (1i64..200).prop_map(|hours| Op::Advance { hours }),
        Just(Op::Resync),
        Just(Op::Replay),
    ]
}

/// The groups under test and their oracle, written against the customer's stored facts.
struct Groups {
    renew: GroupId,
    score: GroupId,
    vip_or_score: GroupId,
    recent: GroupId,
    subscribed_not_renewing: GroupId,
    expired_3d: GroupId,
}

fn app_name(a: bool) -> &'static str {
    if a {
        "a"
    } else {
        "b"
    }
}

fn oracle_renewing(c: &Customer, now: DateTime<Utc>) -> bool {
    c.subscriptions.iter().any(|s| {
        s.application == "a"
            && s.status == SubscriptionStatus::Active
            && s.canceled_at.is_none()
            && s.renews_at.is_some_and(|r| r > now && r - Duration::days(7) <= now)
    })
}

fn oracle_subscribed(c: &Customer, now: DateTime<Utc>) -> bool {
    c.subscriptions
        .iter()
        .any(|s| s.status == SubscriptionStatus::Active && s.expires_at.is_none_or(|e| e > now))
}

fn oracle_expired_3d(c: &Customer, now: DateTime<Utc>) -> bool {
    c.subscriptions.iter().any(|s| {
        let Some(e) = s.expires_at else { return false };
        let expired = s.status == SubscriptionStatus::Expired
            || (s.status == SubscriptionStatus::Active
                && s.canceled_at.is_none()
                && e <= now
                && s.renews_at.is_none_or(|r| r <= e));
        expired && now >= e + Duration::days(3)
    })
}

fn oracle_score(c: &Customer) -> bool {
    matches!(c.attributes.get("score"), Some(AttributeValue::Number(n)) if *n >= 50.0)
}

impl Groups {
    fn expected(&self, c: &Customer, now: DateTime<Utc>) -> BTreeSet<GroupId> {
        let mut out = BTreeSet::new();
        let renewing = oracle_renewing(c, now);
        let score = oracle_score(c);
        let recent = c
            .signup_date
            .is_some_and(|d| d.and_time(NaiveTime::MIN).and_utc() >= now - Duration::days(30));
        for (g, yes) in [
            (&self.renew, renewing),
            (&self.score, score),
            (&self.vip_or_score, c.tags.contains("vip") || score),
            (&self.recent, recent),
            (&self.subscribed_not_renewing, oracle_subscribed(c, now) && !renewing),
            (&self.expired_3d, oracle_expired_3d(c, now)),
        ] {
            if yes {
                out.insert(g.clone());
            }
        }
        out
    }

    fn all(&self) -> Vec<&GroupId> {
        vec![
            &self.renew,
            &self.score,
            &self.vip_or_score,
            &self.recent,
            &self.subscribed_not_renewing,
            &self.expired_3d,
        ]
    }
}

async fn create(app: &App, t: &TenantId, name: &str, rules: Value, now: DateTime<Utc>) -> GroupId {
    let input: NewGroup = serde_json::from_value(json!({"name": name, "type": "dynamic", "rules": rules})).unwrap();
    assert_eq!(input.kind, GroupKind::Dynamic);
    groups::create_group(&app.store, t, GroupInput::try_from(input).unwrap(), now)
        .await
        .expect("create group")
        .group
        .id
}

/// Runs every queued job at the test's clock until the queue is empty. With `twice`, each resync shard
/// is delivered a second time (at-least-once), which must change nothing. Returns the changes each
/// resync job's shards reported.
async fn drain(app: &App, now: DateTime<Utc>, twice: bool) -> BTreeMap<JobId, u64> {
    let mut changes: BTreeMap<JobId, u64> = BTreeMap::new();
    let sqs = &app.store.sqs;
    let url = &app.store.group_jobs_queue_url;
    loop {
        let resp = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = resp.messages.unwrap_or_default();
        if messages.is_empty() {
            return changes;
        }
        for m in messages {
            let job: GroupJob = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            let report = jobs::run_group_job(&app.store, &job, now).await.expect("job runs");
            if let GroupJob::ResyncShard { job_id, .. } = &job {
                *changes.entry(job_id.clone()).or_default() += report.changes;
                if twice {
                    let again = jobs::run_group_job(&app.store, &job, now)
                        .await
                        .expect("job runs again");
                    assert_eq!(again.changes, 0, "a repeated resync shard changes nothing");
                }
            }
            sqs.delete_message()
                .queue_url(url)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await
                .unwrap();
        }
    }
}

/// Every resync job that ran is done, with every partition recorded once, every customer evaluated
/// once and the changes of the first delivery of each shard.
async fn check_jobs(app: &App, t: &TenantId, changes: &BTreeMap<JobId, u64>, step: &str) {
    for (id, made) in changes {
        let job = app.store.get_resync_job(t, id).await.unwrap().expect("the job");
        assert_eq!(job.status, SyncState::Done, "{step}: resync {id} finished");
        assert_eq!(
            (job.shards_done, job.customers_evaluated, job.changes),
            (job.shards_total, CUSTOMERS as u64, *made),
            "{step}: resync {id}: partitions recorded, customers evaluated, changes"
        );
    }
}

async fn check(app: &App, t: &TenantId, g: &Groups, ids: &[CustomerId], now: DateTime<Utc>, step: &str) {
    let stored = app.store.get_customers(t, ids).await.unwrap();
    let mut expected: BTreeMap<GroupId, BTreeSet<CustomerId>> =
        g.all().into_iter().map(|x| (x.clone(), BTreeSet::new())).collect();
    for c in &stored {
        // A renewal that passed the default grace (3 days) with no renewal has lapsed: expired.
        for sub in &c.subscriptions {
            let open = sub.status == SubscriptionStatus::Active && sub.canceled_at.is_none();
            if let (true, Some(r)) = (open, sub.renews_at) {
                let own_expiry_later = sub.expires_at.is_some_and(|e| e > r);
                assert!(
                    own_expiry_later || r + Duration::days(3) > now,
                    "{step}: customer {}'s renewal of {r} lapsed by {now} but it is still active: {sub:?}",
                    c.id
                );
            }
        }
        let want = g.expected(c, now);
        let have: BTreeSet<GroupId> = c.groups.iter().filter(|x| expected.contains_key(*x)).cloned().collect();
        assert_eq!(have, want, "{step}: groups of customer {} at {now}: {c:?}", c.id);
        for x in want {
            expected.get_mut(&x).unwrap().insert(c.id.clone());
        }
    }
    for (group, want) in expected {
        let rows = app
            .store
            .list_members(t, &group, &PageRequest::first(100))
            .await
            .unwrap();
        let have: BTreeSet<CustomerId> = rows.items.into_iter().map(|m| m.customer_id).collect();
        assert_eq!(have, want, "{step}: member rows of {group}");
        let count = app.store.get_group(t, &group).await.unwrap().unwrap().member_count;
        assert_eq!(count, want.len() as u64, "{step}: member_count of {group}");
    }
}

async fn run(base: &App, ops: Vec<Op>) {
    let mut app = base.clone();
    // Half the cases hand every resync on after each partition (the fan-out path), half keep the
    // default budget (one message for these few customers).
    if ops.len().is_multiple_of(2) {
        app.store.resync_shard_budget = 1;
    }
    // Where a resync is one message, every shard message is delivered twice.
    let twice = app.store.resync_shard_budget > 1;
    let t = fresh_tenant();
    let mut now: DateTime<Utc> = Utc::now();
    let ids: Vec<CustomerId> = (0..CUSTOMERS)
        .map(|i| CustomerId::parse(&format!("c{i}")).unwrap())
        .collect();
    for id in &ids {
        let new = NewCustomer {
            id: Some(id.clone()),
            ..Default::default()
        };
        customers::create_customer(&app.store, &t, new, now).await.unwrap();
    }
    let renew = create(
        &app,
        &t,
        "renewing",
        json!({"lifecycle": {"states": ["renewing"], "applications": ["a"], "timing": {"before_days": 7}}}),
        now,
    )
    .await;
    let score = create(
        &app,
        &t,
        "score",
        json!({"attribute": {"field": "attributes.score", "op": ">=", "value": 50}}),
        now,
    )
    .await;
    let vip_or_score = create(
        &app,
        &t,
        "vip or score",
        json!({"any": [{"tags": {"has_any": ["vip"]}}, {"member_of": {"group_id": score}}]}),
        now,
    )
    .await;
    let recent = create(
        &app,
        &t,
        "recent",
        json!({"attribute": {"field": "signup_date", "op": ">=", "value": "-30d"}}),
        now,
    )
    .await;
    let subscribed_not_renewing = create(
        &app,
        &t,
        "subscribed, not renewing",
        json!({"all": [{"lifecycle": {"states": ["subscribed"]}}, {"not": {"member_of": {"group_id": renew}}}]}),
        now,
    )
    .await;
    let expired_3d = create(
        &app,
        &t,
        "3 days after expiry",
        json!({"lifecycle": {"states": ["expired"], "timing": {"after_days": 3}}}),
        now,
    )
    .await;
    let g = Groups {
        renew,
        score,
        vip_or_score,
        recent,
        subscribed_not_renewing,
        expired_3d,
    };
    let changes = drain(&app, now, twice).await;
    check(&app, &t, &g, &ids, now, "initial").await;
    check_jobs(&app, &t, &changes, "initial").await;

    let mut last_event: Option<Value> = None;
    let mut resync_jobs = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        let seq = i + 1;
        let ev = |c: usize, kind: &str, extra: Value| {
            let mut e = json!({"event_id": format!("ev{seq}"), "customer_id": format!("c{c}"), "type": kind, "occurred_at": now.to_rfc3339()});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        };
        let patch = |v: Value| serde_json::from_value::<CustomerPatch>(v).unwrap();
        match &op {
            Op::Subscribe {
                c,
                app: a,
                renews_h,
                expires_h,
            } => {
                let mut extra = json!({"application": app_name(*a)});
                if let Some(h) = renews_h {
                    extra["renews_at"] = json!((now + Duration::hours(*h)).to_rfc3339());
                }
                if let Some(h) = expires_h {
                    extra["expires_at"] = json!((now + Duration::hours(*h)).to_rfc3339());
                }
                last_event = Some(ev(*c, "subscription.created", extra));
            }
            Op::Cancel { c, app: a } => {
                last_event = Some(ev(*c, "subscription.canceled", json!({"application": app_name(*a)})))
            }
            Op::Expire { c, app: a } => {
                last_event = Some(ev(*c, "subscription.expired", json!({"application": app_name(*a)})))
            }
            Op::Score { c, score } => {
                let p = patch(json!({"attributes": {"score": {"type": "number", "value": score}}}));
                customers::update_customer(&app.store, &t, &ids[*c], p, now)
                    .await
                    .unwrap();
            }
            Op::Vip { c, on } => {
                let tags: Vec<&str> = if *on { vec!["vip"] } else { vec![] };
                customers::update_customer(&app.store, &t, &ids[*c], patch(json!({"tags": tags})), now)
                    .await
                    .unwrap();
            }
            Op::Signup { c, days_ago } => {
                let d = (now - Duration::days(*days_ago)).date_naive();
                customers::update_customer(&app.store, &t, &ids[*c], patch(json!({"signup_date": d})), now)
                    .await
                    .unwrap();
            }
            Op::Advance { hours } => {
                now += Duration::hours(*hours);
                wake::wake_tick(&app.store, now).await.unwrap();
            }
            Op::Resync => {
                // Drift for the resync to repair: each group's first member removed behind the rules'
                // back (as a lost write or an operator's mistake would).
                for group in g.all() {
                    let page = app.store.list_members(&t, group, &PageRequest::first(1)).await.unwrap();
                    if let Some(m) = page.items.first() {
                        app.store.remove_member(&t, group, &m.customer_id).await.unwrap();
                    }
                }
                let all: Vec<GroupId> = g.all().into_iter().cloned().collect();
                let job = resync::start_resync(&app.store, &t, all, now).await.unwrap();
                resync_jobs.push(job.id);
            }
            Op::Replay => {}
        }
        if matches!(
            op,
            Op::Subscribe { .. } | Op::Cancel { .. } | Op::Expire { .. } | Op::Replay
        ) {
            if let Some(e) = &last_event {
                let report = events::ingest_events(
                    &app.store,
                    &t,
                    &EventBatch::try_from(json!({"events": [e]})).unwrap(),
                    now,
                )
                .await
                .unwrap();
                assert_eq!(report.received, 1);
                if matches!(op, Op::Replay) {
                    assert_eq!(report.accepted, 0, "a repeated event id changes nothing");
                }
            }
        }
        let changes = drain(&app, now, twice).await;
        check(&app, &t, &g, &ids, now, &format!("step {i} {op:?}")).await;
        for id in resync_jobs.drain(..) {
            assert!(changes.contains_key(&id), "step {i}: resync {id} ran");
        }
        check_jobs(&app, &t, &changes, &format!("step {i}")).await;
    }
}

#[test]
fn stored_members_always_equal_a_from_scratch_evaluation() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases: u32 = std::env::var("DYNAMIC_PROP_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 20,
        ..Config::default()
    });
    // A stack of its own: its wake-up ticks run at a clock far ahead and must not wake, nor its
    // queue drain run, other tests' customers and jobs.
    let app = rt.block_on(isolated_app());
    let result = runner.run(&prop::collection::vec(op(), 5..25), |ops| {
        rt.block_on(run(&app, ops));
        Ok(())
    });
    rt.block_on(drop_isolated(&app));
    result.unwrap();
}
