//! Customer search and exact counts (issue 14, seed 004 section 2.2): one filter (the rule language
//! AND the simple filter, compiled once) over the tenant's 16 customer partitions.
//!
//! A search page is a merge of the partitions in the sort's order (id, or creation time then id: a
//! [`Key`]). Each round reads a chunk of every partition not yet exhausted (all at once), and only
//! customers at or before the *frontier* (the smallest last key read among partitions that have more)
//! are in order: every customer up to it has been seen. The page holds the matches up to the frontier,
//! at most `limit`; the cursor is the key the page examined
//! up to (the last match returned when the page is full, the frontier otherwise), so the next page
//! starts strictly after it and no match is skipped or repeated, whatever was read beyond. A request
//! reads at most [`SEARCH_MAX_READ`] customers; a selective filter may therefore return a short (even
//! empty) page with a cursor: `next_cursor: null` alone says the search is over.

use crate::bulk::ports::BulkQueue;
use crate::customer::Customer;
use crate::error::{DomainError, Result};
use crate::ids::{CustomerId, FilterId, PathId, TenantId};
use crate::page::bad_cursor;
use crate::ports::{CustomerRanges, CustomerStore, FilterStore, GroupStore, RangeRead, Shards};
use crate::rules::Program;
use crate::search::count::{CountJobStore, CountJobView};
use crate::search::target::{Target, TargetSpec};
use crate::search::{CustomerQuery, Order, SearchInput, Sort};
use crate::usecases::count_job::start_count_job;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most customers one search request reads (all partitions together; `Shards::search_read_cap`).
pub const SEARCH_MAX_READ: u64 = 2_000;
/// Most customers a count reads within its request; a larger tenant is counted by a count job.
pub const COUNT_SYNC_MAX: u64 = 20_000;

/// The response of `POST /customers/search`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchPage {
    /// The matching customers, with the selected fields, in the requested order.
    pub items: Vec<Value>,
    /// The `cursor` of the next page; `null` only when no match is left.
    pub next_cursor: Option<String>,
    /// Customers this request read and evaluated.
    pub scanned: u64,
}

/// The response of `POST /customers/count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountResult {
    /// Customers that match.
    pub count: u64,
    /// Customers evaluated (every customer of the tenant).
    pub evaluated: u64,
}

/// Where a search stopped: the sort and direction it was made for and the last position examined
/// (the id, and for `created_at` the creation time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    s: Sort,
    o: Order,
    p: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<DateTime<Utc>>,
}

/// A customer's place in a search's order: the creation time (sorting by `created_at`; `None` by id),
/// then the id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    at: Option<DateTime<Utc>>,
    id: CustomerId,
}

impl Key {
    fn of(c: &Customer, sort: Sort) -> Key {
        Key {
            at: (sort == Sort::CreatedAt).then_some(c.created_at),
            id: c.id.clone(),
        }
    }
}

fn encode(c: &Cursor) -> String {
    let raw = serde_json::to_vec(c).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode(raw: &str, sort: Sort, order: Order) -> Result<Key> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad_cursor())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
    if c.s != sort || c.o != order {
        return Err(DomainError::Malformed(
            "cursor was made for another sort or order; give the same sort and order as the first page".into(),
        ));
    }
    if (sort == Sort::CreatedAt) != c.a.is_some() {
        return Err(bad_cursor());
    }
    Ok(Key {
        at: c.a,
        id: CustomerId::parse(&c.p).map_err(|_| bad_cursor())?,
    })
}

/// The filter a search or count applies: the one given, or a saved filter's (404 if there is none).
pub async fn query_of<S: FilterStore>(store: &S, t: &TenantId, target: Target) -> Result<CustomerQuery> {
    match target {
        Target::Filter(q) => Ok(*q),
        Target::SavedFilter(id) => match store.get_filter(t, &id).await? {
            Some(f) => f.query(),
            None => Err(FilterId::not_found(id.as_str())),
        },
        Target::Group(_) | Target::Ids(_) => Err(DomainError::validation(
            "target",
            "this route takes a filter (rules, condition_groups, template, simple)",
        )),
    }
}

/// Groups a filter's `member_of` conditions name must exist (422 on `rules` otherwise).
pub async fn check_groups<S: GroupStore>(store: &S, t: &TenantId, q: &CustomerQuery) -> Result<()> {
    let refs = q.referenced_groups();
    if refs.is_empty() {
        return Ok(());
    }
    let groups = store.list_all_groups(t).await?;
    for u in refs {
        if !groups.iter().any(|g| g.id == u) {
            return Err(DomainError::validation(
                "rules",
                format!("member_of references group {u:?}, which does not exist"),
            ));
        }
    }
    Ok(())
}

