//! Seed 004, the regex purge API: every code of the seed's table, in the spec's check order,
//! and the seed's own curl + openssl script against a live server.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Utc;
use engine::Actor;
use serde_json::{json, Value};

use crate::support::*;

mod limits;

const PATH: &str = "/api/content/regular-url/purge";

struct Caller<'a> {
    app: &'a TestApp,
    user: String,
    key: String,
}

impl Caller<'_> {
    async fn post_raw(&self, body: &str, date: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let auth = STANDARD.encode(format!(
            "{}:{}",
            self.user,
            seed004_password(&self.key, date)
        ));
        let mut request = self
            .app
            .http
            .post(self.app.url(PATH))
            .header("Authorization", format!("Basic {auth}"))
            .header("Date", date)
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("answer");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    async fn post(&self, regexes: &[&str]) -> (u16, Value) {
        self.post_with(regexes, &[]).await
    }

    async fn post_with(&self, regexes: &[&str], headers: &[(&str, &str)]) -> (u16, Value) {
        let body = json!({ "urlRegulars": regexes }).to_string();
        let (status, text) = self
            .post_raw(&body, &seed004_date(Utc::now()), headers)
            .await;
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON answer: {text}")),
        )
    }
}

async fn setup(app: &TestApp) -> Caller<'_> {
    let edges = fleet(1, 0, 0).await;
    let (user, key) = app.developer("alice", "www.abc.com", &addrs(&edges)).await;
    std::mem::forget(edges);
    Caller {
        app,
        user: user.username,
        key,
    }
}

fn expect(answer: &(u16, Value), status: u16, code: &str, message: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["Code"], code, "{}", answer.1);
    assert_eq!(answer.1["Message"], message, "{}", answer.1);
}

fn item_id(answer: &(u16, Value)) -> String {
    let id = answer.1["itemId"]
        .as_str()
        .unwrap_or_else(|| panic!("itemId in {}", answer.1))
        .to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    id
}

