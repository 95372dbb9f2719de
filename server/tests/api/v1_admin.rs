//! The v1 admin API, black-box through `spawn_app()`: users, keys, quotas, domains and nodes,
//! and the audit trail of every change.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn admins_manage_users_keys_quotas_domains_and_nodes_and_it_is_audited() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let key = admin_key(&app).await;
    let (status, user) = call(
        &app,
        "POST",
        "/api/v1/admin/users",
        &key,
        Some(json!({ "username": "carol", "role": "developer", "password": "long enough" })),
    )
    .await;
    assert_eq!(
        (status, user["can_purge"].as_bool()),
        (201, Some(true)),
        "{user}"
    );
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/admin/users",
        &key,
        Some(json!({ "username": "carol", "role": "developer" })),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/admin/users",
        &key,
        Some(json!({ "username": "dave", "role": "developer", "password": "short" })),
    )
    .await;
    assert_eq!(status, 400);
    let (_, user) = call(
        &app,
        "PUT",
        "/api/v1/admin/users/carol/quota",
        &key,
        Some(json!({ "regex": 7 })),
    )
    .await;
    assert_eq!(user["quota"]["regex"], 7);
    let (_, user) = call(
        &app,
        "PATCH",
        "/api/v1/admin/users/carol",
        &key,
        Some(json!({ "can_purge": false })),
    )
    .await;
    assert_eq!(user["can_purge"], false);

    let (status, created) = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/keys",
        &key,
        Some(json!({ "label": "ci" })),
    )
    .await;
    assert_eq!(status, 201);
    let secret = created["key"].as_str().expect("shown once").to_owned();
    let (_, keys) = call(&app, "GET", "/api/v1/admin/users/carol/keys", &key, None).await;
    assert_eq!(keys[0]["label"], "ci");
    assert!(
        !keys.to_string().contains(&secret),
        "listed keys never carry the secret"
    );
    let (status, imported) = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/keys",
        &key,
        Some(json!({ "import": "BsZzuSHlwCl8jCupocGDHOpg8kXFGk73NR1GLU9OnKw" })),
    )
    .await;
    assert_eq!((status, imported["key"].clone()), (201, Value::Null));
    let id = created["id"].as_str().expect("id");
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/api/v1/admin/users/carol/keys/{id}"),
            &key,
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/quota", &secret, None).await.0,
        401,
        "a revoked key is refused"
    );

    let (status, _) = call(
        &app,
        "PUT",
        "/api/v1/admin/groups/eu",
        &key,
        Some(json!({ "protocol": "nginx", "prefix_wildcard": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, import) = call(&app, "POST", "/api/v1/admin/groups/eu/nodes", &key, Some(json!({ "csv": "127.0.0.1,8080\nnot-an-ip,1", "nodes": [{ "ip": "127.0.0.2", "port": 8081 }] }))).await;
    assert_eq!(
        (
            import["added"].as_u64(),
            import["refused"].as_array().map(Vec::len)
        ),
        (Some(2), Some(1)),
        "{import}"
    );
    let (_, groups) = call(&app, "GET", "/api/v1/admin/groups", &key, None).await;
    let node = groups[0]["nodes"][0]["id"].as_i64().expect("node id");
    let (_, changed) = call(
        &app,
        "PATCH",
        &format!("/api/v1/admin/nodes/{node}"),
        &key,
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(changed["enabled"], false);
    let (_, domain) = call(
        &app,
        "POST",
        "/api/v1/admin/domains",
        &key,
        Some(json!({ "host": "*.example.com", "users": ["carol"], "groups": ["eu"] })),
    )
    .await;
    assert_eq!(
        domain,
        json!({ "host": "*.example.com", "users": ["carol"], "groups": ["eu"] })
    );
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/admin/domains",
        &key,
        Some(json!({ "host": "bad host" })),
    )
    .await;
    assert_eq!(status, 400);

    let (_, audit) = call(
        &app,
        "GET",
        "/api/v1/admin/audit?actor=root&limit=100",
        &key,
        None,
    )
    .await;
    let actions: BTreeSet<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    for action in [
        "user.create",
        "user.update",
        "key.create",
        "key.import",
        "key.revoke",
        "group.update",
        "nodes.import",
        "node.disable",
        "domain.update",
    ] {
        assert!(
            actions.contains(action),
            "{action} missing from {actions:?}"
        );
    }
}
