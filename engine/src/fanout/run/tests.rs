//! What a run decides for each node: unsupported nodes, retries, deadlines and counts.

use super::*;
use crate::fleet::{NodeId, Protocol};
use crate::ids::{BatchId, TaskId};
use crate::target::TargetKind;
use crate::users::UserId;

fn nodes(protocols: &[Protocol]) -> Arc<Vec<NodeTarget>> {
    Arc::new(
        protocols
            .iter()
            .enumerate()
            .map(|(i, protocol)| NodeTarget {
                node_id: NodeId(i as i64),
                ip: "127.0.0.1".parse().unwrap(),
                port: 8000 + i as u16,
                protocol: protocol.clone(),
            })
            .collect(),
    )
}

fn claimed(kind: TargetKind, target: &str, total: usize) -> ClaimedTask {
    let now = Utc::now();
    ClaimedTask {
        task: TaskRecord {
            id: TaskId::generate(),
            seq: 1,
            batch_id: BatchId::generate(),
            user_id: UserId(1),
            domain_id: 1,
            kind,
            target: target.into(),
            host: None,
            mode: Default::default(),
            groups: Vec::new(),
            verify: false,
            prefetch_after: false,
            unverified: Vec::new(),
            unprefetched: Vec::new(),
            prefetched: 0,
            client_task_id: None,
            status: TaskStatus::Running,
            node_set_id: Some(1),
            total: total as u32,
            success: 0,
            failed: 0,
            created_at: now,
            started_at: Some(now),
            finished_at: None,
            callback_url: None,
        },
        node_set_id: 1,
        nodes: None,
        confirmed: NodeBitmap::new(total),
        failures: Vec::new(),
        deadline: now + chrono::Duration::seconds(60),
    }
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    backoff_base: Duration::from_millis(1),
    backoff_max: Duration::from_millis(4),
};

fn timeout() -> NodeOutcome {
    NodeOutcome::Failed {
        reason: FailureReason::timeout(),
        retryable: true,
        detail: String::new(),
    }
}

#[tokio::test]
async fn unsupported_nodes_fail_at_once_and_the_rest_is_pending() {
    let nodes = nodes(&[
        Protocol::Varnish,
        Protocol::Nginx {
            prefix_wildcard: false,
        },
    ]);
    let mut run = Run::new(
        claimed(TargetKind::Regex, "http://a.com/.*", 2),
        nodes,
        Utc::now(),
    );
    assert_eq!(run.counts(), (0, 1));
    assert_eq!(run.next_node(|_| false), Some(0));
    assert_eq!(run.next_node(|_| false), None);
    assert_eq!(
        run.record(0, NodeOutcome::Confirmed, &POLICY, Utc::now()),
        Recorded::Settled
    );
    assert_eq!(run.finished_status(), Some(TaskStatus::Failed));
    let progress = run.take_progress();
    assert_eq!(progress.new_failures.len(), 1);
    assert_eq!(
        progress.new_failures[0].reason,
        FailureReason::unsupported()
    );
}

#[tokio::test]
async fn a_request_http_cannot_carry_fails_its_nodes_at_once() {
    let bad_header = Protocol::Custom(crate::fleet::CustomTemplate {
        method: "PURGE".into(),
        path: "{path}".into(),
        headers: [("X Bad Name".to_owned(), "1".to_owned())].into(),
        supports_patterns: false,
        success_statuses: Vec::new(),
    });
    let mut run = Run::new(
        claimed(TargetKind::Url, "http://a.com/x.js", 2),
        nodes(&[bad_header, Protocol::Varnish]),
        Utc::now(),
    );
    assert_eq!(run.counts(), (0, 1));
    assert!(run.request_for(0).is_none());
    assert!(run.request_for(1).is_some());
    assert_eq!(run.next_node(|_| false), Some(1));
    assert_eq!(run.next_node(|_| false), None);
    let failure = &run.take_progress().new_failures[0];
    assert_eq!(failure.node_index, 0);
    assert_eq!(failure.reason, FailureReason::unsupported());
    assert_eq!(failure.detail, "invalid header X Bad Name");
}

#[tokio::test]
async fn retryable_failures_retry_until_the_last_attempt() {
    let mut run = Run::new(
        claimed(TargetKind::Url, "http://a.com/x", 1),
        nodes(&[Protocol::Varnish]),
        Utc::now(),
    );
    for attempt in 1..=3 {
        let index = run.next_node(|_| false).unwrap();
        let recorded = run.record(index, timeout(), &POLICY, Utc::now());
        if attempt < 3 {
            assert!(
                matches!(recorded, Recorded::RetryAt(_)),
                "attempt {attempt}"
            );
            run.retry_due(index);
        } else {
            assert_eq!(recorded, Recorded::Settled);
        }
    }
    assert_eq!(run.finished_status(), Some(TaskStatus::Failed));
    assert_eq!(run.take_progress().new_failures[0].attempts, 3);
}

#[tokio::test]
async fn confirmed_nodes_of_a_resumed_task_are_not_asked_again() {
    let mut claimed = claimed(TargetKind::Url, "http://a.com/x", 3);
    claimed.confirmed.set(0);
    claimed.failures.push(NodeFailure {
        node_index: 2,
        reason: FailureReason::status(403),
        attempts: 1,
        detail: String::new(),
    });
    let mut run = Run::new(
        claimed,
        nodes(&[Protocol::Varnish, Protocol::Varnish, Protocol::Varnish]),
        Utc::now(),
    );
    assert_eq!(run.counts(), (1, 1));
    assert_eq!(run.next_node(|_| false), Some(1));
    assert_eq!(run.next_node(|_| false), None);
}

#[tokio::test]
async fn busy_nodes_are_skipped_for_now() {
    let mut run = Run::new(
        claimed(TargetKind::Url, "http://a.com/x", 2),
        nodes(&[Protocol::Varnish, Protocol::Varnish]),
        Utc::now(),
    );
    assert_eq!(run.next_node(|index| index == 0), Some(1));
    assert_eq!(run.next_node(|index| index == 0), None);
    assert_eq!(run.next_node(|_| false), Some(0));
}

#[test]
fn the_deadline_clock_starts_with_the_first_request() {
    let mut run = Run::new(
        claimed(TargetKind::Url, "http://a.com/x", 1),
        nodes(&[Protocol::Varnish]),
        Utc::now(),
    );
    assert_eq!(run.deadline, None, "waiting in line costs no deadline");
    std::thread::sleep(Duration::from_millis(50));
    let sent = Instant::now();
    assert_eq!(run.next_node(|_| false), Some(0));
    let deadline = run.deadline.expect("set by the first request");
    // The claim gave 60 s; they count from the request, not from the claim 50 ms earlier.
    assert!(deadline >= sent + Duration::from_secs(60) - Duration::from_millis(5));
}

#[tokio::test]
async fn the_deadline_fails_what_was_never_asked() {
    let mut run = Run::new(
        claimed(TargetKind::Url, "http://a.com/x", 2),
        nodes(&[Protocol::Varnish, Protocol::Varnish]),
        Utc::now(),
    );
    run.expire(Utc::now());
    assert_eq!(run.counts(), (0, 2));
    assert_eq!(run.finished_status(), Some(TaskStatus::Failed));
}

#[test]
fn backoff_grows_within_bounds() {
    let policy = RetryPolicy {
        max_attempts: 5,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(1000),
    };
    for _ in 0..100 {
        let first = policy.backoff(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let late = policy.backoff(10);
        assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
    }
}