#[tokio::test]
async fn success_answers_exactly_code_message_and_item_id() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let body = json!({ "urlRegulars": ["http://www.abc.com/test/.*\\.txt", "http://www.abc.com/test/.*\\.png"] }).to_string();
    let (status, text) = caller.post_raw(&body, &seed004_date(Utc::now()), &[]).await;
    assert_eq!(status, 200);
    let id: Value = serde_json::from_str(&text).expect("JSON");
    let id = id["itemId"].as_str().expect("itemId");
    assert_eq!(
        text,
        format!(r#"{{"Code":"Success","Message":"handle success","itemId":"{id}"}}"#)
    );

    // The batch's status, with the same auth.
    let date = seed004_date(Utc::now());
    let auth = STANDARD.encode(format!(
        "{}:{}",
        caller.user,
        seed004_password(&caller.key, &date)
    ));
    let response = app
        .http
        .get(app.url(&format!("{PATH}/{id}")))
        .header("Authorization", format!("Basic {auth}"))
        .header("Date", &date)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let status: Value = response.json().await.expect("JSON");
    assert_eq!(status["itemId"], id);
    let tasks = status["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["uri"], "http://www.abc.com/test/.*\\.txt");
    assert_eq!(tasks[0]["status"], "created");
    assert_eq!(tasks[0]["failed_status"], json!({}));
}

#[tokio::test]
async fn authentication_failures_come_first() {
    let app = spawn_app().await;
    let caller = setup(&app).await;
    let stranger = Caller {
        app: &app,
        user: "nobody".into(),
        key: caller.key.clone(),
    };
    expect(
        &stranger.post(&["http://www.abc.com/.*"]).await,
        400,
        "UserNameInvalid",
        "username is invalid",
    );
    let wrong_key = Caller {
        app: &app,
        user: caller.user.clone(),
        key: "not-the-key".into(),
    };
    expect(
        &wrong_key.post(&["http://www.abc.com/.*"]).await,
        401,
        "SignatureInvalid",
        "signature is invalid",
    );
    // A correct signature of a Date 20 minutes old: replay outside the window.
    let old = seed004_date(Utc::now() - chrono::Duration::minutes(20));
    let (status, text) = caller
        .post_raw(r#"{"urlRegulars":["http://www.abc.com/.*"]}"#, &old, &[])
        .await;
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    expect(
        &(status, answer),
        401,
        "DateInvalid",
        "date is missing, malformed or too far from the server clock",
    );
    // No Authorization at all.
    let response = app
        .http
        .post(app.url(PATH))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["Code"], "UserNameInvalid");

    let actor = Actor::cli();
    let user = app
        .engine
        .user_by_name("alice")
        .await
        .expect("read")
        .expect("alice");
    let update = engine::store::UserUpdate {
        can_purge: Some(false),
        ..Default::default()
    };
    app.engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    expect(
        &caller.post(&["http://www.abc.com/.*"]).await,
        400,
        "UserNotAllowedPush",
        "user not allowed push",
    );
    let update = engine::store::UserUpdate {
        enabled: Some(false),
        can_purge: Some(true),
        ..Default::default()
    };
    app.engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    expect(
        &caller.post(&["http://www.abc.com/.*"]).await,
        400,
        "UserNameInvalid",
        "username is invalid",
    );
}

#[tokio::test]
async fn bodies_are_strict_json_and_sized() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let now = seed004_date(Utc::now());
    // A raw `\.` is not JSON: the seed's rule 1 asks clients to escape the backslash.
    let (status, text) = caller
        .post_raw(
            r#"{"urlRegulars":["http://www.abc.com/test/.*\.txt"]}"#,
            &now,
            &[],
        )
        .await;
    expect(
        &(status, serde_json::from_str(&text).expect("JSON")),
        400,
        "ParseParameterError",
        "parse parameter json error",
    );
    for wrong in [
        r#"{"urlRegulars":"x"}"#,
        r#"{"urls":[]}"#,
        r#"[1]"#,
        r#"{"urlRegulars":[1]}"#,
    ] {
        let (status, text) = caller.post_raw(wrong, &now, &[]).await;
        expect(
            &(status, serde_json::from_str(&text).expect("JSON")),
            400,
            "ParseParameterError",
            "parse parameter json error",
        );
    }
    expect(
        &caller.post(&[]).await,
        400,
        "UrlRegularEmpty",
        "url regular must not be empty",
    );
    expect(
        &caller.post(&[""]).await,
        400,
        "UrlRegularEmpty",
        "url regular must not be empty",
    );
    let many: Vec<String> = (0..501)
        .map(|i| format!("http://www.abc.com/{i}/.*"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    expect(
        &caller.post(&refs).await,
        400,
        "OnceSubmitLessThan500",
        "you can't submit more than 500 url regulars at a time",
    );
    // 500 distinct after merging duplicates is fine.
    let mut dup = refs[..500].to_vec();
    dup.push(refs[0]);
    assert_eq!(caller.post(&dup).await.0, 200);

    let huge = format!(r#"{{"urlRegulars":["{}"]}}"#, "a".repeat(2 << 20));
    let (status, text) = caller.post_raw(&huge, &now, &[]).await;
    expect(
        &(status, serde_json::from_str(&text).expect("JSON")),
        413,
        "BodyTooLarge",
        "request body is larger than 1048576 bytes",
    );
    let response = app
        .http
        .post(app.url(PATH))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 415);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["Code"], "ContentTypeInvalid");
}

#[tokio::test]
async fn partial_codes_refuse_only_their_regexes_and_keep_the_item_id() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let answer = caller
        .post(&["http://www.abc.com/(bad", "http://www.abc.com/ok/.*"])
        .await;
    expect(
        &answer,
        400,
        "InvalidUrlRegular",
        "invalid url regular [http://www.abc.com/(bad].",
    );
    item_id(&answer);
    let answer = caller
        .post(&["http://www.other.com/.*", "http://www.abc.com/ok2/.*"])
        .await;
    expect(
        &answer,
        400,
        "ErrorChannel",
        "error channel [http://www.other.com/.*].",
    );
    item_id(&answer);
    let answer = caller
        .post(&["http://www.abc.com/ok/.*", "http://www.abc.com/ok3/.*"])
        .await;
    expect(
        &answer,
        400,
        "RepeatUrlRegular",
        "running url regular[http://www.abc.com/ok/.*], please try again after one minute.",
    );
    item_id(&answer);
    // Several codes: the first in the spec's order, and the message names every refused regex.
    let answer = caller
        .post(&[
            "http://www.other.com/b/.*",
            "http://www.abc.com/(x",
            "http://www.abc.com/ok4/.*",
        ])
        .await;
    expect(
        &answer,
        400,
        "InvalidUrlRegular",
        "invalid url regular [http://www.abc.com/(x]. error channel [http://www.other.com/b/.*].",
    );
    // Nothing accepted: no itemId.
    let answer = caller.post(&["http://www.other.com/c/.*"]).await;
    assert!(answer.1.get("itemId").is_none(), "{}", answer.1);
}

#[tokio::test]
async fn the_seeds_own_curl_and_openssl_script_works() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed004_purge.sh"
    ))
    .expect("fixture");
    let script = script
        .replace("__USER__", &caller.user)
        .replace("__KEY__", &caller.key)
        .replace("__URL__", &format!("http://{}", app.addr));
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .await
        .expect("bash, curl and openssl run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    assert!(
        stdout.contains(r#"{"Code":"Success","Message":"handle success","itemId":""#),
        "{stdout}"
    );
    let user = app
        .engine
        .user_by_name("alice")
        .await
        .expect("read")
        .expect("alice");
    let tasks = app
        .engine
        .list_tasks(&engine::store::TaskFilter {
            user_id: Some(user.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    let mut targets: Vec<_> = tasks.iter().map(|t| t.target.as_str()).collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            "http://www.abc.com/test/.*\\.png",
            "http://www.abc.com/test/.*\\.txt"
        ]
    );
}
