//! The reference tenant's operations at a small scale, through the function binaries: each phase's
//! invocations (count, billed milliseconds, log bytes) beside the metering proxy's AWS counts.

use crate::{quantile, Args, Error};
use cg_runtime::events::{self, HttpRequest, HttpResponse};
use cg_runtime::metering::{self, capacity, Meter};
use cg_runtime::process::{Binaries, LambdaProcess};
use cg_runtime::runtime_api::Outcome;
use cg_runtime::stack::Stack;
use cg_runtime::REGION;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The functions the workload runs, kept warm.
const FUNCTIONS: [&str; 14] = [
    "api-customers-create",
    "api-customers-get",
    "api-customers-list",
    "api-groups-create",
    "api-groups-get",
    "api-groups-list",
    "api-group-members-list",
    "api-events-ingest",
    "api-exports-create-group",
    "api-exports-get",
    "api-exports-list",
    "worker-group-jobs",
    "worker-exports",
    "scheduler",
];

#[derive(Default, Clone, serde::Serialize)]
struct Invocations {
    count: u64,
    billed_ms: u64,
    log_bytes: u64,
}

pub struct Measured {
    pub latency: Value,
    pub phases: Value,
}

pub struct Run<'a> {
    pub tenant: String,
    stack: &'a Stack,
    meter: Meter,
    functions: BTreeMap<&'static str, LambdaProcess>,
    phase: String,
    /// Phase -> binary -> invocations.
    invocations: BTreeMap<String, BTreeMap<String, Invocations>>,
    /// Phase -> how many of the phase's unit (events, customers woken, rows, reads) it covered.
    units: BTreeMap<String, (String, u64)>,
    /// Event phase figures beside its unit: membership changes the events made.
    extra: BTreeMap<&'static str, u64>,
    customers: usize,
    groups: usize,
    events: usize,
    latency_samples: usize,
}

fn customer(i: usize) -> Value {
    let now = chrono::Utc::now();
    let day = chrono::Duration::days(1);
    let apps = ["news-app", "games", "music", "video", "books"];
    let app = apps[i % apps.len()];
    // Renewals spread over the next 30 days; every fifth customer has canceled, every seventh none.
    let renews = now + day * (1 + (i * 7 % 30) as i32);
    let mut subscriptions = vec![json!({
        "application": app, "product": "premium", "plan": if i.is_multiple_of(3) { "yearly" } else { "monthly" },
        "period": if i.is_multiple_of(3) { "year" } else { "month" }, "paid": !i.is_multiple_of(4),
        "status": if i.is_multiple_of(5) { "canceled" } else { "active" },
        "subscribed_at": (now - day * (30 + (i % 300) as i32)).to_rfc3339(),
        "renews_at": renews.to_rfc3339(),
    })];
    if i.is_multiple_of(7) {
        subscriptions.clear();
    }
    json!({
        "id": format!("cust-{i:07}"),
        "email": format!("customer{i}@example.com"),
        "phone": format!("+38050{:07}", 1_000_000 + i),
        "name": format!("Customer {i}"),
        "order_number": format!("A-{:06}", i),
        "signup_date": (now - day * (i % 900) as i32).date_naive().to_string(),
        "tags": [format!("t{}", i % 10), if i.is_multiple_of(2) { "newsletter" } else { "sms" }],
        "attributes": {
            "tier": {"type": "string", "value": (["gold", "silver", "bronze"][i % 3])},
            "loyalty_points": {"type": "number", "value": (i * 37 % 1000) as f64},
        },
        "subscriptions": subscriptions,
    })
}