/// The one customer a filter's exact identities name, if it exists (all given must name the same).
async fn exact_customer<S: CustomerStore>(store: &S, t: &TenantId, q: &CustomerQuery) -> Result<Option<Customer>> {
    let Some(exact) = q.exact() else { return Ok(None) };
    let mut id = exact.id.clone();
    if !exact.identities.is_empty() {
        for found in store.resolve_identities(t, &exact.identities).await? {
            match (found, &id) {
                (None, _) => return Ok(None),
                (Some(f), Some(known)) if &f != known => return Ok(None),
                (Some(f), _) => id = Some(f),
            }
        }
    }
    match id {
        Some(id) => store.get_customer(t, &id).await,
        None => Ok(None),
    }
}

/// Whether one customer matches a one-rule program.
fn matches(program: &Program, c: &Customer, now: DateTime<Utc>) -> bool {
    let mut m = Vec::with_capacity(1);
    program.matches_into(c, now, &mut m);
    m.first().copied().unwrap_or(false)
}

/// Whether `a` comes before `b` in the direction.
fn before(a: &Key, b: &Key, order: Order) -> bool {
    match order {
        Order::Asc => a < b,
        Order::Desc => a > b,
    }
}

/// One page of the customers that match the filter (see the module doc for the merge and the cursor).
pub async fn search<S>(store: &S, t: &TenantId, input: SearchInput, now: DateTime<Utc>) -> Result<SearchPage>
where
    S: CustomerRanges + CustomerStore + GroupStore + FilterStore + Shards,
{
    let SearchInput {
        target,
        fields,
        sort,
        order,
        limit,
        cursor,
    } = input;
    let query = query_of(store, t, target).await?;
    check_groups(store, t, &query).await?;
    let start = cursor.as_deref().map(|c| decode(c, sort, order)).transpose()?;
    let program = query.program();
    if query.exact().is_some() {
        // At most one customer can match: read it, not the partitions.
        let found = exact_customer(store, t, &query).await?;
        let scanned = u64::from(found.is_some());
        let items = found
            .filter(|c| start.as_ref().is_none_or(|s| before(s, &Key::of(c, sort), order)))
            .filter(|c| matches(&program, c, now))
            .map(|c| fields.project(&c))
            .into_iter()
            .collect();
        return Ok(SearchPage {
            items,
            next_cursor: None,
            scanned,
        });
    }
    let merged = merge_page(store, t, &program, start, sort, order, limit, now).await?;
    Ok(SearchPage {
        items: merged.matches.iter().map(|c| fields.project(c)).collect(),
        next_cursor: merged.resume.map(|k| {
            encode(&Cursor {
                s: sort,
                o: order,
                p: k.id.to_string(),
                a: k.at,
            })
        }),
        scanned: merged.scanned,
    })
}

/// What one merged page found.
struct Merged {
    matches: Vec<Customer>,
    resume: Option<Key>,
    scanned: u64,
}

/// A partition's state in the merge.
struct Lane {
    shard: u32,
    read: Vec<(Customer, bool)>,
    last: Option<Key>,
    more: bool,
}

