//! Scoped API keys: a key limited to some of its user's domains, to some purge kinds, or to
//! reading reaches only what its limits allow, in what it submits and in what it reads; the
//! limits are checked when the key is made and survive storage.

use engine::key_scope::{KeyScope, Viewer};
use engine::store::{ApiKeyInfo, TaskFilter};
use engine::submit::{Refusal, Source, Submission, SubmitError};
use engine::target::TargetKind;
use engine::users::User;
use engine::{Actor, EngineError};

use crate::on_both_stores;
use crate::support::*;

on_both_stores! {
    #[tokio::test]
    limits_are_checked_when_the_key_is_made_and_survive_storage,
    #[tokio::test]
    a_key_limited_to_one_domain_purges_and_reads_only_that_domain,
    #[tokio::test]
    a_key_limited_to_some_kinds_is_refused_the_others,
    #[tokio::test]
    a_read_only_key_submits_nothing,
}

/// The developer `dev` with www.example.com and static.example.com.
async fn developer_with_two_domains(backend: Backend) -> (TestEngine, User) {
    let (t, user) = engine_with_developer(backend).await;
    t.engine
        .add_domain(
            &Actor::cli(),
            "static.example.com",
            &["dev".to_owned()],
            &["www.example.com-varnish".to_owned()],
        )
        .await
        .expect("second domain");
    (t, user)
}

async fn scoped_key(t: &TestEngine, user: &User, scope: KeyScope) -> ApiKeyInfo {
    let (info, secret) = t
        .engine
        .create_scoped_key(&Actor::cli(), user.id, "scoped", scope)
        .await
        .expect("key");
    let (authenticated, _) = t
        .engine
        .authenticate_key(secret.expose())
        .await
        .expect("authenticate")
        .expect("a live key");
    assert_eq!(authenticated.scope, info.scope);
    authenticated
}

fn with_key(key: &ApiKeyInfo, targets: &[(TargetKind, &str)]) -> Submission {
    Submission {
        api_key_id: Some(key.id),
        key_scope: key.scope.clone(),
        ..Submission::new(
            Source::V1,
            targets.iter().map(|(k, t)| (*k, (*t).to_owned())).collect(),
        )
    }
}

fn only_domains(hosts: &[&str]) -> KeyScope {
    KeyScope {
        domains: Some(hosts.iter().map(|h| (*h).to_owned()).collect()),
        ..KeyScope::default()
    }
}

async fn limits_are_checked_when_the_key_is_made_and_survive_storage(backend: Backend) {
    let (t, user) = developer_with_two_domains(backend).await;
    let refused = t
        .engine
        .create_scoped_key(&Actor::cli(), user.id, "x", only_domains(&["other.org"]))
        .await
        .expect_err("a domain the user does not have");
    assert!(
        matches!(&refused, EngineError::NotFound(m) if m.contains("other.org")),
        "{refused:?}"
    );
    let key = scoped_key(
        &t,
        &user,
        KeyScope {
            domains: Some(vec!["STATIC.example.com".into()]),
            kinds: Some(vec![TargetKind::Prefix, TargetKind::Url]),
            read_only: false,
        },
    )
    .await;
    assert_eq!(key.scope.domains, Some(vec!["static.example.com".into()]));
    assert_eq!(
        key.scope.kinds,
        Some(vec![TargetKind::Url, TargetKind::Prefix])
    );
    let listed = t.engine.list_keys(user.id).await.expect("list");
    assert_eq!(listed.len(), 1, "the refused key was not stored");
    assert_eq!(listed[0].scope, key.scope);
}

