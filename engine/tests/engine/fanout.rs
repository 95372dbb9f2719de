//! The fan-out: a cache in two groups purged once, fairness between users, crash recovery and
//! retries of failed nodes, against simulated edges on loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use engine::fleet::Protocol;
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use engine::users::Role;
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

const FAST: EdgeBehaviour = EdgeBehaviour {
    status: 200,
    delay: Duration::from_millis(5),
};

on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_cache_listed_in_two_groups_of_a_domain_is_purged_once,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    every_change_to_the_fleet_reaches_the_next_task,
}

async fn a_cache_listed_in_two_groups_of_a_domain_is_purged_once(backend: Backend) {
    let t = engine_with(backend, |_| {}).await;
    let shared = start_sim_edge(FAST).await;
    let other = start_sim_edge(FAST).await;
    let actor = Actor::cli();
    let user = t
        .engine
        .create_user(&actor, "twice", Role::Developer, None)
        .await
        .expect("user");
    t.group_with_nodes("east", Protocol::Varnish, &[shared.addr, other.addr])
        .await;
    t.group_with_nodes("west", Protocol::Varnish, &[shared.addr])
        .await;
    t.engine
        .add_domain(
            &actor,
            "twice.example.com",
            &["twice".to_owned()],
            &["east".to_owned(), "west".to_owned()],
        )
        .await
        .expect("domain");
    let workers = t.engine.start_workers();
    let report = t
        .purge_and_wait(&user, TargetKind::Url, "http://twice.example.com/a.css")
        .await;
    assert_eq!(
        (report.task.status, report.task.total, report.task.success),
        (TaskStatus::Success, 2, 2)
    );
    assert_eq!((shared.count(), other.count()), (1, 1));
    workers.shutdown().await;
}

/// Claims reuse the node set they froze for a domain while the fleet stays as it was: a node
/// added, disabled or enabled, and a group given to the domain, each reach the very next task.
async fn every_change_to_the_fleet_reaches_the_next_task(backend: Backend) {
    let t = test_engine(backend).await;
    let (a, b, c) = (
        start_sim_edge(FAST).await,
        start_sim_edge(FAST).await,
        start_sim_edge(FAST).await,
    );
    let actor = Actor::cli();
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &[a.addr])
        .await;
    let group = "www.example.com-varnish";
    let workers = t.engine.start_workers();
    let mut run = 0;
    let mut purge = || {
        run += 1;
        let url = format!("http://www.example.com/{run}.css");
        let (t, user) = (&t, &user);
        async move {
            let report = t.purge_and_wait(user, TargetKind::Url, &url).await;
            assert_eq!(report.task.status, TaskStatus::Success, "{url}");
            report.task.total
        }
    };
    assert_eq!(purge().await, 1);
    assert_eq!(purge().await, 1, "the same fleet again");

    let csv = format!("{},{}\n", b.addr.ip(), b.addr.port());
    t.engine
        .import_nodes(&actor, group, &csv)
        .await
        .expect("import");
    assert_eq!(purge().await, 2, "a node added");
    assert_eq!(b.count(), 1);

    let groups = t.engine.list_groups().await.expect("groups");
    let node_a = groups
        .iter()
        .flat_map(|g| &g.nodes)
        .find(|n| n.port == a.addr.port())
        .expect("node a")
        .id;
    t.engine
        .set_node_enabled(&actor, node_a, false)
        .await
        .expect("disabled");
    let asked_a = a.count();
    assert_eq!(purge().await, 1, "a node disabled");
    assert_eq!(a.count(), asked_a, "the disabled node is not asked");
    t.engine
        .set_node_enabled(&actor, node_a, true)
        .await
        .expect("enabled");
    assert_eq!(purge().await, 2, "the node enabled again");

    t.group_with_nodes("more", Protocol::Varnish, &[c.addr])
        .await;
    assert_eq!(purge().await, 2, "a group the domain does not have");
    t.engine
        .add_domain(&actor, "www.example.com", &[], &["more".to_owned()])
        .await
        .expect("domain");
    assert_eq!(purge().await, 3, "the group given to the domain");
    assert_eq!(c.count(), 1);
    workers.shutdown().await;
}

on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_single_url_is_not_held_back_by_another_users_huge_batch,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    after_a_crash_another_engine_finishes_every_task_without_asking_confirmed_nodes_again,
    #[tokio::test]
    retry_asks_only_the_failed_nodes_again,
    #[tokio::test]
    another_user_cannot_see_or_retry_a_task,
}

