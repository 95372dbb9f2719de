//! The account cache: a key and its user's domains are read from the database once, and a change
//! to the user, their keys or their domains is seen at once — on this instance, and on another
//! instance sharing a PostgreSQL database.
//!
//! To tell a cached answer from a fresh one, the tests revoke the key straight in the database,
//! behind the engines' backs: a cached key still authenticates, a key read again does not.

use std::time::Duration;

use engine::store::UserUpdate;
use engine::submit::{Refusal, Source, Submission};
use engine::target::TargetKind;
use engine::users::{Role, User};
use engine::{Actor, AuthFailure, Engine};

use crate::on_both_stores;
use crate::support::*;

on_both_stores! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_change_to_the_user_is_seen_at_once_by_this_instance,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_user_taken_off_a_domain_cannot_purge_it_from_then_on,
}

/// A developer with one key; the key.
async fn developer_with_key(engine: &Engine) -> (User, String) {
    let actor = Actor::cli();
    let user = engine
        .create_user(&actor, "dev", Role::Developer, None)
        .await
        .expect("user");
    let (_, secret) = engine.create_key(&actor, user.id, "ci").await.expect("key");
    (user, secret.expose().to_owned())
}

async fn authenticates(engine: &Engine, key: &str) -> Result<(), AuthFailure> {
    engine
        .authenticate_key(key)
        .await
        .expect("authenticate")
        .map(|_| ())
}

async fn set_revoked(url: &str, revoked: bool) {
    let at = if revoked { "1" } else { "NULL" };
    raw_sql(url, &format!("UPDATE api_keys SET revoked_at = {at}")).await;
}

/// Waits until `engine` answers `key` from its cache: it still authenticates once the key is
/// revoked in the database. Leaves the key revoked there.
async fn until_cached(engine: &Engine, url: &str, key: &str) {
    wait_for(Duration::from_secs(10), || async {
        set_revoked(url, false).await;
        authenticates(engine, key).await.expect("a live key");
        set_revoked(url, true).await;
        authenticates(engine, key).await.ok()
    })
    .await;
}

/// An update that changes nothing but still counts as a change to the user.
async fn touch_user(engine: &Engine, user: &User) {
    let update = UserUpdate {
        enabled: Some(true),
        ..Default::default()
    };
    engine
        .update_user(&Actor::cli(), user.id, update, None)
        .await
        .expect("updated");
}

async fn a_change_to_the_user_is_seen_at_once_by_this_instance(backend: Backend) {
    let t = test_engine(backend).await;
    let (user, key) = developer_with_key(&t.engine).await;
    let relay = t.engine.start_relay();
    until_cached(&t.engine, &t.database_url(), &key).await;
    touch_user(&t.engine, &user).await;
    assert_eq!(
        authenticates(&t.engine, &key).await,
        Err(AuthFailure::UnknownKey),
        "the user changed: the key is read again, and it is revoked"
    );
    // A revocation through the engine is seen at once as well.
    set_revoked(&t.database_url(), false).await;
    until_cached(&t.engine, &t.database_url(), &key).await;
    set_revoked(&t.database_url(), false).await;
    let key_id = t.engine.list_keys(user.id).await.expect("keys")[0]
        .public_id
        .clone();
    t.engine
        .revoke_key(&Actor::cli(), user.id, &key_id)
        .await
        .expect("revoked");
    assert_eq!(
        authenticates(&t.engine, &key).await,
        Err(AuthFailure::UnknownKey)
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_on_one_instance_is_seen_by_the_others_on_postgres() {
    let t = test_engine(Backend::Postgres).await;
    let (user, key) = developer_with_key(&t.engine).await;
    let mut config = test_config(t.dir.path());
    config.instance_name = Some("second".into());
    let second = Engine::open(&t.database_url(), config)
        .await
        .expect("second instance opens");
    let relay = second.start_relay();
    until_cached(&second, &t.database_url(), &key).await;
    // The first instance changes the user; only its notification tells the second.
    touch_user(&t.engine, &user).await;
    let refused = wait_for(Duration::from_secs(5), || async {
        authenticates(&second, &key).await.err()
    })
    .await;
    assert_eq!(refused, AuthFailure::UnknownKey);
    relay.shutdown().await;
}

async fn a_user_taken_off_a_domain_cannot_purge_it_from_then_on(backend: Backend) {
    let (t, user) = engine_with_developer(backend).await;
    let (_, secret) = t
        .engine
        .create_key(&Actor::cli(), user.id, "ci")
        .await
        .expect("key");
    let relay = t.engine.start_relay();
    // Once the cache serves (a key answered from it), the domains are cached by a submission.
    until_cached(&t.engine, &t.database_url(), secret.expose()).await;
    let url = || {
        Submission::new(
            Source::V1,
            vec![(TargetKind::Url, "http://www.example.com/a.css".into())],
        )
    };
    let first = t.engine.submit(&user, url()).await.expect("submitted");
    assert!(first.verdicts[0].result.is_ok());
    t.engine
        .remove_from_domain(&Actor::cli(), "www.example.com", &["dev".into()], &[])
        .await
        .expect("taken off");
    let after = t.engine.submit(&user, url()).await.expect("submitted");
    assert_eq!(after.verdicts[0].result, Err(Refusal::NotYourDomain));
    relay.shutdown().await;
}