async fn a_key_limited_to_one_domain_purges_and_reads_only_that_domain(backend: Backend) {
    let (t, user) = developer_with_two_domains(backend).await;
    let unlimited = scoped_key(&t, &user, KeyScope::default()).await;
    let www_task = t
        .engine
        .submit(
            &user,
            with_key(&unlimited, &[(TargetKind::Url, "http://www.example.com/a")]),
        )
        .await
        .expect("submit")
        .accepted()
        .next()
        .cloned()
        .expect("accepted");

    let key = scoped_key(&t, &user, only_domains(&["static.example.com"])).await;
    let outcome = t
        .engine
        .submit(
            &user,
            with_key(
                &key,
                &[
                    (TargetKind::Url, "http://static.example.com/a"),
                    (TargetKind::Url, "http://www.example.com/b"),
                ],
            ),
        )
        .await
        .expect("submit");
    assert!(outcome.verdicts[0].result.is_ok());
    assert_eq!(outcome.verdicts[1].result, Err(Refusal::NotYourDomain));
    let static_task = outcome.accepted().next().cloned().expect("accepted");
    let tagged = Submission {
        domain: Some("www.example.com".into()),
        ..with_key(&key, &[(TargetKind::Tag, "product-1")])
    };
    let error = t.engine.submit(&user, tagged).await.expect_err("refused");
    assert!(matches!(error, SubmitError::NotYourDomain(_)), "{error:?}");

    // Reads: only the key's domain.
    let viewer = t
        .engine
        .key_viewer(&user, &key.scope)
        .await
        .expect("viewer");
    let sees = |id: &engine::ids::TaskId, viewer: &Viewer| {
        let (engine, id, viewer) = (t.engine.clone(), id.clone(), viewer.clone());
        async move {
            engine
                .task(id.as_str(), &viewer)
                .await
                .expect("read")
                .is_some()
        }
    };
    assert!(sees(&static_task, &viewer).await);
    assert!(!sees(&www_task, &viewer).await);
    let everyone = t
        .engine
        .key_viewer(&user, &unlimited.scope)
        .await
        .expect("viewer");
    assert!(sees(&www_task, &everyone).await);
    let listed = t
        .engine
        .list_tasks(&TaskFilter {
            user_id: viewer.user,
            domain_ids: viewer.domains.clone(),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    let ids: Vec<_> = listed.iter().map(|task| task.id.clone()).collect();
    assert_eq!(ids, vec![static_task.clone()]);
    let www_batch = t
        .engine
        .task(www_task.as_str(), &everyone)
        .await
        .expect("read")
        .expect("visible to an unlimited key")
        .batch_id;
    assert!(t
        .engine
        .batch_tasks(www_batch.as_str(), &viewer)
        .await
        .expect("batch")
        .is_none());
    let retried = t
        .engine
        .retry_task(&Actor::cli(), www_task.as_str(), &viewer)
        .await;
    assert!(
        matches!(retried, Err(EngineError::NotFound(_))),
        "{retried:?}"
    );
}

async fn a_key_limited_to_some_kinds_is_refused_the_others(backend: Backend) {
    let (t, user) = developer_with_two_domains(backend).await;
    let key = scoped_key(
        &t,
        &user,
        KeyScope {
            kinds: Some(vec![TargetKind::Url]),
            ..KeyScope::default()
        },
    )
    .await;
    let outcome = t
        .engine
        .submit(
            &user,
            with_key(
                &key,
                &[
                    (TargetKind::Url, "http://www.example.com/a"),
                    (TargetKind::Prefix, "http://www.example.com/static/"),
                ],
            ),
        )
        .await
        .expect("submit");
    assert!(outcome.verdicts[0].result.is_ok());
    assert_eq!(outcome.verdicts[1].result, Err(Refusal::KindNotAllowed));
    assert_eq!(
        outcome.quota.used.prefix, 0,
        "a refused target counts nothing"
    );
    let only_prefixes = with_key(&key, &[(TargetKind::Prefix, "http://www.example.com/p/")]);
    let error = t
        .engine
        .submit(&user, only_prefixes)
        .await
        .expect_err("refused");
    assert!(matches!(error, SubmitError::KeyNotAllowed(_)), "{error:?}");
    assert_eq!(t.all_tasks().await.len(), 1);
}

async fn a_read_only_key_submits_nothing(backend: Backend) {
    let (t, user) = developer_with_two_domains(backend).await;
    let key = scoped_key(
        &t,
        &user,
        KeyScope {
            read_only: true,
            ..KeyScope::default()
        },
    )
    .await;
    for kind in [TargetKind::Url, TargetKind::Prefetch] {
        let error = t
            .engine
            .submit(&user, with_key(&key, &[(kind, "http://www.example.com/a")]))
            .await
            .expect_err("read-only");
        assert!(matches!(error, SubmitError::KeyNotAllowed(_)), "{error:?}");
    }
    assert!(t.all_tasks().await.is_empty());
    let quota = t.engine.quota_status(&user).await.expect("quota");
    assert_eq!(quota.used.url, 0);
}