/// The i-th of the tenant's dynamic groups: lifecycle states with timing, attributes, tags; group 0
/// holds every customer (the export's group).
fn group(i: usize) -> Value {
    let apps = ["news-app", "games", "music", "video", "books"];
    let app = apps[i % apps.len()];
    let rules = match i % 7 {
        0 if i == 0 => json!({"all_customers": {}}),
        0 => json!({"lifecycle": {"states": ["canceled"], "applications": [app]}}),
        1 => {
            json!({"lifecycle": {"states": ["renewing"], "applications": [app], "timing": {"before_days": 1 + i % 14}}})
        }
        2 => json!({"lifecycle": {"states": ["subscribed"], "applications": [app]}}),
        3 => json!({"attribute": {"field": "attributes.loyalty_points", "op": ">=", "value": (i * 20 % 1000) as f64}}),
        4 => json!({"tags": {"has_any": [format!("t{}", i % 10)]}}),
        5 => json!({"all": [
            {"attribute": {"field": "attributes.tier", "op": "=", "value": "gold"}},
            {"lifecycle": {"states": ["subscribed"], "applications": [app]}}
        ]}),
        _ => json!({"any": [
            {"lifecycle": {"states": ["expired", "canceled"], "applications": [app], "timing": {"after_days": 3}}},
            {"lifecycle": {"states": ["inactive"]}}
        ]}),
    };
    json!({"name": format!("Group {i:02}"), "type": "dynamic", "rules": rules})
}

impl<'a> Run<'a> {
    pub async fn start(stack: &'a Stack, binaries: &Binaries, meter: Meter, args: &Args) -> Result<Run<'a>, Error> {
        let mut functions = BTreeMap::new();
        for name in FUNCTIONS {
            let p = stack.start(binaries, name, &[]).await?;
            p.init(Duration::from_secs(30))
                .await
                .map_err(|e| format!("{name}: {e:?}"))?;
            functions.insert(name, p);
        }
        Ok(Run {
            tenant: format!("bench-{}", uuid::Uuid::new_v4().simple()),
            stack,
            meter,
            functions,
            phase: String::new(),
            invocations: BTreeMap::new(),
            units: BTreeMap::new(),
            extra: BTreeMap::new(),
            customers: args.customers,
            groups: args.groups,
            events: args.events,
            latency_samples: args.latency,
        })
    }

    fn phase(&mut self, name: &str, unit: &str) {
        self.phase = name.to_owned();
        self.meter.phase(name);
        self.units.insert(name.to_owned(), (unit.to_owned(), 0));
    }

    fn add_units(&mut self, n: u64) {
        if let Some(u) = self.units.get_mut(&self.phase) {
            u.1 += n;
        }
    }

    /// Invokes a function and books the invocation to the current phase.
    async fn invoke(&mut self, name: &'static str, event: &Value) -> Result<(Vec<u8>, Duration), Error> {
        let f = &self.functions[name];
        let logs_before = f.log_bytes();
        let started = Instant::now();
        let outcome = f
            .invoke(event)
            .await
            .map_err(|e| format!("{name}: {e:?}\n{}", f.logs()))?;
        let wall = started.elapsed();
        let body = match &outcome {
            Outcome::Response { body, .. } => body.to_vec(),
            Outcome::Error { report, .. } => return Err(format!("{name} failed: {report:?}").into()),
        };
        // Let the log reader threads catch up before counting this invocation's lines.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let inv = self
            .invocations
            .entry(self.phase.clone())
            .or_default()
            .entry(name.to_owned())
            .or_default();
        inv.count += 1;
        inv.billed_ms += outcome.duration().as_secs_f64().mul_add(1e3, 0.0).ceil() as u64;
        inv.log_bytes += f.log_bytes().saturating_sub(logs_before);
        Ok((body, wall))
    }

    async fn call(&mut self, name: &'static str, req: HttpRequest) -> Result<(HttpResponse, Duration), Error> {
        let (body, wall) = self.invoke(name, &req.event()).await?;
        Ok((HttpResponse::parse(&body)?, wall))
    }

    fn request(&self, name: &'static str, path: &str) -> HttpRequest {
        let (method, route) = self.functions[name].def.route().unwrap_or_default();
        HttpRequest::new(method, route, path, &self.tenant)
    }

    async fn ok(&mut self, name: &'static str, req: HttpRequest, status: u16) -> Result<Value, Error> {
        let (resp, _) = self.call(name, req).await?;
        if resp.status != status {
            return Err(format!("{name}: expected {status}, got {}: {}", resp.status, resp.raw).into());
        }
        Ok(resp.body)
    }

    /// Runs the group-jobs queue dry through the worker, in batches of up to 10 as the trigger does.
    async fn drain_group_jobs(&mut self) -> Result<u64, Error> {
        let queue = self.stack.config.group_jobs_queue_url.clone();
        self.drain(&queue, "worker-group-jobs", 10).await
    }

    async fn drain(&mut self, queue: &str, worker: &'static str, batch: i32) -> Result<u64, Error> {
        let sqs = self.stack.sqs().await;
        let arn = events::queue_arn(queue.rsplit('/').next().unwrap_or_default());
        let mut handled = 0;
        let mut idle = 0;
        while idle < 2 {
            let out = sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(batch)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                idle += 1;
                continue;
            }
            idle = 0;
            let (result, _) = self.invoke(worker, &events::sqs_event(&messages, &arn)).await?;
            let result: Value = serde_json::from_slice(&result)?;
            if result["batchItemFailures"].as_array().is_none_or(|f| !f.is_empty()) {
                return Err(format!("{worker} reported failures: {result}").into());
            }
            for m in &messages {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
            }
            handled += messages.len() as u64;
        }
        Ok(handled)
    }