// Not a #[test] itself (`on_both_stores!` wraps it), so clippy's allowance for tests misses it.
#[allow(clippy::print_stdout)]
async fn a_single_url_is_not_held_back_by_another_users_huge_batch(backend: Backend) {
    let t = engine_with(backend, |config| {
        config.fanout.per_node_in_flight = 4;
        config.fanout.max_in_flight = 256;
    })
    .await;
    let mut edges = Vec::new();
    for _ in 0..40 {
        edges.push(start_sim_edge(FAST).await);
    }
    let addrs: Vec<SocketAddr> = edges.iter().map(|e| e.addr).collect();
    let big = t
        .developer_with_fleet("big", "big.example.com", Protocol::Varnish, &addrs)
        .await;
    let small = t
        .developer_with_fleet("small", "small.example.com", Protocol::Varnish, &addrs)
        .await;
    let urls: Vec<String> = (0..500)
        .map(|i| format!("http://big.example.com/asset/{i}.js"))
        .collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let batch = submit(&t.engine, &big, TargetKind::Url, &refs).await;
    assert_eq!(batch.accepted().count(), 500);
    let workers = t.engine.start_workers();
    // Let the big batch occupy the workers, then submit one URL of another user.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let single = submit(
        &t.engine,
        &small,
        TargetKind::Url,
        &["http://small.example.com/index.html"],
    )
    .await;
    let single_task = single.accepted().next().expect("accepted").clone();
    let single_report = finished_report(&t.engine, &single_task).await;
    assert_eq!(single_report.task.status, TaskStatus::Success);

    let batch_id = batch.batch_id.expect("batch");
    let tasks = wait_for(Duration::from_secs(60), || async {
        let tasks = t
            .engine
            .batch_tasks(batch_id.as_str(), &Default::default())
            .await
            .expect("read")
            .expect("batch");
        tasks
            .iter()
            .all(|task| task.status.is_final())
            .then_some(tasks)
    })
    .await;
    let batch_start = tasks.iter().map(|t| t.created_at).min().expect("tasks");
    let batch_end = tasks
        .iter()
        .filter_map(|t| t.finished_at)
        .max()
        .expect("finished");
    let batch_ms = (batch_end - batch_start).num_milliseconds();
    let single_ms = (single_report.task.finished_at.expect("finished")
        - single_report.task.created_at)
        .num_milliseconds();
    println!(
        "big batch: 500 × 40 nodes in {batch_ms} ms; single URL of another user: {single_ms} ms"
    );
    assert!(
        batch_ms > 500,
        "the batch must be long enough to measure ({batch_ms} ms)"
    );
    assert!(
        single_ms * 5 < batch_ms,
        "single URL took {single_ms} ms of the batch's {batch_ms} ms"
    );
    assert!(
        single_report.task.finished_at < Some(batch_end),
        "it did not wait for the batch"
    );
    workers.shutdown().await;
}

// Not a #[test] itself (`on_both_stores!` wraps it), so clippy's allowance for tests misses it.
#[allow(clippy::print_stdout)]
async fn after_a_crash_another_engine_finishes_every_task_without_asking_confirmed_nodes_again(
    backend: Backend,
) {
    let slow = EdgeBehaviour {
        status: 200,
        delay: Duration::from_millis(150),
    };
    let configure = |config: &mut engine::EngineConfig| {
        config.fanout.per_node_in_flight = 1;
        config.fanout.lease_secs = 2;
    };
    let t = engine_with(backend, |c| {
        configure(c);
        c.instance_name = Some("first".into());
    })
    .await;
    let mut edges = Vec::new();
    for _ in 0..20 {
        edges.push(start_sim_edge(slow).await);
    }
    let addrs: Vec<SocketAddr> = edges.iter().map(|e| e.addr).collect();
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &addrs)
        .await;
    let urls: Vec<String> = (0..12)
        .map(|i| format!("http://www.example.com/{i}.png"))
        .collect();
    let refs: Vec<&str> = urls.iter().map(String::as_str).collect();
    let outcome = submit(&t.engine, &user, TargetKind::Url, &refs).await;
    let task_ids: Vec<_> = outcome.accepted().cloned().collect();

    let workers = t.engine.start_workers();
    // Wait until work is provably under way: nodes confirmed in the database, tasks unfinished.
    // (A task's own nodes all answer within a few milliseconds of each other here, so a task
    // caught half-confirmed would be luck.)
    wait_for(Duration::from_secs(20), || async {
        let (mut confirmed, mut unfinished) = (0, 0);
        for id in &task_ids {
            let task = t
                .engine
                .task(id.as_str(), &Default::default())
                .await
                .expect("read")?;
            confirmed += task.success;
            unfinished += usize::from(!task.status.is_final());
        }
        (confirmed > 0 && unfinished > 0).then_some(())
    })
    .await;
    workers.abort();
    let asked_before_crash: usize = edges.iter().map(SimEdge::count).sum();
    let mut confirmed_before = 0;
    for id in &task_ids {
        confirmed_before += t
            .engine
            .task(id.as_str(), &Default::default())
            .await
            .expect("read")
            .expect("task")
            .success;
    }

    let dir = t.dir.path().to_path_buf();
    let mut config = test_config(&dir);
    configure(&mut config);
    config.instance_name = Some("second".into());
    let second = engine::Engine::open(&t.database_url(), config)
        .await
        .expect("reopen");
    let workers = second.start_workers();
    for id in &task_ids {
        let report = finished_report(&second, id).await;
        assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
        assert_eq!(report.task.success, 20);
    }
    workers.shutdown().await;

    let mut asked: HashMap<(SocketAddr, String), usize> = HashMap::new();
    for edge in &edges {
        for (path, count) in edge.per_path() {
            asked.insert((edge.addr, path), count);
        }
    }
    let twice: usize = asked.values().map(|n| n.saturating_sub(1)).sum();
    println!(
        "crash: {asked_before_crash} node purges answered before the crash, {confirmed_before} confirmed in the \
         database; {twice} node purges sent twice; {} node/URL pairs asked",
        asked.len()
    );
    assert_eq!(asked.len(), 12 * 20, "every node asked for every URL");
    // Only requests in flight since the last write may be repeated: at most one per node here.
    assert!(twice <= 20 * 2, "{twice} repeats");
    assert!(confirmed_before > 0);
}

