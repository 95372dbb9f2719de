//! The client's progress display: a bar redrawn in place on a terminal, a plain line per change
//! otherwise (CI logs).

use std::io::Write;

use serde_json::Value;

/// Where the batch stands, shown on standard error.
pub struct Progress {
    terminal: bool,
    last: Option<(u64, u64, u64)>,
}

impl Progress {
    /// A display for a terminal (a bar) or a log (lines).
    pub fn new(terminal: bool) -> Self {
        Self {
            terminal,
            last: None,
        }
    }

    /// Shows the counts of `tasks` (the v1 task views) when they changed.
    pub fn show(&mut self, tasks: &[Value]) {
        let sum = |field: &str| -> u64 { tasks.iter().filter_map(|t| t[field].as_u64()).sum() };
        let counts = (sum("total"), sum("success"), sum("failed"));
        if self.last == Some(counts) {
            return;
        }
        self.last = Some(counts);
        let (total, success, failed) = counts;
        let line = format!("{success} of {total} edges confirmed, {failed} failed");
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{} {line}\x1b[K", bar(success + failed, total))
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&mut self) {
        if self.terminal && self.last.is_some() {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}

/// `[#####     ]` for `done` of `total`.
fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        " ".repeat((WIDTH - filled) as usize)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_what_is_done() {
        assert_eq!(bar(0, 10), format!("[{}]", " ".repeat(30)));
        assert_eq!(
            bar(5, 10),
            format!("[{}{}]", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(bar(12, 10), format!("[{}]", "#".repeat(30)));
        assert_eq!(bar(3, 0), format!("[{}]", " ".repeat(30)));
    }
}
