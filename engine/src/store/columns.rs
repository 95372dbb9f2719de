//! Typed column access, the same for SQLite and PostgreSQL rows, so that rows are assembled once
//! (`rows.rs`).

use sqlx::Row;

/// Typed column access shared by the SQLite and PostgreSQL rows.
pub(super) trait Columns {
    /// A non-null integer.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable integer.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A non-null text.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable text.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A boolean (an integer 0/1 in SQLite).
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
    /// Nullable bytes.
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    /// Non-null bytes.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
}

macro_rules! impl_columns {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}

impl_columns!(sqlx::sqlite::SqliteRow);
impl_columns!(sqlx::postgres::PgRow);
