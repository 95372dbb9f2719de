//! The client against small loopback servers written here: pipelining, bodies, fallbacks,
//! connections that end mid-pipeline, timeouts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;
use crate::fanout::protocol::EdgeRequest;

fn settings(depth: usize) -> EdgeSettings {
    EdgeSettings {
        connections_per_node: 1,
        pipeline_depth: depth,
        request_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(5),
    }
}

fn request(method: &str, path: &str) -> Arc<PreparedRequest> {
    Arc::new(
        PreparedRequest::new(&EdgeRequest {
            method: method.into(),
            path: path.into(),
            host: "www.a.com".into(),
            headers: Vec::new(),
        })
        .unwrap(),
    )
}

/// Sends `PURGE /0` … `PURGE /{n-1}` (tagged 0…n-1) at once and returns the replies by tag.
async fn purge_all(addr: SocketAddr, settings: EdgeSettings, method: &str, n: u32) -> Vec<Reply> {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut client = EdgeClient::new(settings, sender);
    for tag in 0..n {
        let job = Job {
            request: request(method, &format!("/{tag}")),
            tag,
            span: tracing::Span::none(),
        };
        client.send(addr, job);
    }
    client.flush();
    let mut replies: Vec<Option<Reply>> = vec![None; n as usize];
    for _ in 0..n {
        let (tag, reply) = tokio::time::timeout(Duration::from_secs(10), receiver.recv())
            .await
            .expect("every request is answered")
            .expect("the client is alive");
        assert!(
            replies[tag as usize].is_none(),
            "request {tag} answered twice"
        );
        replies[tag as usize] = Some(reply);
    }
    replies.into_iter().map(Option::unwrap).collect()
}

/// Reads request heads off `stream` until `n` have come (or the peer closes); their paths.
async fn read_requests(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Vec<String> {
    let mut paths = Vec::new();
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            let line = String::from_utf8_lossy(&head);
            paths.push(line.split(' ').nth(1).unwrap_or_default().to_owned());
        }
        if paths.len() >= n {
            return paths;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return paths,
            Ok(read) => buf.extend_from_slice(&chunk[..read]),
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// The paths the server received, with the number of the connection each came on.
type Log = Arc<Mutex<Vec<(usize, String)>>>;

fn on_connection(log: &Log, connection: usize) -> Vec<String> {
    let log = log.lock().unwrap();
    log.iter()
        .filter(|(c, _)| *c == connection)
        .map(|(_, path)| path.clone())
        .collect()
}

/// A loopback server that runs `serve` on each connection in turn, with its number and the log.
async fn server<F, Fut>(serve: F) -> (SocketAddr, Log)
where
    F: Fn(usize, TcpStream, Log) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let server_log = Arc::clone(&log);
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((stream, _)) = listener.accept().await {
            serve(connection, stream, Arc::clone(&server_log)).await;
            connection += 1;
        }
    });
    (addr, log)
}

fn record(log: &Log, connection: usize, paths: Vec<String>) {
    let mut log = log.lock().unwrap();
    log.extend(paths.into_iter().map(|path| (connection, path)));
}

#[tokio::test]
async fn a_connection_closed_mid_pipeline_loses_no_purge_and_reasks_only_the_unanswered() {
    let (addr, log) = server(|connection, mut stream, log| async move {
        let mut buf = Vec::new();
        let wanted = if connection == 0 { 10 } else { 1 };
        loop {
            let paths = read_requests(&mut stream, &mut buf, wanted).await;
            if paths.is_empty() {
                break;
            }
            let answers = if connection == 0 { 4 } else { paths.len() };
            record(&log, connection, paths);
            stream.write_all(&OK.repeat(answers)).await.unwrap();
            if connection == 0 {
                // The first connection took all ten pipelined purges, answered four: it
                // closes now.
                break;
            }
        }
    })
    .await;
    let replies = purge_all(addr, settings(16), "PURGE", 10).await;
    for reply in &replies {
        assert_eq!(
            reply,
            &Reply::Answered {
                status: 200,
                age: None
            }
        );
    }
    let paths =
        |range: std::ops::Range<u32>| -> Vec<String> { range.map(|i| format!("/{i}")).collect() };
    assert_eq!(
        on_connection(&log, 0),
        paths(0..10),
        "all ten went out pipelined"
    );
    let asked_again: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(c, _)| *c > 0)
        .map(|(_, path)| path.clone())
        .collect();
    assert_eq!(
        asked_again,
        paths(4..10),
        "only the six unanswered are asked again, once each, in order"
    );
}

