//! Cache tags, everything on a domain, invalidation and edge groups: what a submission of them
//! is refused for, what its tasks carry, and which nodes they go to.

use std::time::Duration;

use engine::fleet::Protocol;
use engine::submit::{Refusal, Source, Submission, SubmitError};
use engine::target::{PurgeMode, TargetKind};
use engine::tasks::TaskStatus;
use engine::users::{QuotaOverrides, Role, User};
use engine::Actor;

use crate::on_both_stores;
use crate::support::*;

const HOST: &str = "www.example.com";

fn kinds(targets: &[(TargetKind, &str)], domain: Option<&str>) -> Submission {
    let targets = targets
        .iter()
        .map(|(kind, text)| (*kind, (*text).to_owned()))
        .collect();
    Submission {
        domain: domain.map(str::to_owned),
        ..Submission::new(Source::V1, targets)
    }
}

/// A developer of `www.example.com`, served by the groups `east` and `west` of one simulated
/// edge each; the edges are returned in that order.
async fn two_groups(t: &TestEngine) -> (User, SimEdge, SimEdge) {
    let behaviour = EdgeBehaviour {
        status: 200,
        delay: Duration::ZERO,
    };
    let (east, west) = (
        start_sim_edge(behaviour).await,
        start_sim_edge(behaviour).await,
    );
    let actor = Actor::cli();
    let user = t
        .engine
        .create_user(&actor, "dev", Role::Developer, None)
        .await
        .expect("user");
    t.group_with_nodes("east", Protocol::Varnish, &[east.addr])
        .await;
    t.group_with_nodes("west", Protocol::Varnish, &[west.addr])
        .await;
    t.group_with_nodes("elsewhere", Protocol::Varnish, &[refusing_addr()])
        .await;
    t.engine
        .add_domain(
            &actor,
            HOST,
            &["dev".to_owned()],
            &["east".to_owned(), "west".to_owned()],
        )
        .await
        .expect("domain");
    (user, east, west)
}

on_both_stores! {
    #[tokio::test]
    tags_and_everything_are_tasks_of_their_domain_counted_on_their_own_quota,
    #[tokio::test]
    an_unknown_group_refuses_the_whole_request_and_writes_nothing,
    #[tokio::test]
    a_task_of_one_group_asks_only_that_groups_nodes,
    #[tokio::test]
    seed_000s_lookup_ignores_a_tag_named_like_the_url,
}

async fn tags_and_everything_are_tasks_of_their_domain_counted_on_their_own_quota(
    backend: Backend,
) {
    let t = test_engine(backend).await;
    let (user, _, _) = two_groups(&t).await;
    let user = t
        .engine
        .set_quota(
            &Actor::cli(),
            user.id,
            QuotaOverrides {
                everything: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("quota");
    let tag_only = [(TargetKind::Tag, "product-42")];
    assert!(matches!(
        t.engine.submit(&user, kinds(&tag_only, None)).await,
        Err(SubmitError::DomainRequired)
    ));
    assert!(matches!(
        t.engine
            .submit(&user, kinds(&tag_only, Some("other.example.org")))
            .await,
        Err(SubmitError::NotYourDomain(_))
    ));

    let mut submission = kinds(
        &[
            (TargetKind::Tag, "product-42"),
            (TargetKind::Tag, " product-42 "),
            (TargetKind::Tag, "two words"),
            (TargetKind::Everything, "*"),
            (TargetKind::Url, "http://www.example.com/a.png"),
        ],
        Some("WWW.example.com"),
    );
    submission.mode = PurgeMode::Invalidate;
    let outcome = t
        .engine
        .submit(&user, submission)
        .await
        .expect("accepted in part");
    let results: Vec<_> = outcome
        .verdicts
        .iter()
        .map(|v| (v.kind, v.result.clone().map(|_| ())))
        .collect();
    assert_eq!(results.len(), 4, "the repeated tag is merged: {results:?}");
    assert_eq!(results[0], (TargetKind::Tag, Ok(())));
    assert!(matches!(
        results[1],
        (TargetKind::Tag, Err(Refusal::Invalid(_)))
    ));
    assert_eq!(results[2], (TargetKind::Everything, Ok(())));
    assert_eq!(results[3], (TargetKind::Url, Ok(())));
    assert_eq!(
        (
            outcome.quota.used.tag,
            outcome.quota.used.everything,
            outcome.quota.used.url
        ),
        (1, 1, 1)
    );

    let batch = outcome.batch_id.expect("batch");
    let tasks = t
        .engine
        .batch_tasks(batch.as_str(), &Default::default())
        .await
        .expect("read")
        .expect("batch");
    let shown: Vec<_> = tasks
        .iter()
        .map(|task| (task.kind, task.target.as_str(), task.host(), task.mode))
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                TargetKind::Tag,
                "product-42",
                HOST.to_owned(),
                PurgeMode::Invalidate
            ),
            (
                TargetKind::Everything,
                "*",
                HOST.to_owned(),
                PurgeMode::Invalidate
            ),
            (
                TargetKind::Url,
                "http://www.example.com/a.png",
                HOST.to_owned(),
                PurgeMode::Invalidate
            ),
        ]
    );

    // The day's one everything is used; tags are not refused for running (purges are idempotent).
    let again = t
        .engine
        .submit(
            &user,
            kinds(
                &[
                    (TargetKind::Everything, "*"),
                    (TargetKind::Tag, "product-42"),
                ],
                Some(HOST),
            ),
        )
        .await
        .expect("accepted in part");
    assert_eq!(
        again.verdicts[0].result.clone().map(|_| ()),
        Err(Refusal::OverQuota)
    );
    assert!(again.verdicts[1].result.is_ok(), "{:?}", again.verdicts[1]);
}

