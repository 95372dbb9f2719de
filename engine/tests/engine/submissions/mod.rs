//! Submissions: validation, domains, deduplication, repeats, idempotency and exact quotas.

mod kinds;

use std::sync::Arc;

use engine::submit::{Refusal, Source, Submission, SubmitError};
use engine::target::TargetKind;
use engine::users::{QuotaOverrides, User};
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

fn submission(targets: Vec<(TargetKind, String)>) -> Submission {
    Submission {
        targets,
        callback_url: None,
        idempotency_key: None,
        client_task_id: None,
        source: Source::V1,
        api_key_id: None,
        key_scope: Default::default(),
        domain: None,
        mode: Default::default(),
        groups: Vec::new(),
        verify: false,
        prefetch_after: false,
    }
}

async fn setup(backend: Backend) -> (TestEngine, User) {
    engine_with_developer(backend).await
}

async fn with_quota(t: &TestEngine, user: &User, quota: QuotaOverrides) -> User {
    t.engine
        .set_quota(&Actor::cli(), user.id, quota)
        .await
        .expect("quota set")
}

on_both_stores! {
    #[tokio::test]
    each_target_gets_its_verdict_and_duplicates_are_merged,
    #[tokio::test]
    whole_submissions_are_refused_for_bad_users_and_sizes_and_write_nothing,
    #[tokio::test]
    the_quota_accepts_what_fits_and_refuses_the_rest,
    #[tokio::test]
    a_regex_still_running_is_refused_as_a_repeat,
    #[tokio::test]
    idempotency_keys_and_task_ids_return_the_earlier_submission,
    #[tokio::test]
    callbacks_to_private_addresses_are_refused_unless_allowed,
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fifty_concurrent_submitters_on_two_instances_spend_exactly_the_limit,
    #[tokio::test]
    the_history_text_filter_finds_substrings_short_and_long,
}

async fn each_target_gets_its_verdict_and_duplicates_are_merged(backend: Backend) {
    let (t, user) = setup(backend).await;
    let outcome = t
        .engine
        .submit(
            &user,
            submission(vec![
                (TargetKind::Url, "http://www.example.com/a".into()),
                (TargetKind::Url, " http://www.example.com/a".into()),
                (TargetKind::Url, "http://other.example.org/a".into()),
                (TargetKind::Regex, "http://www.example.com/(unclosed".into()),
                (TargetKind::Prefix, "http://www.example.com/dir/".into()),
            ]),
        )
        .await
        .expect("accepted in part");
    let results: Vec<_> = outcome
        .verdicts
        .iter()
        .map(|v| v.result.clone().map(|_| ()))
        .collect();
    assert_eq!(
        outcome.verdicts.len(),
        4,
        "the duplicate is merged before anything is counted"
    );
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Err(Refusal::NotYourDomain));
    assert!(matches!(results[2], Err(Refusal::Invalid(_))));
    assert_eq!(results[3], Ok(()));
    assert_eq!(
        (
            outcome.quota.used.url,
            outcome.quota.used.prefix,
            outcome.quota.used.regex
        ),
        (1, 1, 0)
    );
    let tasks = t
        .engine
        .batch_tasks(
            outcome.batch_id.expect("batch").as_str(),
            &Some(user.id).into(),
        )
        .await
        .expect("read");
    assert_eq!(tasks.expect("visible to its owner").len(), 2);
}

