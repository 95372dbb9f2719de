//! Purges against real caches started from the shipped configurations: the object is cached
//! (HIT) before the purge and fetched fresh from the origin (MISS, new body) after it.

mod kinds;

use engine::fleet::Protocol;
use engine::target::TargetKind;
use engine::tasks::TaskStatus;

use crate::support::*;

const HOST: &str = "www.example.com";

/// Fetches until cached; returns the cached body.
async fn cache(port: u16, path: &str) -> String {
    cached(port, HOST, path).await
}

/// Fetches `path` of `host` until cached; returns the cached body.
async fn cached(port: u16, host: &str, path: &str) -> String {
    let (_, first) = fetch(port, host, path).await;
    let (status, second) = fetch(port, host, path).await;
    assert_eq!(
        status, "HIT",
        "{host}{path} must be cached before the purge"
    );
    assert_eq!(first, second);
    second
}

#[tokio::test]
async fn varnish_exact_url_purge_evicts_the_object() {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    let t = test_engine(Backend::Sqlite).await;
    let user = t
        .developer_with_fleet(
            "dev",
            HOST,
            Protocol::Varnish,
            &[([127, 0, 0, 1], varnish.port).into()],
        )
        .await;
    let workers = t.engine.start_workers();

    let before = cache(varnish.port, "/a.png?v=1").await;
    let other = cache(varnish.port, "/b.png").await;
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &["http://www.example.com/a.png?v=1"],
    )
    .await;
    let task = outcome.accepted().next().expect("accepted").clone();
    let report = finished_report(&t.engine, &task).await;
    assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
    assert_eq!((report.task.total, report.task.success), (1, 1));

    let (status, after) = fetch(varnish.port, HOST, "/a.png?v=1").await;
    assert_eq!(status, "MISS");
    assert_ne!(after, before, "the origin must be asked again");
    assert_eq!(
        fetch(varnish.port, HOST, "/b.png").await,
        ("HIT".into(), other),
        "other objects stay cached"
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn varnish_regex_and_prefix_bans_evict_exactly_what_matches() {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    let t = test_engine(Backend::Sqlite).await;
    let user = t
        .developer_with_fleet(
            "dev",
            HOST,
            Protocol::Varnish,
            &[([127, 0, 0, 1], varnish.port).into()],
        )
        .await;
    let workers = t.engine.start_workers();

    let txt = cache(varnish.port, "/test/a.txt").await;
    let no_dot = cache(varnish.port, "/test/aXtxt").await;
    let png = cache(varnish.port, "/test/b.png").await;
    let img = cache(varnish.port, "/img/x.png").await;
    let elsewhere = cache(varnish.port, "/other/img/x.png").await;

    let report = t
        .purge_and_wait(
            &user,
            TargetKind::Regex,
            "http://www.example.com/test/.*\\.txt",
        )
        .await;
    assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
    let report = t
        .purge_and_wait(&user, TargetKind::Prefix, "http://www.example.com/img/")
        .await;
    assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");

    let (status, body) = fetch(varnish.port, HOST, "/test/a.txt").await;
    assert_eq!(status, "MISS");
    assert_ne!(body, txt);
    // The escaped dot reached Varnish as a literal dot: "aXtxt" does not match `.*\.txt`.
    assert_eq!(
        fetch(varnish.port, HOST, "/test/aXtxt").await,
        ("HIT".into(), no_dot)
    );
    assert_eq!(
        fetch(varnish.port, HOST, "/test/b.png").await,
        ("HIT".into(), png)
    );
    let (status, body) = fetch(varnish.port, HOST, "/img/x.png").await;
    assert_eq!(status, "MISS");
    assert_ne!(body, img);
    // The prefix is anchored: the same path under another directory stays.
    assert_eq!(
        fetch(varnish.port, HOST, "/other/img/x.png").await,
        ("HIT".into(), elsewhere)
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn nginx_exact_url_purge_evicts_the_object_and_404_counts_as_success() {
    let origin = start_origin().await;
    let nginx = start_nginx(origin.addr).await;
    let t = test_engine(Backend::Sqlite).await;
    let protocol = Protocol::Nginx {
        prefix_wildcard: false,
    };
    let user = t
        .developer_with_fleet(
            "dev",
            HOST,
            protocol,
            &[([127, 0, 0, 1], nginx.port).into()],
        )
        .await;
    let workers = t.engine.start_workers();

    let before = cache(nginx.port, "/n/a.css?x=1").await;
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Url,
        &[
            "http://www.example.com/n/a.css?x=1",
            "http://www.example.com/never-cached.js",
        ],
    )
    .await;
    let tasks: Vec<_> = outcome.accepted().cloned().collect();
    for task in &tasks {
        let report = finished_report(&t.engine, task).await;
        assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
    }
    let (status, after) = fetch(nginx.port, HOST, "/n/a.css?x=1").await;
    assert_eq!(status, "MISS");
    assert_ne!(after, before);

    // Regexes cannot be expressed with ngx_cache_purge 2.3: the node fails as `unsupported`.
    let report = t
        .purge_and_wait(&user, TargetKind::Regex, "http://www.example.com/n/.*")
        .await;
    assert_eq!(report.task.status, TaskStatus::Failed);
    assert_eq!(
        report.failed_status.keys().collect::<Vec<_>>(),
        vec!["unsupported"]
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn refused_and_silent_nodes_fail_with_their_reasons_while_healthy_ones_confirm() {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    let refusing = refusing_addr();
    let silent = silent_addr().await;
    let t = test_engine(Backend::Sqlite).await;
    let healthy = ([127, 0, 0, 1], varnish.port).into();
    let user = t
        .developer_with_fleet("dev", HOST, Protocol::Varnish, &[healthy, refusing, silent])
        .await;
    let workers = t.engine.start_workers();

    let before = cache(varnish.port, "/f.png").await;
    let report = t
        .purge_and_wait(&user, TargetKind::Url, "http://www.example.com/f.png")
        .await;
    assert_eq!(report.task.status, TaskStatus::Failed);
    assert_eq!(
        (report.task.total, report.task.success, report.task.failed),
        (3, 1, 2)
    );
    assert_eq!(
        report.success_ips,
        vec![format!("127.0.0.1:{}", varnish.port)]
    );
    assert_eq!(
        report.failed_status["connect_refused"],
        vec![format!("127.0.0.1:{}", refusing.port())]
    );
    assert_eq!(
        report.failed_status["timeout"],
        vec![format!("127.0.0.1:{}", silent.port())]
    );
    // Retried up to the limit, never more.
    assert!(
        report.failures.iter().all(|(_, f)| f.attempts == 3),
        "{:?}",
        report.failures
    );
    let (status, after) = fetch(varnish.port, HOST, "/f.png").await;
    assert_eq!(status, "MISS");
    assert_ne!(after, before);
    workers.shutdown().await;
}

/// An engine whose developer `dev` purges through the one Varnish on `port`, workers running.
async fn one_varnish(port: u16) -> (TestEngine, engine::users::User, engine::Workers) {
    let t = test_engine(Backend::Sqlite).await;
    let user = t
        .developer_with_fleet(
            "dev",
            HOST,
            Protocol::Varnish,
            &[([127, 0, 0, 1], port).into()],
        )
        .await;
    let workers = t.engine.start_workers();
    (t, user, workers)
}

/// Sends `method path` straight to an edge (as Purger would), with the test host.
async fn ask(port: u16, method: &str, path: &str, header: Option<(&str, &str)>) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut request = client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("http://127.0.0.1:{port}{path}"),
        )
        .header("Host", HOST);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the edge answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn varnish_answers_404_not_in_cache_and_that_purge_is_a_success() {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    // The shipped VCL answers like the classic `vcl_miss` example many edges run.
    assert_eq!(
        ask(varnish.port, "PURGE", "/nothing.png", None).await.0,
        404
    );
    cache(varnish.port, "/cached.png").await;
    assert_eq!(ask(varnish.port, "PURGE", "/cached.png", None).await.0, 200);

    let (t, user, workers) = one_varnish(varnish.port).await;
    let report = t
        .purge_and_wait(
            &user,
            TargetKind::Url,
            "http://www.example.com/never-cached.js",
        )
        .await;
    assert_eq!(report.task.status, TaskStatus::Success, "{report:?}");
    assert_eq!((report.task.total, report.task.success), (1, 1));
    workers.shutdown().await;
}

#[tokio::test]
async fn a_ban_varnish_cannot_parse_fails_the_node_instead_of_banning_nothing() {
    let origin = start_origin().await;
    let varnish = start_varnish(origin.addr).await;
    let kept = cache(varnish.port, "/a b/x.txt").await;
    let (status, _) = ask(
        varnish.port,
        "BAN",
        "/",
        Some((engine::fanout::protocol::BAN_HEADER, "^(?:/a b/.*)")),
    )
    .await;
    assert_eq!(status, 400, "the VCL says the expression did not parse");

    let (t, user, workers) = one_varnish(varnish.port).await;
    let report = t
        .purge_and_wait(&user, TargetKind::Regex, "http://www.example.com/a b/.*")
        .await;
    assert_eq!(report.task.status, TaskStatus::Failed, "{report:?}");
    assert_eq!(
        report.failed_status.keys().collect::<Vec<_>>(),
        vec!["400"],
        "{report:?}"
    );
    // A 404 to a BAN stays a failure (the edge does not know the method or the route).
    assert_eq!(
        engine::fanout::protocol::classify_status(&Protocol::Varnish, "BAN", 404),
        engine::fanout::protocol::StatusVerdict::Fail(engine::tasks::FailureReason::status(404))
    );
    assert_eq!(fetch(varnish.port, HOST, "/a%20b/x.txt").await.1, kept);
    workers.shutdown().await;
}
