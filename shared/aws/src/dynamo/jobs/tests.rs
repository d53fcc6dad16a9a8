//! Tests of the job item's decoding: progress summed over partition attributes.

use super::*;

fn job_item(extra: &[(&str, AttributeValue)]) -> super::super::Item {
    let t = TenantId::parse("acme").unwrap();
    let job = ResyncJob {
        id: JobId::generate(),
        groups: vec![],
        status: SyncState::Queued,
        shards_total: 16,
        shards_done: 0,
        customers_evaluated: 0,
        changes: 0,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
        last_error: None,
    };
    let mut item: super::super::Item = serde_dynamo::to_item(JobItem::new(&t, &job)).unwrap();
    item.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    item
}

fn part(evaluated: u64, changes: u64) -> AttributeValue {
    AttributeValue::M(
        [
            ("evaluated".to_owned(), n(evaluated)),
            ("changes".to_owned(), n(changes)),
        ]
        .into(),
    )
}

#[test]
fn progress_is_summed_over_the_partition_records() {
    let job = decode(job_item(&[])).unwrap();
    assert_eq!(
        (job.status, job.shards_done, job.customers_evaluated),
        (SyncState::Queued, 0, 0)
    );
    let job = decode(job_item(&[("part_00", part(10, 3)), ("part_07", part(5, 0))])).unwrap();
    assert_eq!(
        job.status,
        SyncState::Running,
        "a queued job with partitions done shows as running"
    );
    assert_eq!((job.shards_done, job.customers_evaluated, job.changes), (2, 15, 3));
}

#[test]
fn a_job_from_before_partition_records_keeps_its_progress() {
    let old = [
        (
            "done_shards",
            AttributeValue::Ss(vec!["00".into(), "01".into(), "07".into()]),
        ),
        ("customers_evaluated", n(30)),
        ("changes", n(4)),
    ];
    let mut with_new = old.to_vec();
    with_new.push(("part_07", part(0, 0)));
    with_new.push(("part_08", part(10, 1)));
    let job = decode(job_item(&with_new)).unwrap();
    assert_eq!((job.shards_done, job.customers_evaluated, job.changes), (4, 40, 5));
}