async fn an_unknown_group_refuses_the_whole_request_and_writes_nothing(backend: Backend) {
    let t = test_engine(backend).await;
    let (user, _, _) = two_groups(&t).await;
    for group in ["nope", "elsewhere"] {
        let mut submission = kinds(&[(TargetKind::Url, "http://www.example.com/a.png")], None);
        submission.groups = vec!["east".to_owned(), group.to_owned()];
        match t.engine.submit(&user, submission).await {
            Err(SubmitError::UnknownGroup {
                group: named,
                domain,
            }) => {
                assert_eq!((named.as_str(), domain.as_str()), (group, HOST));
            }
            other => panic!("{group}: {other:?}"),
        }
    }
    let quota = t.engine.quota_status(&user).await.expect("quota");
    assert_eq!(quota.used.total(), 0, "nothing was counted");
}

async fn a_task_of_one_group_asks_only_that_groups_nodes(backend: Backend) {
    let t = test_engine(backend).await;
    let (user, east, west) = two_groups(&t).await;
    let workers = t.engine.start_workers();
    let mut submission = kinds(&[(TargetKind::Url, "http://www.example.com/a.png")], None);
    submission.groups = vec![" west ".to_owned(), "west".to_owned()];
    let outcome = t.engine.submit(&user, submission).await.expect("accepted");
    let task = outcome.accepted().next().expect("task").clone();
    let report = finished_report(&t.engine, &task).await;
    assert_eq!(report.task.groups, vec!["west".to_owned()]);
    assert_eq!(
        (report.task.status, report.task.total, report.task.success),
        (TaskStatus::Success, 1, 1)
    );
    assert_eq!((east.count(), west.count()), (0, 1));
    // Without groups, the same URL goes to both.
    let report = t
        .purge_and_wait(&user, TargetKind::Url, "http://www.example.com/a.png")
        .await;
    assert_eq!(report.task.total, 2);
    assert_eq!((east.count(), west.count()), (1, 2));
    workers.shutdown().await;
}

async fn seed_000s_lookup_ignores_a_tag_named_like_the_url(backend: Backend) {
    let t = test_engine(backend).await;
    let (user, _, _) = two_groups(&t).await;
    let url = "http://www.example.com/x.png";
    t.engine
        .submit(&user, kinds(&[(TargetKind::Tag, url)], Some(HOST)))
        .await
        .expect("a tag may look like a URL");
    assert_eq!(
        t.engine.latest_url_task(user.id, url).await.expect("read"),
        None
    );
    submit(&t.engine, &user, TargetKind::Url, &[url]).await;
    let found = t
        .engine
        .latest_url_task(user.id, url)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(found.kind, TargetKind::Url);
}

async fn edges_that_cannot_express_a_kind_are_warned_about_and_report_unsupported(
    backend: Backend,
) {
    let t = test_engine(backend).await;
    let nginx = Protocol::Nginx {
        prefix_wildcard: false,
    };
    let user = t
        .developer_with_fleet("dev", HOST, nginx, &[refusing_addr(), refusing_addr()])
        .await;
    let outcome = t
        .engine
        .submit(&user, kinds(&[(TargetKind::Tag, "product-42")], Some(HOST)))
        .await
        .expect("accepted");
    assert_eq!(
        outcome.warnings,
        vec![format!(
            "2 of the 2 edges of {HOST} (nginx) cannot delete a tag target: they will report unsupported"
        )]
    );
    let plain = t
        .engine
        .submit(
            &user,
            kinds(&[(TargetKind::Url, "http://www.example.com/a")], None),
        )
        .await
        .expect("accepted");
    assert!(plain.warnings.is_empty(), "{:?}", plain.warnings);
    let workers = t.engine.start_workers();
    let report = finished_report(&t.engine, outcome.accepted().next().expect("task")).await;
    assert_eq!(
        report.failed_status.get("unsupported").map(Vec::len),
        Some(2)
    );
    workers.shutdown().await;
}

on_both_stores! {
    #[tokio::test]
    edges_that_cannot_express_a_kind_are_warned_about_and_report_unsupported,
}