#[allow(clippy::too_many_arguments)]
async fn merge_page<S: CustomerRanges + Shards>(
    store: &S,
    t: &TenantId,
    program: &Program,
    start: Option<Key>,
    sort: Sort,
    order: Order,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<Merged> {
    let shards = store.customer_shards();
    let mut lanes: Vec<Lane> = (0..shards)
        .map(|shard| Lane {
            shard,
            read: Vec::new(),
            last: start.clone(),
            more: true,
        })
        .collect();
    // A first chunk that, spread evenly, covers the page about twice; later chunks from the match rate.
    let mut chunk = (2 * limit.div_ceil(shards) + 2).max(4);
    let (mut scanned, mut matches_read) = (0u64, 0u64);
    let cap = store.search_read_cap();
    let (mut matched, mut changes) = (Vec::new(), Vec::new());
    loop {
        let active: Vec<usize> = (0..lanes.len()).filter(|i| lanes[*i].more).collect();
        let budget = cap - scanned;
        if !active.is_empty() && budget >= active.len() as u64 {
            let each = (chunk as u64).min(budget / active.len() as u64) as u32;
            let reads: Vec<RangeRead> = active
                .iter()
                .map(|i| RangeRead {
                    shard: lanes[*i].shard,
                    after: lanes[*i].last.as_ref().map(|k| k.id.clone()),
                    limit: Some(each),
                    descending: order == Order::Desc,
                    by_created: sort == Sort::CreatedAt,
                    after_created: lanes[*i].last.as_ref().and_then(|k| k.at),
                })
                .collect();
            let pages = store.read_ranges(t, &reads).await?;
            for (i, page) in active.iter().zip(pages) {
                let lane = &mut lanes[*i];
                scanned += page.customers.len() as u64;
                program.matches_many(&page.customers, now, &mut matched, &mut changes);
                matches_read += matched.iter().filter(|m| **m).count() as u64;
                if let Some(c) = page.customers.last() {
                    lane.last = Some(Key::of(c, sort));
                }
                lane.more = page.more;
                lane.read
                    .extend(page.customers.into_iter().zip(matched.iter().copied()));
            }
        }
        // Every customer up to the frontier has been read (`None`: every partition is exhausted).
        let frontier = lanes
            .iter()
            .filter(|l| l.more)
            .filter_map(|l| l.last.clone())
            .reduce(|a, b| if before(&a, &b, order) { a } else { b });
        let any_more = lanes.iter().any(|l| l.more);
        // A partition with more but nothing read yet orders nothing (cannot happen without a filter
        // expression on the read, but then nothing is known to be in order).
        let blocked = lanes.iter().any(|l| l.more && l.last.is_none());
        let mut ready: Vec<&Customer> = lanes
            .iter()
            .flat_map(|l| l.read.iter())
            .filter(|(c, m)| *m && !blocked && frontier.as_ref().is_none_or(|f| !before(f, &Key::of(c, sort), order)))
            .map(|(c, _)| c)
            .collect();
        ready.sort_by_cached_key(|c| Key::of(c, sort));
        if order == Order::Desc {
            ready.reverse();
        }
        let out_of_budget = cap - scanned < lanes.iter().filter(|l| l.more).count().max(1) as u64;
        if ready.len() >= limit as usize || !any_more || out_of_budget {
            let full = ready.len() >= limit as usize;
            let extra = ready.len() > limit as usize;
            ready.truncate(limit as usize);
            let resume = if full && (extra || any_more) {
                ready.last().map(|c| Key::of(c, sort))
            } else if any_more {
                // Short page: everything up to the frontier is examined (a partition that has more
                // always has a last id, since it was read at least once or starts at the cursor).
                if blocked {
                    start
                } else {
                    frontier.or(start)
                }
            } else {
                None
            };
            return Ok(Merged {
                matches: ready.into_iter().cloned().collect(),
                resume,
                scanned,
            });
        }
        chunk = next_chunk(chunk, limit as u64 - ready.len() as u64, scanned, matches_read, &lanes);
    }
}

/// The next round's reads per partition: enough, at the match rate seen so far and a quarter more, for
/// the matches the page still needs, spread over the partitions that have more (at most 4 times the
/// last chunk); doubled while nothing has matched yet.
fn next_chunk(chunk: u32, needed: u64, scanned: u64, matches_read: u64, lanes: &[Lane]) -> u32 {
    let active = lanes.iter().filter(|l| l.more).count().max(1) as u64;
    if matches_read == 0 {
        return chunk.saturating_mul(2);
    }
    let want = (needed * scanned * 5).div_ceil(matches_read * active * 4);
    want.clamp(2, u64::from(chunk) * 4) as u32
}

/// What `POST /customers/count` answers: the count (200), or the count job started because the
/// tenant has more customers than a request counts (202).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CountAnswer {
    /// Counted within the request.
    Exact(CountResult),
    /// Counting as a job: poll `GET /count-jobs/{id}`.
    Job(CountJobView),
}

/// The exact number of the tenant's customers that match, reading every partition, if the tenant has
/// at most `Shards::count_sync_max` customers (`None` otherwise: count with a job).
pub async fn try_count<S>(
    store: &S,
    t: &TenantId,
    query: &CustomerQuery,
    now: DateTime<Utc>,
) -> Result<Option<CountResult>>
where
    S: CustomerRanges + CustomerStore + GroupStore + Shards,
{
    let mut out = CountResult { count: 0, evaluated: 0 };
    let complete = walk(store, t, query, now, store.count_sync_max(), |customers, matched| {
        out.evaluated += customers.len() as u64;
        out.count += matched.iter().filter(|m| **m).count() as u64;
    })
    .await?;
    Ok(complete.then_some(out))
}