#[tokio::test]
async fn pipelined_answers_with_chunked_and_sized_bodies_keep_their_order_and_age() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let paths = read_requests(&mut stream, &mut buf, 4).await;
        assert_eq!(paths.len(), 4);
        let mut answers = Vec::new();
        answers
            .extend_from_slice(b"HTTP/1.1 200 OK\r\nAge: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        // A body larger than the read buffer, in chunks.
        for _ in 0..10 {
            answers.extend_from_slice(b"1000\r\n");
            answers.extend_from_slice(&[b'x'; 0x1000]);
            answers.extend_from_slice(b"\r\n");
        }
        answers.extend_from_slice(b"0\r\n\r\n");
        answers.extend_from_slice(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope!");
        answers.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
        answers.extend_from_slice(b"HTTP/1.1 304 Not Modified\r\nAge: 1\r\n\r\n");
        // Written in small pieces, so that heads and bodies arrive split.
        for piece in answers.chunks(777) {
            stream.write_all(piece).await.unwrap();
            stream.flush().await.unwrap();
        }
        let _ = read_requests(&mut stream, &mut buf, 1).await;
    });
    let replies = purge_all(addr, settings(16), "GET", 4).await;
    let answered = |status, age| Reply::Answered { status, age };
    assert_eq!(
        replies,
        vec![
            answered(200, Some(5)),
            answered(404, None),
            answered(204, None),
            answered(304, Some(1))
        ]
    );
}

#[tokio::test]
async fn nodes_that_close_after_each_answer_or_speak_http10_get_one_request_at_a_time() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
        &b"HTTP/1.0 200 OK\r\n\r\n"[..],
    ] {
        let (addr, log) = server(move |connection, mut stream, log| async move {
            let mut buf = Vec::new();
            let mut paths = read_requests(&mut stream, &mut buf, 1).await;
            // Give pipelined requests time to arrive, to see how many came.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut chunk = [0u8; 4096];
            if let Ok(Ok(read)) =
                tokio::time::timeout(Duration::from_millis(1), stream.read(&mut chunk)).await
            {
                buf.extend_from_slice(&chunk[..read]);
                paths.extend(read_requests(&mut stream, &mut buf, 0).await);
            }
            record(&log, connection, paths);
            stream.write_all(answer).await.unwrap();
        })
        .await;
        let replies = purge_all(addr, settings(16), "PURGE", 5).await;
        assert!(replies
            .iter()
            .all(|r| matches!(r, Reply::Answered { status: 200, .. })));
        assert_eq!(
            on_connection(&log, 0).len(),
            5,
            "the first connection had them all pipelined"
        );
        for connection in 1..5 {
            assert_eq!(
                on_connection(&log, connection).len(),
                1,
                "then one at a time: {:?}",
                log.lock().unwrap()
            );
        }
    }
}

#[tokio::test]
async fn silent_refusing_and_hanging_up_nodes_fail_each_request_once() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let replies = purge_all(silent_addr, settings(4), "PURGE", 6).await;
    assert!(
        replies.iter().all(|r| matches!(
            r,
            Reply::Failed {
                error: TransportError::Timeout,
                ..
            }
        )),
        "{replies:?}"
    );

    let refusing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refusing_addr = refusing.local_addr().unwrap();
    drop(refusing);
    let replies = purge_all(refusing_addr, settings(4), "PURGE", 6).await;
    assert!(replies.iter().all(|r| matches!(
        r,
        Reply::Failed {
            error: TransportError::Refused,
            ..
        }
    )));

    let hanging_up = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_up_addr = hanging_up.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = hanging_up.accept().await {
            let mut buf = Vec::new();
            let _ = read_requests(&mut stream, &mut buf, 1).await;
        }
    });
    let replies = purge_all(hanging_up_addr, settings(4), "PURGE", 3).await;
    assert!(replies.iter().all(|r| matches!(
        r,
        Reply::Failed {
            error: TransportError::Connection,
            ..
        }
    )));
}