    fn event(&self, id: &str, customer: usize) -> Value {
        let now = chrono::Utc::now();
        let c = format!("cust-{customer:07}");
        let at = now.to_rfc3339();
        match customer % 3 {
            0 => json!({"event_id": id, "customer_id": c, "type": "subscription.renewed", "occurred_at": at,
                "application": (["news-app", "games", "music", "video", "books"][customer % 5]), "product": "premium",
                "plan": "monthly", "renews_at": (now + chrono::Duration::days(30)).to_rfc3339()}),
            1 => json!({"event_id": id, "customer_id": c, "type": "customer.active", "occurred_at": at}),
            _ => json!({"event_id": id, "customer_id": c, "type": "payment.credited", "occurred_at": at,
                "currency": "EUR", "amount_minor": 999}),
        }
    }

    /// Every phase, in order.
    pub async fn all(&mut self, binaries: &Binaries, moto: &str) -> Result<Measured, Error> {
        let t = Instant::now();
        self.phase("setup", "customers");
        for i in 0..self.customers {
            let req = self.request("api-customers-create", "/customers").json(&customer(i));
            self.ok("api-customers-create", req, 201).await?;
            self.add_units(1);
        }
        let mut group_ids = Vec::new();
        for i in 0..self.groups {
            let req = self.request("api-groups-create", "/groups").json(&group(i));
            let g = self.ok("api-groups-create", req, 201).await?;
            group_ids.push(g["id"].as_str().unwrap_or_default().to_owned());
        }
        // Each creation queued its group's first resync; the nightly one below does them all at once.
        let sqs = self.stack.sqs().await;
        sqs.purge_queue()
            .queue_url(&self.stack.config.group_jobs_queue_url)
            .send()
            .await?;
        println!(
            "\n## (4) workload: {} customers, {} dynamic groups created in {:.1}s",
            self.customers,
            self.groups,
            t.elapsed().as_secs_f64()
        );

        for (name, what) in [
            ("resync_first", "first nightly resync"),
            ("resync_steady", "steady nightly resync"),
        ] {
            let t = Instant::now();
            self.phase(name, "resyncs");
            self.invoke("scheduler", &json!({"task": "nightly"})).await?;
            let n = self.drain_group_jobs().await?;
            self.add_units(1);
            println!("{what}: {n} shard message(s) in {:.1}s", t.elapsed().as_secs_f64());
        }

        self.phase("events", "events");
        let t = Instant::now();
        for i in 0..self.events {
            let body = json!({"events": [self.event(&format!("ev-{i}"), i * 7919 % self.customers)]});
            let req = self.request("api-events-ingest", "/events").json(&body);
            let r = self.ok("api-events-ingest", req, 200).await?;
            self.add_units(r["accepted"].as_u64().unwrap_or(0));
            *self.extra.entry("membership_changes").or_default() += r["membership_changes"].as_u64().unwrap_or(0);
        }
        println!(
            "{} single-event requests in {:.1}s",
            self.events,
            t.elapsed().as_secs_f64()
        );

        let latency = self.latency(binaries, moto).await?;
        self.wake().await?;
        self.export(&group_ids[0]).await?;
        self.reads(&group_ids[1 % group_ids.len()]).await?;

        let mut phases = Map::new();
        let counted = self.meter.phases();
        for (name, (unit, n)) in &self.units {
            phases.insert(
                name.clone(),
                json!({
                    "unit": unit,
                    "units": n,
                    "invocations": self.invocations.get(name).cloned().unwrap_or_default(),
                    "aws": counted.get(name).cloned().unwrap_or_default(),
                }),
            );
        }
        if let Some(Value::Object(events)) = phases.get_mut("events") {
            events.insert("membership_changes".into(), json!(self.extra.get("membership_changes")));
        }
        Ok(Measured {
            latency,
            phases: Value::Object(phases),
        })
    }

