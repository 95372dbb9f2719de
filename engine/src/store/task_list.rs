//! The conditions of a task list, shared by both backends.
//!
//! Only the filters that are present become conditions: the planner then sees exactly the
//! query it has to run and can seek an index on each of them (keyset paging deep in the history
//! included). A generic `(? IS NULL OR column = ?)` form cannot use an index, and made a page
//! deep in a million tasks scan everything newer than it.

use crate::store::TaskFilter;
use crate::time::to_millis;

/// A value bound to one placeholder of the conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    /// An integer column (ids, times in milliseconds, sequence numbers).
    Int(i64),
    /// A text column.
    Text(String),
}

/// `query` with `values` bound to its placeholders, in order.
pub(super) fn bind_values<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    values: Vec<Value>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for value in values {
        query = match value {
            Value::Int(value) => query.bind(value),
            Value::Text(value) => query.bind(value),
        };
    }
    query
}

/// ` AND …` conditions, and the values of their placeholders in order.
#[derive(Debug)]
pub(super) struct Conditions {
    /// Text to append after a `WHERE` clause that already holds one condition.
    pub sql: String,
    /// One value per placeholder, first to last.
    pub values: Vec<Value>,
    first: usize,
    placeholder: fn(usize) -> String,
}

impl Conditions {
    /// The conditions of `filter` (all but its text and limit, which depend on the backend),
    /// written with `placeholder(n)` for the n-th value, counting from `first`.
    pub fn of(filter: &TaskFilter, first: usize, placeholder: fn(usize) -> String) -> Self {
        let mut conditions = Conditions {
            sql: String::new(),
            values: Vec::new(),
            first,
            placeholder,
        };
        if let Some(user) = filter.user_id {
            conditions.push("t.user_id = ", Value::Int(user.0));
        }
        if let Some(status) = filter.status {
            conditions.push("t.status = ", Value::Text(status.as_str().to_owned()));
        }
        if let Some(kind) = filter.kind {
            conditions.push("t.kind = ", Value::Text(kind.as_str().to_owned()));
        }
        if let Some(domain) = filter.domain_id {
            conditions.push("t.domain_id = ", Value::Int(domain));
        }
        if let Some(domains) = &filter.domain_ids {
            conditions.push_in("t.domain_id", domains);
        }
        if let Some(from) = filter.from {
            conditions.push("t.created_at >= ", Value::Int(to_millis(from)));
        }
        if let Some(to) = filter.to {
            conditions.push("t.created_at < ", Value::Int(to_millis(to)));
        }
        if let Some(before) = filter.before_seq {
            conditions.push("t.seq < ", Value::Int(before));
        }
        conditions
    }

    /// Appends ` AND {column} IN (…)` with one placeholder per value (` AND 1 = 0` for none).
    pub fn push_in(&mut self, column: &str, values: &[i64]) {
        if values.is_empty() {
            self.sql.push_str(" AND 1 = 0");
            return;
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(column);
        self.sql.push_str(" IN (");
        for (i, value) in values.iter().enumerate() {
            self.values.push(Value::Int(*value));
            if i > 0 {
                self.sql.push_str(", ");
            }
            let n = self.first + self.values.len() - 1;
            self.sql.push_str(&(self.placeholder)(n));
        }
        self.sql.push(')');
    }

    /// Appends ` AND {column_and_operator}{placeholder}` and its value.
    pub fn push(&mut self, column_and_operator: &str, value: Value) {
        self.values.push(value);
        let n = self.first + self.values.len() - 1;
        self.sql.push_str(" AND ");
        self.sql.push_str(column_and_operator);
        self.sql.push_str(&(self.placeholder)(n));
    }
}

/// The `LIKE` pattern that finds `text` anywhere, with `\` escaping the wildcards.
pub(super) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The page size of `filter`, within what one page may hold.
pub(super) fn page_size(filter: &TaskFilter) -> i64 {
    i64::from(filter.limit.clamp(1, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::TaskStatus;
    use crate::users::UserId;

    fn numbered(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn only_present_filters_become_conditions() {
        let filter = TaskFilter {
            user_id: Some(UserId(7)),
            status: Some(TaskStatus::Created),
            before_seq: Some(900),
            limit: 50,
            ..Default::default()
        };
        let conditions = Conditions::of(&filter, 2, numbered);
        assert_eq!(
            conditions.sql,
            " AND t.user_id = ?2 AND t.status = ?3 AND t.seq < ?4"
        );
        assert_eq!(
            conditions.values,
            vec![
                Value::Int(7),
                Value::Text("created".into()),
                Value::Int(900)
            ]
        );
    }

    #[test]
    fn no_filter_means_no_condition() {
        let conditions = Conditions::of(&TaskFilter::default(), 1, numbered);
        assert!(conditions.sql.is_empty());
        assert!(conditions.values.is_empty());
    }

    #[test]
    fn wildcards_in_searched_text_are_literal() {
        assert_eq!(contains_pattern(r"50%_off\"), r"%50\%\_off\\%");
    }
}
