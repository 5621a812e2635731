//! The PostgreSQL the tests may use: `PUNCHGUARD_TEST_POSTGRES` names it
//! (`.ci/run` sets it to the machine's server). Each caller gets a fresh
//! schema, dropped when its guard goes; without the variable the
//! PostgreSQL tests say that they are skipped and pass.

use std::sync::atomic::{AtomicU32, Ordering};

use punchguard::store::postgres;

pub const ENV: &str = "PUNCHGUARD_TEST_POSTGRES";

/// A fresh schema in the test database; dropped on drop.
pub struct Schema {
    pub url: String,
    base: String,
    name: String,
}

impl Schema {
    /// `None` (after printing why) when no test database is configured.
    pub async fn fresh(test: &str) -> Option<Schema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(base) = std::env::var(ENV) else {
            // .ci/run points the tests at the machine's server: under CI a
            // PostgreSQL test that would skip is a failure.
            assert!(
                std::env::var("CI").is_err(),
                "CI=true but {ENV} is not set: {test} would check nothing"
            );
            eprintln!("SKIPPED {test}: set {ENV}=postgres://… to run the PostgreSQL tests");
            return None;
        };
        let name = format!(
            "punchguard_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            jiff::Timestamp::now().as_millisecond()
        );
        let url = postgres::create_schema(&base, &name)
            .await
            .unwrap_or_else(|e| panic!("{ENV} is set but its database refused a schema: {e}"));
        Some(Schema { url, base, name })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs inside or outside a runtime; a thread of its own works in both.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test schema");
            runtime.block_on(postgres::drop_schema(&base, &name))
        })
        .join();
    }
}
