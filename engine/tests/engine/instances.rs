//! Several instances on one database: the master key they must share, and (on PostgreSQL, the
//! store for several instances) wake-ups and progress relayed between them by LISTEN/NOTIFY.

use std::time::Duration;

use engine::fleet::Protocol;
use engine::submit::{Source, Submission};
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use engine::{Engine, EngineConfig};

use crate::on_both_stores;
use crate::support::*;

fn submission(url: &str) -> Submission {
    Submission {
        targets: vec![(TargetKind::Url, url.to_owned())],
        callback_url: None,
        idempotency_key: None,
        client_task_id: None,
        source: Source::V1,
        api_key_id: None,
        key_scope: Default::default(),
        domain: None,
        mode: Default::default(),
        groups: Vec::new(),
        verify: false,
        prefetch_after: false,
    }
}

/// A second instance on the same database, with its own name and settings.
async fn second_instance(t: &TestEngine, configure: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut config = test_config(t.dir.path());
    config.instance_name = Some("second".into());
    configure(&mut config);
    Engine::open(&t.database_url(), config)
        .await
        .expect("second instance opens")
}

on_both_stores! {
    #[tokio::test]
    an_instance_with_another_master_key_is_refused,
}

async fn an_instance_with_another_master_key_is_refused(backend: Backend) {
    let t = test_engine(backend).await;
    let mut config = test_config(t.dir.path());
    config.master_key = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    let refused = Engine::open(&t.database_url(), config).await;
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("master key"), "{message}");
    // The key the database knows is still accepted.
    second_instance(&t, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_work_wakes_an_idle_instance_at_once_on_postgres() {
    let t = engine_with(Backend::Postgres, |c| c.fanout.poll_interval_ms = 60_000).await;
    let edge = start_sim_edge(EdgeBehaviour {
        status: 200,
        delay: Duration::from_millis(5),
    })
    .await;
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &[edge.addr])
        .await;
    // Only the second instance works, and it polls once a minute: only a notification from the
    // first instance's submission can start the task within seconds.
    let worker = second_instance(&t, |c| c.fanout.poll_interval_ms = 60_000).await;
    let workers = worker.start_workers();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcome = t
        .engine
        .submit(&user, submission("http://www.example.com/woken"))
        .await
        .expect("submitted");
    let task = outcome.accepted().next().expect("accepted").clone();
    let status = wait_for(Duration::from_secs(10), || async {
        let record = t
            .engine
            .task(task.as_str(), &Default::default())
            .await
            .expect("read")?;
        record.status.is_final().then_some(record.status)
    })
    .await;
    assert_eq!(status, TaskStatus::Success);
    assert_eq!(edge.count(), 1);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_written_by_one_instance_reaches_subscribers_of_another_on_postgres() {
    let t = test_engine(Backend::Postgres).await;
    let mut edges = Vec::new();
    for i in 0..4 {
        edges.push(
            start_sim_edge(EdgeBehaviour {
                status: 200,
                delay: Duration::from_millis(50 * i),
            })
            .await,
        );
    }
    let addrs: Vec<_> = edges.iter().map(|e| e.addr).collect();
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &addrs)
        .await;
    // The first instance serves the browser (it relays, but does no fan-out itself).
    let relay = t.engine.start_relay();
    let mut events = t.engine.subscribe();
    let worker = second_instance(&t, |_| {}).await;
    let workers = worker.start_workers();
    let outcome = t
        .engine
        .submit(&user, submission("http://www.example.com/watched"))
        .await
        .expect("submitted");
    let task = outcome.accepted().next().expect("accepted").clone();
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        if event.task_id == task {
            seen.push(event.success);
            if event.status.is_final() {
                break;
            }
        }
    }
    assert_eq!(
        seen.last(),
        Some(&4),
        "the final progress arrived: {seen:?}"
    );
    workers.shutdown().await;
    relay.shutdown().await;
}