/// The exact count, within the request (a tenant larger than `Shards::count_sync_max` is a 422).
pub async fn count<S>(store: &S, t: &TenantId, target: Target, now: DateTime<Utc>) -> Result<CountResult>
where
    S: CustomerRanges + CustomerStore + GroupStore + FilterStore + Shards,
{
    let query = query_of(store, t, target).await?;
    try_count(store, t, &query, now).await?.ok_or_else(|| too_large(store))
}

/// `POST /customers/count`: the exact count within the request for a tenant of at most
/// `Shards::count_sync_max` customers, otherwise a count job over every partition (see
/// `search::count`). The request that finds the tenant too large has read that many customers first.
pub async fn count_or_start_job<S>(store: &S, t: &TenantId, target: Target, now: DateTime<Utc>) -> Result<CountAnswer>
where
    S: CustomerRanges + CustomerStore + GroupStore + FilterStore + Shards + CountJobStore + BulkQueue,
{
    let filter_id = match &target {
        Target::SavedFilter(id) => Some(id.clone()),
        _ => None,
    };
    let query = query_of(store, t, target).await?;
    match try_count(store, t, &query, now).await? {
        Some(exact) => Ok(CountAnswer::Exact(exact)),
        None => {
            let spec = TargetSpec::filter(&query, filter_id);
            Ok(CountAnswer::Job(start_count_job(store, t, spec, now).await?))
        }
    }
}

fn too_large<S: Shards>(store: &S) -> DomainError {
    DomainError::validation(
        "target",
        format!(
            "the tenant has more than {} customers, more than one request reads: use POST /customers/count, which counts them as a job",
            store.count_sync_max()
        ),
    )
}

/// Every customer that matches now, in partition order, if the tenant has at most
/// `Shards::count_sync_max` customers (`None` otherwise: a snapshot job adds them): what a filter
/// saved as a static group starts with.
pub async fn matching_customers<S>(
    store: &S,
    t: &TenantId,
    query: &CustomerQuery,
    now: DateTime<Utc>,
) -> Result<Option<Vec<Customer>>>
where
    S: CustomerRanges + CustomerStore + GroupStore + Shards,
{
    let mut out = Vec::new();
    let complete = walk(store, t, query, now, store.count_sync_max(), |customers, matched| {
        out.extend(
            customers
                .iter()
                .zip(matched)
                .filter(|(_, m)| **m)
                .map(|(c, _)| c.clone()),
        );
    })
    .await?;
    Ok(complete.then_some(out))
}

/// Reads every customer the filter can match (one, for exact identities) and hands each page to `f`
/// with its answers; `false` (and `f` has seen part of them) if there are more than
/// `Shards::count_sync_max`.
async fn walk<S>(
    store: &S,
    t: &TenantId,
    query: &CustomerQuery,
    now: DateTime<Utc>,
    max: u64,
    mut f: impl FnMut(&[Customer], &[bool]) + Send,
) -> Result<bool>
where
    S: CustomerRanges + CustomerStore + GroupStore + Shards,
{
    check_groups(store, t, query).await?;
    let program = query.program();
    if query.exact().is_some() {
        if let Some(c) = exact_customer(store, t, query).await? {
            let m = matches(&program, &c, now);
            f(std::slice::from_ref(&c), &[m]);
        }
        return Ok(true);
    }
    let mut reads: Vec<RangeRead> = (0..store.customer_shards())
        .map(|shard| RangeRead {
            shard,
            after: None,
            limit: None,
            descending: false,
            by_created: false,
            after_created: None,
        })
        .collect();
    let mut evaluated = 0u64;
    let (mut matched, mut changes) = (Vec::new(), Vec::new());
    while !reads.is_empty() {
        let pages = store.read_ranges(t, &reads).await?;
        let mut next = Vec::new();
        for (read, page) in reads.into_iter().zip(pages) {
            evaluated += page.customers.len() as u64;
            if evaluated > max {
                return Ok(false);
            }
            program.matches_many(&page.customers, now, &mut matched, &mut changes);
            f(&page.customers, &matched);
            if page.more {
                next.push(RangeRead {
                    after: page.customers.last().map(|c| c.id.clone()),
                    ..read
                });
            }
        }
        reads = next;
    }
    Ok(true)
}
