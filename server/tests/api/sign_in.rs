//! Dashboard sign-in under attack: bounded user names, throttling per client address, password
//! checks off the async workers, login CSRF, secure cookies, and sessions that end with their
//! password or their user.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use app::api::auth::{ChangePassword, SignIn, SignOut};
use engine::store::UserUpdate;
use engine::users::Role;
use engine::Actor;
use server_fn::ServerFn;

use crate::support::*;

/// An answer to a sign-in: status, body and the session cookie (`name=value`) if one was set.
struct Answer {
    status: u16,
    body: String,
    cookie: Option<String>,
}

fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(Ipv4Addr::from(source)))
        .build()
        .expect("client")
}

async fn sign_in_with(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> Answer {
    let response = http
        .post(app.url(SignIn::PATH))
        .header("Accept", "application/json")
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answer");
    let cookie = session_cookie(&response);
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap_or_default(),
        cookie,
    }
}

async fn user(app: &TestApp, name: &str, password: &str) -> engine::users::User {
    app.engine
        .create_user(&Actor::cli(), name, Role::Developer, Some(password))
        .await
        .expect("user")
}

/// The status of the CSV export with `cookie`: 200 while the session stands, 401 after.
async fn export_status(app: &TestApp, cookie: &str) -> u16 {
    app.http
        .get(app.url("/export/tasks.csv"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_user_name_longer_than_any_is_refused_at_once_and_not_counted() {
    let app = spawn_app_with(|c| c.workers = false).await;
    user(&app, "alice", "alice-password").await;
    let http = client_from([127, 0, 0, 2]);
    let long = "a".repeat(250_000);
    for _ in 0..40 {
        let started = Instant::now();
        let answer = sign_in_with(&app, &http, &long, "whatever").await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(
            answer.body.contains("user name too long"),
            "{}",
            answer.body
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no password check"
        );
    }
    // Neither the name nor the address was counted: the right password still works from here.
    let answer = sign_in_with(&app, &http, "alice", "alice-password").await;
    assert!(answer.cookie.is_some(), "{} {}", answer.status, answer.body);
}

#[tokio::test]
async fn failures_lock_that_address_for_that_name_but_not_the_owner_elsewhere() {
    let app = spawn_app_with(|c| c.workers = false).await;
    user(&app, "bob", "bob-password").await;
    let attacker = client_from([127, 0, 0, 3]);
    for _ in 0..5 {
        let answer = sign_in_with(&app, &attacker, "bob", "wrong-password").await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
    let locked = sign_in_with(&app, &attacker, "bob", "bob-password").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.cookie.is_none());
    let owner = sign_in_with(&app, &client_from([127, 0, 0, 4]), "bob", "bob-password").await;
    assert!(owner.cookie.is_some(), "{} {}", owner.status, owner.body);
}

#[tokio::test]
async fn concurrent_guesses_cannot_pass_the_limit_together() {
    let app = spawn_app_with(|c| c.workers = false).await;
    user(&app, "carol", "carol-password").await;
    let attacker = client_from([127, 0, 0, 5]);
    let guesses = (0..16).map(|n| {
        let (app, attacker) = (&app, &attacker);
        async move { sign_in_with(app, attacker, "carol", &format!("guess-{n}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 400).count();
    let throttled = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!((checked, throttled), (5, 11), "5 passwords checked at most");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_do_not_hold_the_async_workers() {
    let app = spawn_app_with(|c| c.workers = false).await;
    user(&app, "ivan", "right-password").await;
    // Eight sign-ins at all times, each one an argon2 verification (unknown names get a check
    // against a dummy hash), from eight addresses so that no throttle cuts them short.
    let loops: Vec<_> = (0..8u8)
        .map(|n| {
            let http = client_from([127, 0, 1, n + 1]);
            let url = app.url(SignIn::PATH);
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for k in 0..12 {
                    let name = if k == 0 {
                        "ivan".to_owned()
                    } else {
                        format!("u{n}-{k}")
                    };
                    let sent = http
                        .post(&url)
                        .form(&[("username", name.as_str()), ("password", "wrong")])
                        .send()
                        .await;
                    statuses.push(sent.map_or(0, |r| r.status().as_u16()));
                }
                statuses
            })
        })
        .collect();
    let mut latencies = Vec::new();
    while loops.iter().any(|check| !check.is_finished()) {
        let started = Instant::now();
        assert_eq!(app.get("/healthz").await.0, 200);
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for check in loops {
        let statuses = check.await.expect("joined");
        assert!(
            statuses.iter().all(|s| *s == 400),
            "every check ran: {statuses:?}"
        );
    }
    latencies.sort();
    assert!(
        latencies.len() >= 10,
        "the checks took a while ({latencies:?})"
    );
    let median = latencies[latencies.len() / 2];
    let slowest = latencies[latencies.len() - 1];
    assert!(
        median < Duration::from_millis(10) && slowest < Duration::from_millis(250),
        "/healthz took {median:?} (median), {slowest:?} (slowest) while passwords were checked"
    );
}

#[tokio::test]
async fn a_cross_site_sign_in_form_is_refused() {
    let app = spawn_app_with(|c| c.workers = false).await;
    user(&app, "dave", "dave-password").await;
    let forged = app
        .http
        .post(app.url(SignIn::PATH))
        .header("Origin", "http://evil.example")
        .form(&[("username", "dave"), ("password", "dave-password")])
        .send()
        .await
        .expect("answer");
    assert_eq!(forged.status().as_u16(), 403, "login CSRF");
    assert!(forged.headers().get("set-cookie").is_none());
    let own = app
        .http
        .post(app.url(SignIn::PATH))
        .header("Origin", format!("http://{}", app.addr))
        .form(&[("username", "dave"), ("password", "dave-password")])
        .send()
        .await
        .expect("answer");
    assert_eq!(own.status().as_u16(), 200);
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure_with_the_host_prefix() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.public_url = Some("https://purger.example.com".into());
    })
    .await;
    user(&app, "erin", "erin-password").await;
    let response = app
        .http
        .post(app.url(SignIn::PATH))
        .form(&[("username", "erin"), ("password", "erin-password")])
        .send()
        .await
        .expect("answer");
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        set_cookie.starts_with("__Host-purger_session=")
            && set_cookie.contains("; Secure")
            && set_cookie.contains("Path=/")
            && !set_cookie.contains("Domain"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("cookie").to_owned();
    assert_eq!(export_status(&app, &cookie).await, 200);
    let unprefixed = cookie.replacen("__Host-", "", 1);
    assert_eq!(
        export_status(&app, &unprefixed).await,
        401,
        "only the prefixed name"
    );

    let plain = spawn_app_with(|c| c.workers = false).await;
    user(&plain, "erin", "erin-password").await;
    let answer = sign_in_with(&plain, &plain.http, "erin", "erin-password").await;
    let cookie = answer.cookie.expect("signed in");
    assert!(cookie.starts_with("purger_session="), "{cookie}");
}

#[tokio::test]
async fn a_new_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let frank = user(&app, "frank", "frank-password").await;
    let this = sign_in_with(&app, &app.http, "frank", "frank-password").await;
    let other = sign_in_with(
        &app,
        &client_from([127, 0, 0, 6]),
        "frank",
        "frank-password",
    )
    .await;
    let (this, other) = (this.cookie.expect("this"), other.cookie.expect("other"));
    assert_eq!(export_status(&app, &other).await, 200);

    let changed = app
        .http
        .post(app.url(ChangePassword::PATH))
        .header("Cookie", &this)
        .header("Origin", format!("http://{}", app.addr))
        .form(&[
            ("current", "frank-password"),
            ("new_password", "frank-new-pw"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(changed.status().as_u16(), 200);
    let renewed = session_cookie(&changed).expect("this session goes on under a new cookie");
    assert_eq!(
        export_status(&app, &other).await,
        401,
        "the other session ended"
    );
    assert_eq!(export_status(&app, &this).await, 401, "the old cookie too");
    assert_eq!(export_status(&app, &renewed).await, 200);

    // An admin's reset ends every session of the user.
    app.engine
        .update_user(
            &Actor::cli(),
            frank.id,
            UserUpdate::default(),
            Some("reset-by-admin"),
        )
        .await
        .expect("reset");
    assert_eq!(export_status(&app, &renewed).await, 401);
}

/// Opens `/events` with `cookie`, applies `end`, and waits for the stream to end.
async fn stream_ends_after(
    app: &TestApp,
    cookie: &str,
    end: impl std::future::Future<Output = ()>,
) {
    let mut stream = app
        .http
        .get(app.url("/events"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(stream.status().as_u16(), 200);
    end.await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream is still open");
}

#[tokio::test]
async fn an_open_event_stream_ends_on_sign_out_disable_or_role_change() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let grace = user(&app, "grace", "grace-password").await;
    let session = || async { sign_in_with(&app, &app.http, "grace", "grace-password").await };

    let cookie = session().await.cookie.expect("signed in");
    let sign_out = app
        .http
        .post(app.url(SignOut::PATH))
        .header("Cookie", &cookie)
        .header("Origin", format!("http://{}", app.addr))
        .send();
    stream_ends_after(&app, &cookie, async {
        sign_out.await.expect("signed out");
    })
    .await;

    let cookie = session().await.cookie.expect("signed in");
    stream_ends_after(&app, &cookie, async {
        let update = UserUpdate {
            role: Some(Role::Admin),
            ..Default::default()
        };
        app.engine
            .update_user(&Actor::cli(), grace.id, update, None)
            .await
            .expect("role");
    })
    .await;

    let cookie = session().await.cookie.expect("signed in");
    stream_ends_after(&app, &cookie, async {
        let update = UserUpdate {
            enabled: Some(false),
            ..Default::default()
        };
        app.engine
            .update_user(&Actor::cli(), grace.id, update, None)
            .await
            .expect("disable");
    })
    .await;
}
