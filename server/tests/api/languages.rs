//! The dashboard's languages: chosen from the cookie, else `Accept-Language`, else English;
//! saved per user by the switch and handed back at sign-in; the APIs untouched by them.

use app::api::auth::{SetLanguage, SignIn};
use engine::users::Role;
use engine::Actor;
use server_fn::ServerFn;

use crate::support::*;

/// The sign-in page's HTML with these request headers.
async fn login_page(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut request = app.http.get(app.url("/login"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("body")
}

/// Every `Set-Cookie` of a response, `name=value` only.
fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> Vec<String> {
    let response = app
        .http
        .post(app.url(SignIn::PATH))
        .header("Accept", "application/json")
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    cookies(&response)
}

#[tokio::test]
async fn the_page_speaks_the_cookie_s_language_else_the_browser_s_else_english() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let english = login_page(&app, &[]).await;
    assert!(english.contains(r#"<html lang="en""#), "{english}");
    assert!(english.contains("Sign in"));

    let chinese = login_page(&app, &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")]).await;
    assert!(chinese.contains(r#"<html lang="zh-CN""#), "{chinese}");
    assert!(chinese.contains("登录") && chinese.contains("用户名"));
    assert!(!chinese.contains(">Sign in<"));

    let chosen = login_page(
        &app,
        &[("Accept-Language", "zh-CN"), ("Cookie", "purger_lang=en")],
    )
    .await;
    assert!(chosen.contains(r#"<html lang="en""#));
    let unknown = login_page(&app, &[("Accept-Language", "fr-FR, de;q=0.5")]).await;
    assert!(unknown.contains(r#"<html lang="en""#));
}

#[tokio::test]
async fn the_switch_saves_the_choice_and_sign_in_brings_it_back() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let user = app
        .engine
        .create_user(&Actor::cli(), "li", Role::Developer, Some("li-password-1"))
        .await
        .expect("user");
    // Before sign-in only the cookie keeps it.
    let response = app
        .http
        .post(app.url(SetLanguage::PATH))
        .form(&[("tag", "zh-CN")])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(cookies(&response), ["purger_lang=zh-CN"]);
    let first = sign_in(&app, "li", "li-password-1").await;
    assert_eq!(first.len(), 1, "no saved language yet: {first:?}");

    let session = first[0].clone();
    let response = app
        .http
        .post(app.url(SetLanguage::PATH))
        .header("Origin", format!("http://{}", app.addr))
        .header("Cookie", &session)
        .form(&[("tag", "zh-cn")])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let saved = app
        .engine
        .user_by_id(user.id)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(saved.locale.as_deref(), Some("zh-CN"));

    // Another browser (no language cookie) gets it at sign-in.
    let again = sign_in(&app, "li", "li-password-1").await;
    assert!(again.contains(&"purger_lang=zh-CN".to_owned()), "{again:?}");

    let refused = app
        .http
        .post(app.url(SetLanguage::PATH))
        .header("Origin", format!("http://{}", app.addr))
        .header("Cookie", &session)
        .form(&[("tag", "klingon")])
        .send()
        .await
        .expect("answer");
    assert!(refused.status().is_client_error() || refused.status().is_server_error());
    let kept = app
        .engine
        .user_by_id(user.id)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(kept.locale.as_deref(), Some("zh-CN"));
}

#[tokio::test]
async fn a_language_saved_in_one_browser_reaches_the_others_at_their_next_page() {
    let app = spawn_app_with(|c| c.workers = false).await;
    app.engine
        .create_user(
            &Actor::cli(),
            "wang",
            Role::Developer,
            Some("wang-password-1"),
        )
        .await
        .expect("user");
    // Two browsers signed in in English; the first switches to Chinese.
    let first = sign_in(&app, "wang", "wang-password-1").await[0].clone();
    let second = sign_in(&app, "wang", "wang-password-1").await[0].clone();
    let response = app
        .http
        .post(app.url(SetLanguage::PATH))
        .header("Origin", format!("http://{}", app.addr))
        .header("Cookie", &first)
        .form(&[("tag", "zh-CN")])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);

    let page = |cookie: String| {
        app.http
            .get(app.url("/"))
            .header("Accept", "text/html")
            .header("Cookie", cookie)
            .send()
    };
    let stale = page(format!("{second}; purger_lang=en"))
        .await
        .expect("answer");
    assert_eq!(stale.status().as_u16(), 200);
    assert_eq!(cookies(&stale), ["purger_lang=zh-CN"]);
    let html = stale.text().await.expect("body");
    assert!(html.contains(r#"<html lang="zh-CN""#), "{html}");
    assert!(html.contains("概览"), "the page speaks Chinese");

    let current = page(format!("{second}; purger_lang=zh-CN"))
        .await
        .expect("answer");
    assert!(cookies(&current).is_empty(), "nothing to change");
    // Signed out, the cookie alone decides.
    let anonymous = page("purger_lang=en".into()).await.expect("answer");
    assert!(cookies(&anonymous).is_empty());
}

#[tokio::test]
async fn the_apis_answer_the_same_in_any_language() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let ask = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = app
            .http
            .get(app.url("/api/purge?uri=http://www.example.com/a.gif&api_key=nope-nope-nope"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move {
            let response = request.send().await.expect("answer");
            (
                response.status().as_u16(),
                response.text().await.expect("body"),
            )
        }
    };
    let plain = ask(&[]).await;
    let chinese = ask(&[
        ("Accept-Language", "zh-CN"),
        ("Cookie", "purger_lang=zh-CN"),
    ])
    .await;
    assert_eq!(plain, chinese);
}

#[tokio::test]
async fn the_favicon_is_served() {
    let app = spawn_app_with(|c| c.workers = false).await;
    for path in ["/favicon.ico", "/favicon.svg"] {
        let response = app.http.get(app.url(path)).send().await.expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("image/svg+xml")
        );
        assert!(response.text().await.expect("body").starts_with("<svg"));
    }
}
