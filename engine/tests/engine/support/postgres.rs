//! Throwaway PostgreSQL databases for tests, one per test, dropped afterwards.
//!
//! The server is `PURGER_TEST_POSTGRES_URL` (a database URL whose user may create databases),
//! else `postgres://postgres@127.0.0.1:5432/postgres`. `./scripts/test.sh` sets the variable to a
//! server it found or started. A test that needs PostgreSQL and cannot reach it fails, saying so.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor, PgConnection};

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("PURGER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database, dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates a database with a unique name.
    pub async fn create() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin = admin_url();
        let mut connection = PgConnection::connect(&admin).await.unwrap_or_else(|error| {
            panic!(
                "PostgreSQL is needed by this test and does not answer at {admin}: {error}. \
                 Set PURGER_TEST_POSTGRES_URL, or run ./scripts/test.sh, which starts one."
            )
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let name = format!(
            "purger_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin).expect("PURGER_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            url: url.to_string(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we could block: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut connection) = PgConnection::connect(&admin_url()).await {
                    let _ = connection
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
