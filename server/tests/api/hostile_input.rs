//! A corpus of malformed and hostile requests against every API: each gets a clear 4xx, nothing
//! is written, and the server stays up.

use std::net::SocketAddr;
use std::time::Duration;

use app::api::auth::SignIn;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use server_fn::ServerFn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// Sends `request` as raw bytes on a fresh connection; the status (0 when the server closed the
/// connection without an answer) and the body.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything (a too large body).
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn request(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nHost: purger.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fn seed004_auth(user: &str, key: &str, date: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(date.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    format!("Basic {}", STANDARD.encode(format!("{user}:{signature}")))
}

/// Tasks, and audit rows, in the database.
async fn written(app: &TestApp) -> (usize, usize) {
    let tasks = app
        .engine
        .list_tasks(&engine::store::TaskFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("tasks");
    let audit = app
        .engine
        .list_audit(&engine::store::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit");
    (tasks.len(), audit.len())
}

/// One hostile request and what must come back.
struct Case {
    what: &'static str,
    request: Vec<u8>,
    /// The status, exactly.
    status: u16,
    /// Text the body must contain (the error's code or message); empty: any body.
    says: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let edges = fleet(1, 0, 0).await;
    let (_, key) = app
        .developer("dev", "www.example.com", &addrs(&edges))
        .await;
    let key = key.as_str();
    let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let auth = seed004_auth("dev", key, &date);
    let forged = seed004_auth("dev", "not-the-key", &date);
    let bearer = format!("Bearer {key}");
    let json = ("Content-Type", b"application/json".as_slice());
    let huge = "a".repeat(100_000);
    let ten_mb = vec![b'x'; 10 << 20];
    let purge = |query: &str| request("GET", format!("/api/purge?{query}").as_bytes(), &[], b"");
    let seed004 = |headers: &[(&str, &[u8])], body: &[u8]| {
        request("POST", b"/api/content/regular-url/purge", headers, body)
    };
    let v1 = |body: &[u8]| {
        request(
            "POST",
            b"/api/v1/purges",
            &[("Authorization", bearer.as_bytes()), json],
            body,
        )
    };
    let k = format!("api_key={key}");
    let cases = vec![
        // --- seed 000 ---
        Case {
            what: "no parameters",
            request: purge(""),
            status: 401,
            says: "api_key is required",
        },
        Case {
            what: "empty uri",
            request: purge(&format!("uri=&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "no key",
            request: purge("uri=http://www.example.com/a"),
            status: 401,
            says: "failed",
        },
        Case {
            what: "forged key",
            request: purge(
                "uri=http://www.example.com/a&api_key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            status: 401,
            says: "failed",
        },
        Case {
            what: "javascript uri",
            request: purge(&format!("uri=javascript:alert(1)&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "NUL in uri",
            request: purge(&format!("uri=http://www.example.com/%00&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "invalid UTF-8 in uri",
            request: purge(&format!("uri=http://www.example.com/%FF%FE&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "bad percent-encoding",
            request: purge(&format!("uri=http://www.example.com/%ZZ&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "credentials in uri",
            request: purge(&format!("uri=http://user:pw@www.example.com/a&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "port out of range",
            request: purge(&format!("uri=http://www.example.com:99999/a&{k}")),
            status: 400,
            says: "failed",
        },
        Case {
            what: "another domain",
            request: purge(&format!("uri=http://evil.example/a&{k}")),
            status: 403,
            says: "failed",
        },
        Case {
            what: "100 kB uri",
            request: purge(&format!("uri=http://www.example.com/{huge}&{k}")),
            status: 414,
            says: "",
        },
        // --- seed 004 ---
        Case {
            what: "seed004 without auth",
            request: seed004(&[json], br#"{"urlRegulars":["http://www.example.com/.*"]}"#),
            status: 400,
            says: "UserNameInvalid",
        },
        Case {
            what: "seed004 garbage auth",
            request: seed004(
                &[
                    ("Authorization", b"Basic !!!"),
                    ("Date", date.as_bytes()),
                    json,
                ],
                b"{}",
            ),
            status: 400,
            says: "UserNameInvalid",
        },
        Case {
            what: "seed004 forged signature",
            request: seed004(
                &[
                    ("Authorization", forged.as_bytes()),
                    ("Date", date.as_bytes()),
                    json,
                ],
                br#"{"urlRegulars":["http://www.example.com/.*"]}"#,
            ),
            status: 401,
            says: "SignatureInvalid",
        },
        Case {
            what: "seed004 invalid JSON",
            request: seed004(
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Date", date.as_bytes()),
                    json,
                ],
                b"{\"urlRegulars\": [",
            ),
            status: 400,
            says: "",
        },
        Case {
            what: "seed004 wrong shape",
            request: seed004(
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Date", date.as_bytes()),
                    json,
                ],
                br#"{"urlRegulars":"http://www.example.com/.*"}"#,
            ),
            status: 400,
            says: "",
        },
        Case {
            what: "seed004 invalid UTF-8 body",
            request: seed004(
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Date", date.as_bytes()),
                    json,
                ],
                b"{\"urlRegulars\":[\"\xff\xfe\"]}",
            ),
            status: 400,
            says: "",
        },
        Case {
            what: "seed004 10 MB body",
            request: seed004(
                &[
                    ("Authorization", auth.as_bytes()),
                    ("Date", date.as_bytes()),
                    json,
                ],
                &ten_mb,
            ),
            status: 413,
            says: "",
        },
        // --- v1 ---
        Case {
            what: "v1 without auth",
            request: request("POST", b"/api/v1/purges", &[json], br#"{"urls":[]}"#),
            status: 401,
            says: "unauthorized",
        },
        Case {
            what: "v1 forged key",
            request: request(
                "POST",
                b"/api/v1/purges",
                &[("Authorization", b"Bearer forged"), json],
                br#"{"urls":[]}"#,
            ),
            status: 401,
            says: "unauthorized",
        },
        Case {
            what: "v1 invalid JSON",
            request: v1(b"{\"urls\": ["),
            status: 400,
            says: "code",
        },
        Case {
            what: "v1 wrong shape",
            request: v1(br#"{"urls": 5}"#),
            status: 400,
            says: "code",
        },
        Case {
            what: "v1 a list, not an object",
            request: v1(br#"["http://www.example.com/a"]"#),
            status: 400,
            says: "code",
        },
        Case {
            what: "v1 invalid UTF-8",
            request: v1(b"{\"urls\":[\"http://www.example.com/\xff\"]}"),
            status: 400,
            says: "code",
        },
        Case {
            what: "v1 nothing to purge",
            request: v1(br#"{"urls":[]}"#),
            status: 400,
            says: "code",
        },
        Case {
            what: "v1 10 MB body",
            request: v1(&ten_mb),
            status: 413,
            says: "code",
        },
        Case {
            what: "v1 bad task id",
            request: request(
                "GET",
                b"/api/v1/tasks/..%2F..%2Fetc%2Fpasswd",
                &[("Authorization", bearer.as_bytes())],
                b"",
            ),
            status: 404,
            says: "code",
        },
        // --- HTTP itself ---
        Case {
            what: "invalid UTF-8 in the path",
            request: request(
                "GET",
                b"/api/v1/tasks/\xff\xfe",
                &[("Authorization", bearer.as_bytes())],
                b"",
            ),
            status: 400,
            says: "",
        },
        Case {
            what: "a 100 kB header",
            request: request(
                "GET",
                b"/api/v1/quota",
                &[
                    ("Authorization", bearer.as_bytes()),
                    ("X-Junk", huge.as_bytes()),
                ],
                b"",
            ),
            status: 431,
            says: "HeadersTooLarge",
        },
        // --- dashboard server functions ---
        Case {
            what: "sign-in with a 10 MB body",
            request: request(
                "POST",
                SignIn::PATH.as_bytes(),
                &[("Content-Type", b"application/x-www-form-urlencoded")],
                &ten_mb,
            ),
            status: 413,
            says: "Invalid",
        },
        Case {
            what: "sign-in with a malformed form",
            request: request(
                "POST",
                SignIn::PATH.as_bytes(),
                &[("Content-Type", b"application/x-www-form-urlencoded")],
                b"username=%ZZ&&&=",
            ),
            status: 400,
            says: "Transport",
        },
    ];

    let before = written(&app).await;
    let mut wrong = Vec::new();
    for case in &cases {
        let (status, body) = raw(app.addr, &case.request).await;
        if status != case.status || !body.contains(case.says) {
            wrong.push(format!(
                "{}: {status} {}",
                case.what,
                body.chars().take(200).collect::<String>()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "answers not as expected:\n{}",
        wrong.join("\n")
    );
    assert_eq!(written(&app).await, before, "nothing was written");
    assert_eq!(app.get("/healthz").await.0, 200, "the server is still up");
    println!(
        "hostile input: {} requests, each answered with its 4xx; nothing written",
        cases.len()
    );
}
