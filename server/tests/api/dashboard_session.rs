//! Dashboard sessions: sign-in throttling, the cookie, cross-site writes refused, and the
//! session-only routes.

use app::api::auth::{SignIn, SignOut};
use engine::users::Role;
use engine::Actor;
use server_fn::ServerFn;

use crate::postgres;
use crate::support::*;

async fn sign_in(app: &TestApp, username: &str, password: &str) -> (u16, Option<String>) {
    let response = app
        .http
        .post(app.url(SignIn::PATH))
        .header("Accept", "application/json")
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answer");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (response.status().as_u16(), cookie)
}

#[tokio::test]
async fn a_session_cookie_is_http_only_and_cross_site_writes_are_refused() {
    let app = spawn_app_with(|c| c.workers = false).await;
    app.engine
        .create_user(
            &Actor::cli(),
            "alice",
            Role::Developer,
            Some("alice-password"),
        )
        .await
        .expect("user");
    let response = app
        .http
        .post(app.url(SignIn::PATH))
        .form(&[("username", "alice"), ("password", "alice-password")])
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
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("cookie").to_owned();

    let origin = format!("http://{}", app.addr);
    let forged = app
        .http
        .post(app.url(SignOut::PATH))
        .header("Cookie", &cookie)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a write from another site is refused"
    );
    let (status, _) = (
        app.http
            .get(app.url("/events"))
            .send()
            .await
            .expect("answer")
            .status()
            .as_u16(),
        (),
    );
    assert_eq!(status, 401, "events need a session");
    assert_eq!(app.get("/export/tasks.csv").await.0, 401);
    let csv = app
        .http
        .get(app.url("/export/tasks.csv"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(csv.status().as_u16(), 200);

    let own = app
        .http
        .post(app.url(SignOut::PATH))
        .header("Cookie", &cookie)
        .header("Origin", &origin)
        .send()
        .await
        .expect("answer");
    assert!(
        own.status().is_success() || own.status().is_redirection(),
        "{}",
        own.status()
    );
    let after = app
        .http
        .get(app.url("/export/tasks.csv"))
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(after.status().as_u16(), 401, "the session ended");
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_name_for_a_while() {
    let app = spawn_app_with(|c| c.workers = false).await;
    app.engine
        .create_user(&Actor::cli(), "bob", Role::Developer, Some("bob-password"))
        .await
        .expect("user");
    let (status, cookie) = sign_in(&app, "bob", "bob-password").await;
    assert!(
        status == 200 && cookie.is_some(),
        "the right password works before the failures"
    );
    for _ in 0..5 {
        let (status, cookie) = sign_in(&app, "bob", "wrong").await;
        assert!(cookie.is_none() && status >= 400, "{status}");
    }
    let (_, cookie) = sign_in(&app, "bob", "bob-password").await;
    assert!(cookie.is_none(), "locked even with the right password");
    let (_, cookie) = sign_in(&app, "nobody", "whatever").await;
    assert!(cookie.is_none());
}

#[tokio::test]
async fn a_session_opened_on_one_instance_works_on_another_sharing_postgres() {
    let database = postgres::TestDatabase::create().await;
    let shared = |c: &mut server::config::Config| {
        c.workers = false;
        c.database_url = Some(database.url.clone());
        c.engine.master_key = Some("c2Vzc2lvbnMtc2hhcmVkLWFjcm9zcy1pbnN0YW5jZXM=".into());
    };
    let a = spawn_app_with(shared).await;
    let b = spawn_app_with(shared).await;
    a.engine
        .create_user(
            &Actor::cli(),
            "carol",
            Role::Developer,
            Some("carol-password"),
        )
        .await
        .expect("user");
    let (status, cookie) = sign_in(&a, "carol", "carol-password").await;
    let cookie = cookie.unwrap_or_else(|| panic!("signed in on A: {status}"));
    let export = |app: &TestApp| {
        app.http
            .get(app.url("/export/tasks.csv"))
            .header("Cookie", &cookie)
            .send()
    };
    assert_eq!(
        export(&b).await.expect("answer").status().as_u16(),
        200,
        "B knows the session"
    );
    let out = a
        .http
        .post(a.url(SignOut::PATH))
        .header("Cookie", &cookie)
        .header("Origin", format!("http://{}", a.addr))
        .send()
        .await
        .expect("answer");
    assert!(out.status().is_success() || out.status().is_redirection());
    assert_eq!(
        export(&b).await.expect("answer").status().as_u16(),
        401,
        "signed out everywhere"
    );
}