    /// (3) Warm latency through the Runtime API: invoke to result, as the test side sees it.
    async fn latency(&mut self, binaries: &Binaries, moto: &str) -> Result<Value, Error> {
        println!(
            "\n## (3) warm invocation latency through the Runtime API on moto ({} each)",
            self.latency_samples
        );
        // Straight to moto: the metering proxy's own reads would add to every write's time.
        let direct = Stack {
            endpoint: moto.to_owned(),
            ..self.stack.clone()
        };
        let mut metered = BTreeMap::new();
        for name in ["api-customers-get", "api-events-ingest"] {
            let p = direct.start(binaries, name, &[]).await?;
            p.init(Duration::from_secs(30))
                .await
                .map_err(|e| format!("{name}: {e:?}"))?;
            metered.insert(name, self.functions.insert(name, p).ok_or("not started")?);
        }
        let mut out = Map::new();
        for (name, phase) in [
            ("api-customers-get", "latency_get_customer"),
            ("api-events-ingest", "latency_one_event"),
        ] {
            self.phase(phase, "requests");
            let mut ms = Vec::new();
            for i in 0..self.latency_samples + 10 {
                let c = i * 104_729 % self.customers;
                let req = if name == "api-customers-get" {
                    self.request(name, &format!("/customers/cust-{c:07}"))
                } else {
                    let body = json!({"events": [self.event(&format!("lat-{i}"), c)]});
                    self.request(name, "/events").json(&body)
                };
                let (resp, wall) = self.call(name, req).await?;
                if resp.status != 200 {
                    return Err(format!("{name}: {}", resp.raw).into());
                }
                // The first ten warm the connections up.
                if i >= 10 {
                    ms.push(wall.as_secs_f64() * 1e3);
                    self.add_units(1);
                }
            }
            ms.sort_by(f64::total_cmp);
            let (p50, p99) = (quantile(&ms, 0.5), quantile(&ms, 0.99));
            println!("  {name:<20} p50 {p50:>6.1} ms   p99 {p99:>6.1} ms");
            out.insert(
                name.to_owned(),
                json!({"samples": ms.len(), "p50_ms": p50, "p99_ms": p99}),
            );
        }
        self.functions.extend(metered);
        Ok(Value::Object(out))
    }

