//! Edges that fail in every way at once: each failing node gets its exact `failed_status` after a
//! bounded number of attempts, healthy and slow-but-answering nodes confirm once, and the task
//! deadline holds even when retries would go on longer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::fleet::Protocol;
use engine::target::TargetKind;
use engine::tasks::TaskStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// An edge that reads the request, starts an answer and resets the connection mid-response;
/// counts the requests it got.
async fn resetting_edge() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                // RST instead of FIN: the client sees "connection reset" mid-answer.
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_failure_gets_its_reason_and_healthy_nodes_are_unaffected() {
    let t = engine_with(Backend::Sqlite, |c| {
        c.fanout.request_timeout_ms = 500;
        c.fanout.max_attempts = 3;
    })
    .await;
    let fast = EdgeBehaviour {
        status: 200,
        delay: Duration::from_millis(5),
    };
    let healthy = [
        start_sim_edge(fast).await,
        start_sim_edge(fast).await,
        start_sim_edge(fast).await,
    ];
    let slow = start_sim_edge(EdgeBehaviour {
        status: 200,
        delay: Duration::from_millis(300),
    })
    .await;
    let erroring = start_sim_edge(EdgeBehaviour {
        status: 500,
        delay: Duration::from_millis(5),
    })
    .await;
    let refusing = refusing_addr();
    let silent = silent_addr().await;
    let (resetting, resets) = resetting_edge().await;
    let mut nodes: Vec<SocketAddr> = healthy.iter().map(|e| e.addr).collect();
    nodes.extend([slow.addr, erroring.addr, refusing, silent, resetting]);
    let user = t
        .developer_with_fleet("dev", "www.example.com", Protocol::Varnish, &nodes)
        .await;
    let workers = t.engine.start_workers();
    let report = t
        .purge_and_wait(&user, TargetKind::Url, "http://www.example.com/fault.png")
        .await;
    workers.shutdown().await;

    assert_eq!(report.task.status, TaskStatus::Failed);
    assert_eq!(
        (report.task.total, report.task.success, report.task.failed),
        (8, 4, 4)
    );
    let ip = |addr: SocketAddr| vec![format!("127.0.0.1:{}", addr.port())];
    assert_eq!(report.failed_status["500"], ip(erroring.addr));
    assert_eq!(report.failed_status["connect_refused"], ip(refusing));
    assert_eq!(report.failed_status["timeout"], ip(silent));
    assert_eq!(report.failed_status["connect_error"], ip(resetting));
    assert_eq!(report.failed_status.len(), 4, "{:?}", report.failed_status);
    // Each failing node was tried exactly up to the limit; the healthy and the slow ones once.
    assert!(
        report.failures.iter().all(|(_, f)| f.attempts == 3),
        "{:?}",
        report.failures
    );
    assert_eq!(erroring.count(), 3);
    assert_eq!(resets.load(Ordering::SeqCst), 3);
    for edge in healthy.iter().chain([&slow]) {
        assert_eq!(edge.count(), 1, "a confirming node is asked once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_deadline_ends_retries_that_would_go_on_longer() {
    let t = engine_with(Backend::Sqlite, |c| {
        c.fanout.request_timeout_ms = 800;
        c.fanout.max_attempts = 10;
        c.fanout.backoff_base_ms = 100;
        c.fanout.backoff_max_ms = 200;
        c.fanout.task_deadline_secs = 2;
    })
    .await;
    let healthy = start_sim_edge(EdgeBehaviour {
        status: 200,
        delay: Duration::from_millis(5),
    })
    .await;
    let silent = silent_addr().await;
    let user = t
        .developer_with_fleet(
            "dev",
            "www.example.com",
            Protocol::Varnish,
            &[healthy.addr, silent],
        )
        .await;
    let workers = t.engine.start_workers();
    let report = t
        .purge_and_wait(
            &user,
            TargetKind::Url,
            "http://www.example.com/deadline.png",
        )
        .await;
    workers.shutdown().await;
    let task = &report.task;
    assert_eq!(
        (task.status, task.success, task.failed),
        (TaskStatus::Failed, 1, 1)
    );
    assert_eq!(
        report.failed_status["timeout"],
        vec![format!("127.0.0.1:{}", silent.port())]
    );
    let took = task.finished_at.expect("finished") - task.started_at.expect("started");
    // 10 attempts of 800 ms would take over 8 s; the 2 s deadline ends it (checked every 100 ms,
    // then written; the margin is for a loaded 2-core machine).
    assert!(
        took <= chrono::Duration::milliseconds(3_000),
        "the task took {took}"
    );
    let attempts = report.failures[0].1.attempts;
    assert!((2..10).contains(&attempts), "{attempts} attempts");
}
