//! An admin cannot lock themself out through the admin API: disabling or demoting themself, or
//! revoking the key the request is made with, is refused with 409 `self_lockout` and changes
//! nothing; the same on another admin works.

use engine::users::Role;
use engine::Actor;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn an_admin_cannot_disable_demote_or_unkey_themself() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let actor = Actor::cli();
    let mut keys = Vec::new();
    for name in ["root", "other"] {
        let admin = app
            .engine
            .create_user(&actor, name, Role::Admin, None)
            .await
            .expect("admin");
        let (info, key) = app
            .engine
            .create_key(&actor, admin.id, "admin")
            .await
            .expect("key");
        keys.push((info.public_id, key.expose().to_owned()));
    }
    let (own_id, key) = keys[0].clone();
    for change in [json!({ "enabled": false }), json!({ "role": "developer" })] {
        let (status, error) = call(
            &app,
            "PATCH",
            "/api/v1/admin/users/root",
            &key,
            Some(change.clone()),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (409, Some("self_lockout")),
            "{change}: {error}"
        );
    }
    let (status, error) = call(
        &app,
        "DELETE",
        &format!("/api/v1/admin/users/root/keys/{own_id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("self_lockout")),
        "{error}"
    );
    // Nothing changed: the key still works and root is still an enabled admin.
    let (status, users) = call(&app, "GET", "/api/v1/admin/users", &key, None).await;
    assert_eq!(status, 200);
    let root = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "root")
        .expect("root")
        .clone();
    assert_eq!(
        (root["role"].as_str(), root["enabled"].as_bool()),
        (Some("admin"), Some(true)),
        "{root}"
    );
    // On another admin, the same requests work.
    let (other_id, _) = keys[1].clone();
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/admin/users/other/keys/{other_id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        "PATCH",
        "/api/v1/admin/users/other",
        &key,
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, 200);
}