    /// A wake-up: customers whose renewal enters a "renewing within n days" window seconds from now.
    async fn wake(&mut self) -> Result<(), Error> {
        self.phase("wake_setup", "events");
        let due = 20.min(self.customers);
        let mut woken = 0;
        for i in 0..due {
            // Group 1 is "renewing within 2 days" for games: renews_at = now + 2 days + 3 s.
            let c = i * 35 + 1;
            if c >= self.customers {
                break;
            }
            let renews = chrono::Utc::now() + chrono::Duration::days(2) + chrono::Duration::seconds(3);
            let body = json!({"events": [{"event_id": format!("wake-{i}"), "customer_id": format!("cust-{c:07}"),
                "type": "subscription.created", "occurred_at": chrono::Utc::now().to_rfc3339(), "application": "games",
                "product": "premium", "plan": "monthly", "renews_at": renews.to_rfc3339()}]});
            let req = self.request("api-events-ingest", "/events").json(&body);
            self.ok("api-events-ingest", req, 200).await?;
            woken += 1;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The scheduler's side (one tick, whatever is due) apart from the worker's (per customer woken).
        self.phase("wake_tick", "ticks");
        let (r, _) = self.invoke("scheduler", &json!({"task": "wake"})).await?;
        let queued: Value = serde_json::from_slice(&r)?;
        self.add_units(1);
        self.phase("wake_worker", "customers");
        let n = self.drain_group_jobs().await?;
        self.add_units(woken);
        println!(
            "wake-up tick: {} customer(s) queued of the {woken} made due, in {n} message(s)",
            queued["queued"]
        );
        Ok(())
    }

    /// One export of the all-customers group, its record read, the file downloaded once.
    async fn export(&mut self, group: &str) -> Result<(), Error> {
        self.phase("export", "rows");
        let req = self
            .request("api-exports-create-group", &format!("/groups/{group}/exports"))
            .json(&json!({"format": "csv"}));
        let x = self.ok("api-exports-create-group", req, 202).await?;
        let id = x["id"].as_str().unwrap_or_default().to_owned();
        let queue = self.stack.config.export_jobs_queue_url.clone();
        self.drain(&queue, "worker-exports", 1).await?;
        let req = self.request("api-exports-get", &format!("/exports/{id}"));
        let done = self.ok("api-exports-get", req, 200).await?;
        let rows = done["rows_written"].as_u64().unwrap_or(0);
        self.add_units(rows);
        let url = done["download_url"].as_str().ok_or("no download_url")?;
        let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let resp = client.get(url.parse()?).await?;
        println!(
            "export: {rows} rows, {} bytes; download answered {}",
            done["bytes_written"],
            resp.status()
        );
        Ok(())
    }

    /// API reads, one of each read route per round.
    async fn reads(&mut self, group: &str) -> Result<(), Error> {
        self.phase("api_reads", "requests");
        for round in 0..20 {
            let c = round * 37 % self.customers;
            let reqs = [
                (
                    "api-customers-get",
                    self.request("api-customers-get", &format!("/customers/cust-{c:07}")),
                ),
                ("api-customers-list", self.request("api-customers-list", "/customers")),
                ("api-groups-list", self.request("api-groups-list", "/groups")),
                (
                    "api-groups-get",
                    self.request("api-groups-get", &format!("/groups/{group}")),
                ),
                (
                    "api-group-members-list",
                    self.request("api-group-members-list", &format!("/groups/{group}/members")),
                ),
                ("api-exports-list", self.request("api-exports-list", "/exports")),
            ];
            for (name, req) in reqs {
                self.ok(name, req, 200).await?;
                self.add_units(1);
            }
        }
        Ok(())
    }
}

/// The item kind of a table item of `tenant`, from its keys (`cg_aws::keys`).
fn kind(pk: &str, sk: &str, tenant: &str) -> Option<&'static str> {
    let t = format!("T#{tenant}");
    if pk == "TENANTS" {
        return (sk == t).then_some("tenant");
    }
    let rest = pk.strip_prefix(&t)?;
    Some(match rest {
        "" if sk.starts_with("G#") => "group",
        "" if sk.starts_with("J#") => "job",
        "" if sk.starts_with("X#") => "export",
        "" => "tenant_other",
        r if r.starts_with("#CS#") => "customer",
        r if r.starts_with("#EMAIL#") || r.starts_with("#PHONE#") || r.starts_with("#EXT#") => "identity",
        r if r.starts_with("#EV#") => "event_id",
        r if r.starts_with("#G#") && r.ends_with("#H") => "history",
        r if r.starts_with("#G#") => "member",
        _ => "other",
    })
}

/// The tenant's items by kind: count and bytes (DynamoDB stores 100 bytes more per item), and the
/// bytes its export objects hold.
pub async fn storage(moto: &str, stack: &Stack, tenant: &str) -> Result<Value, Error> {
    let items = metering::scan_table(moto, REGION, &stack.config.table_name).await?;
    let mut kinds: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for item in &items {
        let s = |k: &str| item.get(k).and_then(|v| v["S"].as_str()).unwrap_or_default().to_owned();
        if let Some(k) = kind(&s("PK"), &s("SK"), tenant) {
            let e = kinds.entry(k).or_default();
            e.0 += 1;
            e.1 += capacity::item_size(item);
            e.2 += u64::from(item.contains_key("wake_pk"));
        }
    }
    println!("\nstorage of the tenant's items:");
    let mut out = Map::new();
    for (k, (n, bytes, indexed)) in &kinds {
        println!(
            "  {k:<12} {n:>7} items {bytes:>10} bytes ({} per item), {indexed} in WakeIndex",
            bytes / n.max(&1)
        );
        out.insert(
            (*k).to_owned(),
            json!({"items": n, "bytes": bytes, "in_wake_index": indexed}),
        );
    }
    Ok(Value::Object(out))
}
