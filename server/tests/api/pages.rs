//! Dashboard pages rendered by the server: the signed-in user known before the page renders
//! (header, guards), signed-out visitors sent to sign in, and pages that always finish
//! streaming, however many render at once.

use std::time::Duration;

use app::api::auth::SignIn;
use engine::users::Role;
use engine::Actor;
use server_fn::ServerFn;

use crate::support::*;

/// A client that reports redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Signs `username` in and returns the session cookie (`name=value`).
async fn session(app: &TestApp, username: &str, role: Role) -> String {
    let password = format!("{username}-password-1");
    app.engine
        .create_user(&Actor::cli(), username, role, Some(&password))
        .await
        .expect("user");
    let response = app
        .http
        .post(app.url(SignIn::PATH))
        .header("Accept", "application/json")
        .form(&[("username", username), ("password", password.as_str())])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned()
}

/// The status and whole body of a page, or a panic when it does not finish in time.
async fn page(http: &reqwest::Client, url: String, cookie: &str) -> (u16, String) {
    let request = http
        .get(&url)
        .header("Accept", "text/html")
        .header("Cookie", cookie)
        .send();
    let answer = async {
        let response = request.await.expect("answer");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    tokio::time::timeout(Duration::from_secs(60), answer)
        .await
        .unwrap_or_else(|_| panic!("{url} did not finish streaming"))
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_sign_in_before_anything_renders() {
    let app = spawn_app_with(|c| c.workers = false).await;
    for path in ["/", "/keys", "/admin/edges", "/tasks/123"] {
        let response = no_redirects()
            .get(app.url(path))
            .header("Accept", "text/html")
            .send()
            .await
            .expect("answer");
        assert!(
            response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/login"),
            "{path}"
        );
    }
    // An unknown or ended session is nobody.
    let (status, html) = page(&app.http, app.url("/login"), "purger_session=forged").await;
    assert_eq!(status, 200);
    assert!(!html.contains("data-user"), "{html}");
    assert!(
        html.contains(r#"type="password""#),
        "the sign-in form: {html}"
    );
}

#[tokio::test]
async fn a_signed_in_page_renders_its_user_and_content_in_the_first_answer() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let alice = session(&app, "alice", Role::Developer).await;
    let (status, html) = page(&app.http, app.url("/keys"), &alice).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            r#"data-user="{&quot;username&quot;:&quot;alice&quot;,&quot;is_admin&quot;:false}""#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"data-testid="signed-in-as">alice<"#),
        "the header names her"
    );
    assert!(
        html.contains(r#"data-testid="key-table""#),
        "the keys arrive in the stream"
    );
    assert!(
        html.contains(r#"username="alice""#),
        "the examples carry her name: {html}"
    );
    assert!(
        !html.contains("/admin/users"),
        "no admin links for a developer"
    );
    // An admin page shows a developer why it is closed, with a 200 (she is signed in).
    let (status, html) = page(&app.http, app.url("/admin/edges"), &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("Admins only"), "{html}");
    assert!(!html.contains(r#"data-testid="fleet-counts""#));

    let root = session(&app, "root", Role::Admin).await;
    let (status, html) = page(&app.http, app.url("/admin/edges"), &root).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"href="/admin/users""#),
        "admin links for an admin"
    );
    assert!(html.contains(r#"data-testid="fleet-counts""#), "{html}");
}

/// Pages rendered many at a time: every one finishes streaming, with the data its resources
/// load. (When the user was one resource read under two suspense boundaries, the keys and
/// edges pages came without their data in every render, and in the browser such pages were
/// seen to stop midway under load, the race of leptos issue #4851; this fails by its timeout if
/// a render stops, and by its markers if data is missing.)
#[tokio::test]
async fn many_pages_rendered_at_once_all_finish_with_their_content() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let root = session(&app, "root", Role::Admin).await;
    let pages = [
        ("/keys", r#"data-testid="key-table""#),
        ("/admin/edges", r#"data-testid="fleet-counts""#),
        ("/tasks", r#"data-testid="export-csv""#),
        ("/admin/users", r#"data-testid="signed-in-as">root<"#),
    ];
    for round in 0..5 {
        let renders = (0..64).map(|i| {
            let (path, marker) = pages[i % pages.len()];
            let (http, url, cookie) = (app.http.clone(), app.url(path), root.clone());
            tokio::spawn(async move {
                let (status, html) = page(&http, url, &cookie).await;
                (path, marker, status, html)
            })
        });
        for render in futures::future::join_all(renders).await {
            let (path, marker, status, html) = render.expect("render task");
            assert_eq!(status, 200, "round {round}: {path}");
            assert!(
                html.contains("</html>"),
                "round {round}: {path} ended before its document did: {html}"
            );
            assert!(
                html.contains(marker),
                "round {round}: {path} lacks {marker}: {html}"
            );
        }
    }
}