async fn whole_submissions_are_refused_for_bad_users_and_sizes_and_write_nothing(backend: Backend) {
    let (t, user) = setup(backend).await;
    let many: Vec<_> = (0..501)
        .map(|i| (TargetKind::Url, format!("http://www.example.com/{i}")))
        .collect();
    assert!(matches!(
        t.engine.submit(&user, submission(many)).await,
        Err(SubmitError::TooMany { limit: 500 })
    ));
    assert!(matches!(
        t.engine.submit(&user, submission(vec![])).await,
        Err(SubmitError::Empty)
    ));
    let blank = vec![(TargetKind::Url, "  ".to_owned())];
    let outcome = t
        .engine
        .submit(&user, submission(blank))
        .await
        .expect("a blank line is a verdict");
    assert!(outcome.batch_id.is_none());

    let actor = Actor::cli();
    let update = engine::store::UserUpdate {
        can_purge: Some(false),
        ..Default::default()
    };
    let barred = t
        .engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    let one = vec![(TargetKind::Url, "http://www.example.com/x".to_owned())];
    assert!(matches!(
        t.engine.submit(&barred, submission(one.clone())).await,
        Err(SubmitError::NotAllowed)
    ));
    let update = engine::store::UserUpdate {
        enabled: Some(false),
        can_purge: Some(true),
        ..Default::default()
    };
    let disabled = t
        .engine
        .update_user(&actor, user.id, update, None)
        .await
        .expect("update");
    assert!(matches!(
        t.engine.submit(&disabled, submission(one)).await,
        Err(SubmitError::UserDisabled)
    ));
    assert_eq!(
        t.engine.quota_status(&user).await.expect("quota").used.url,
        0
    );
    assert!(t
        .engine
        .list_tasks(&Default::default())
        .await
        .expect("list")
        .is_empty());
}

async fn the_quota_accepts_what_fits_and_refuses_the_rest(backend: Backend) {
    let (t, user) = setup(backend).await;
    let user = with_quota(
        &t,
        &user,
        QuotaOverrides {
            regex: Some(3),
            ..Default::default()
        },
    )
    .await;
    let first = submit(
        &t.engine,
        &user,
        TargetKind::Regex,
        &["http://www.example.com/a/.*"],
    )
    .await;
    assert_eq!(first.quota.left().regex, 2);
    let regexes: Vec<String> = (0..4)
        .map(|i| format!("http://www.example.com/b{i}/.*"))
        .collect();
    let refs: Vec<&str> = regexes.iter().map(String::as_str).collect();
    let outcome = submit(&t.engine, &user, TargetKind::Regex, &refs).await;
    let refused: Vec<_> = outcome
        .verdicts
        .iter()
        .filter(|v| v.result == Err(Refusal::OverQuota))
        .collect();
    assert_eq!(outcome.accepted().count(), 2);
    assert_eq!(refused.len(), 2);
    assert_eq!(
        refused[0].target, regexes[2],
        "the first ones fit, the last ones are refused"
    );
    assert_eq!(
        (outcome.quota.used_before.regex, outcome.quota.used.regex),
        (1, 3)
    );
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Regex,
        &["http://www.example.com/c/.*"],
    )
    .await;
    assert!(outcome.batch_id.is_none());
    assert_eq!(outcome.verdicts[0].result, Err(Refusal::OverQuota));
}

async fn a_regex_still_running_is_refused_as_a_repeat(backend: Backend) {
    let (t, user) = setup(backend).await;
    let regex = "http://www.example.com/x/.*\\.png";
    submit(&t.engine, &user, TargetKind::Regex, &[regex]).await;
    let outcome = submit(
        &t.engine,
        &user,
        TargetKind::Regex,
        &[regex, "http://www.example.com/y/.*"],
    )
    .await;
    assert_eq!(outcome.verdicts[0].result, Err(Refusal::StillRunning));
    assert!(outcome.verdicts[1].result.is_ok());
    assert_eq!(
        outcome.quota.used.regex, 2,
        "a refused repeat costs no quota"
    );
}

async fn idempotency_keys_and_task_ids_return_the_earlier_submission(backend: Backend) {
    let (t, user) = setup(backend).await;
    let mut request = submission(vec![(TargetKind::Url, "http://www.example.com/i".into())]);
    request.idempotency_key = Some("req-1".into());
    let first = t
        .engine
        .submit(&user, request.clone())
        .await
        .expect("first");
    let again = t.engine.submit(&user, request).await.expect("replay");
    assert!(again.replayed);
    assert_eq!(again.batch_id, first.batch_id);
    assert_eq!(
        t.engine.quota_status(&user).await.expect("quota").used.url,
        1,
        "counted once"
    );

    let mut seed = submission(vec![(TargetKind::Url, "http://www.example.com/t".into())]);
    seed.client_task_id = Some("client-7".into());
    let first = t.engine.submit(&user, seed.clone()).await.expect("first");
    let again = t
        .engine
        .submit(&user, seed.clone())
        .await
        .expect("same uri");
    assert_eq!(again.accepted().next(), first.accepted().next());
    seed.targets = vec![(TargetKind::Url, "http://www.example.com/other".into())];
    assert!(matches!(
        t.engine.submit(&user, seed).await,
        Err(SubmitError::ClientTaskConflict(_))
    ));
}

