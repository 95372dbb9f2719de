//! Seed 004's limits: the quota codes with their window in the caller's zone, a database
//! failure, and a key over its rate.

use engine::users::QuotaOverrides;
use engine::Actor;

use super::{expect, item_id, setup};
use crate::support::*;

#[tokio::test]
async fn quota_codes_show_the_window_in_the_callers_zone() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let actor = Actor::cli();
    let user = app
        .engine
        .user_by_name("alice")
        .await
        .expect("read")
        .expect("alice");
    app.engine
        .set_quota(
            &actor,
            user.id,
            QuotaOverrides {
                regex: Some(3),
                ..Default::default()
            },
        )
        .await
        .expect("quota");
    assert_eq!(caller.post(&["http://www.abc.com/q1/.*"]).await.0, 200);
    assert_eq!(caller.post(&["http://www.abc.com/q2/.*"]).await.0, 200);
    let answer = caller
        .post(&["http://www.abc.com/q3/.*", "http://www.abc.com/q4/.*"])
        .await;
    expect(&answer, 400, "NumberPartlyOutOfLimit", "[alice]: url regular can only purge [1] count this time. Today has purge the number of url regular: [2]");
    item_id(&answer);
    expect(
        &caller.post(&["http://www.abc.com/q5/.*"]).await,
        400,
        "NumberOutOfLimit",
        "the number of url regular out of today limit(3)",
    );

    let day = app.engine.quota_day();
    let window = day.window_in(&engine::time::Zone::parse("GMT+09:00").expect("zone"));
    assert!(
        window.contains("01:00:00GMT+09:00~") && window.ends_with("00:59:59GMT+09:00"),
        "{window}"
    );
    let answer = caller
        .post_with(
            &["http://www.abc.com/q6/.*"],
            &[("X-Time-Zone", "GMT+09:00")],
        )
        .await;
    expect(
        &answer,
        400,
        "NumberOutOfLimit",
        &format!("the number of url regular out of {window} limit(3)"),
    );

    app.engine
        .set_quota(
            &actor,
            user.id,
            QuotaOverrides {
                regex: Some(4),
                ..Default::default()
            },
        )
        .await
        .expect("quota");
    let answer = caller
        .post_with(
            &["http://www.abc.com/q7/.*", "http://www.abc.com/q8/.*"],
            &[("X-Time-Zone", "+09:00")],
        )
        .await;
    expect(
        &answer,
        400,
        "NumberPartlyOutOfLimit",
        &format!("[alice]: url regular can only purge [1] count this time. {window} has purge the number of url regular: [3]."),
    );
}

#[tokio::test]
async fn a_database_failure_is_a_system_exception() {
    let app = spawn_app_with(|c| c.workers = false).await;
    let caller = setup(&app).await;
    let url = format!("sqlite://{}", app.database_path().display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open the database");
    sqlx::query("DROP TABLE quota_usage")
        .execute(&pool)
        .await
        .expect("break the schema");
    expect(
        &caller.post(&["http://www.abc.com/s/.*"]).await,
        500,
        "SystemException",
        "system exception",
    );
}

#[tokio::test]
async fn a_key_over_its_rate_is_rate_limited() {
    let app = spawn_app_with(|c| {
        c.workers = false;
        c.api.rate_limit.per_second = 0.5;
        c.api.rate_limit.burst = 1.0;
    })
    .await;
    let caller = setup(&app).await;
    assert_eq!(caller.post(&["http://www.abc.com/r1/.*"]).await.0, 200);
    expect(
        &caller.post(&["http://www.abc.com/r2/.*"]).await,
        429,
        "RateLimited",
        "rate limit exceeded",
    );
}