async fn retry_asks_only_the_failed_nodes_again(backend: Backend) {
    let t = test_engine(backend).await;
    let healthy = start_sim_edge(FAST).await;
    let broken = refusing_addr();
    let user = t
        .developer_with_fleet(
            "dev",
            "www.example.com",
            Protocol::Varnish,
            &[healthy.addr, broken],
        )
        .await;
    let workers = t.engine.start_workers();
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &["http://www.example.com/r.js"],
    )
    .await;
    let task = outcome.accepted().next().expect("accepted").clone();
    let report = finished_report(&t.engine, &task).await;
    assert_eq!(report.task.status, TaskStatus::Failed);
    assert_eq!(
        report.failed_status["connect_refused"],
        vec![broken.to_string()]
    );

    // The node comes back; a retry asks it and only it.
    let revived = start_sim_edge_on(broken, FAST).await;
    let actor = Actor::cli();
    assert!(t
        .engine
        .retry_task(&actor, task.as_str(), &Some(user.id).into())
        .await
        .expect("retry"));
    let report = wait_for(Duration::from_secs(10), || async {
        let task = t
            .engine
            .task(task.as_str(), &Default::default())
            .await
            .expect("read")?;
        (task.status == TaskStatus::Success).then_some(task)
    })
    .await;
    assert_eq!((report.success, report.failed), (2, 0));
    assert_eq!(healthy.count(), 1, "the confirmed node was not asked again");
    assert_eq!(revived.count(), 1);
    assert!(!t
        .engine
        .retry_task(&actor, task.as_str(), &Some(user.id).into())
        .await
        .expect("nothing to retry"));
    workers.shutdown().await;
}

async fn another_user_cannot_see_or_retry_a_task(backend: Backend) {
    let t = test_engine(backend).await;
    let edge = start_sim_edge(FAST).await;
    let owner = t
        .developer_with_fleet("owner", "www.example.com", Protocol::Varnish, &[edge.addr])
        .await;
    let other = t
        .developer_with_fleet(
            "other",
            "other.example.com",
            Protocol::Varnish,
            &[edge.addr],
        )
        .await;
    let outcome = submit(
        &t.engine,
        &owner,
        TargetKind::Url,
        &["http://www.example.com/p"],
    )
    .await;
    let task = outcome.accepted().next().expect("accepted").clone();
    assert!(t
        .engine
        .task(task.as_str(), &Some(other.id).into())
        .await
        .expect("read")
        .is_none());
    assert!(t
        .engine
        .task(task.as_str(), &Some(owner.id).into())
        .await
        .expect("read")
        .is_some());
    let batch = outcome.batch_id.expect("batch");
    assert!(t
        .engine
        .batch_tasks(batch.as_str(), &Some(other.id).into())
        .await
        .expect("read")
        .is_none());
    assert!(t
        .engine
        .retry_task(&Actor::cli(), task.as_str(), &Some(other.id).into())
        .await
        .is_err());
}