async fn callbacks_to_private_addresses_are_refused_unless_allowed(backend: Backend) {
    let (t, user) = setup(backend).await;
    let mut request = submission(vec![(TargetKind::Url, "http://www.example.com/c".into())]);
    request.callback_url = Some("http://10.1.2.3/hook".into());
    assert!(matches!(
        t.engine.submit(&user, request.clone()).await,
        Err(SubmitError::Callback(_))
    ));
    request.callback_url = Some("http://169.254.169.254/latest".into());
    assert!(matches!(
        t.engine.submit(&user, request.clone()).await,
        Err(SubmitError::Callback(_))
    ));
    // The test configuration allow-lists 127.0.0.0/8.
    request.callback_url = Some("http://127.0.0.1:9/hook".into());
    assert!(t.engine.submit(&user, request).await.is_ok());
}

async fn fifty_concurrent_submitters_on_two_instances_spend_exactly_the_limit(backend: Backend) {
    let (t, user) = setup(backend).await;
    let user = with_quota(
        &t,
        &user,
        QuotaOverrides {
            url: Some(100),
            ..Default::default()
        },
    )
    .await;
    // A second instance on the same database, as behind a load balancer.
    let second = engine::Engine::open(&t.database_url(), test_config(t.dir.path()))
        .await
        .expect("second instance opens");
    let instances = Arc::new([t.engine.clone(), second]);
    let submitters = (0..50).map(|i| {
        let instances = Arc::clone(&instances);
        let user = user.clone();
        tokio::spawn(async move {
            let targets: Vec<_> = (0..3)
                .map(|j| (TargetKind::Url, format!("http://www.example.com/{i}/{j}")))
                .collect();
            let outcome = instances[i % 2]
                .submit(&user, submission(targets))
                .await
                .expect("no submission fails");
            outcome.accepted().count()
        })
    });
    let mut accepted = 0;
    for submitter in submitters {
        accepted += submitter.await.expect("task");
    }
    assert_eq!(
        accepted, 100,
        "150 asked, exactly the limit of 100 accepted"
    );
    assert_eq!(
        t.engine.quota_status(&user).await.expect("quota").used.url,
        100
    );
    assert_eq!(t.all_tasks().await.len(), 100);
}

async fn the_history_text_filter_finds_substrings_short_and_long(backend: Backend) {
    let (t, user) = setup(backend).await;
    let targets = [
        "http://www.example.com/img/Logo.PNG",
        "http://www.example.com/img/logo-2.png?v=\"1\"",
        "http://www.example.com/css/site.css",
    ];
    submit(&t.engine, &user, TargetKind::Url, &targets).await;
    let find = |text: &str| {
        let filter = engine::store::TaskFilter {
            text: Some(text.to_owned()),
            limit: 10,
            ..Default::default()
        };
        let engine = t.engine.clone();
        async move {
            let mut found: Vec<String> = engine
                .list_tasks(&filter)
                .await
                .expect("list")
                .into_iter()
                .map(|t| t.target)
                .collect();
            found.sort();
            found
        }
    };
    // Three characters or more go through the trigram index, case-insensitively.
    assert_eq!(
        find("logo").await,
        vec![targets[0].to_owned(), targets[1].to_owned()]
    );
    assert_eq!(find("site.css").await, vec![targets[2].to_owned()]);
    assert_eq!(
        find("v=\"1\"").await,
        vec![targets[1].to_owned()],
        "quotes are searched, not parsed"
    );
    assert!(find("nothing-like-this").await.is_empty());
    // Shorter text scans with LIKE; its wildcards are literal.
    assert_eq!(find("-2").await, vec![targets[1].to_owned()]);
    assert!(find("%").await.is_empty());
}
