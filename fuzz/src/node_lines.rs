//! Fuzzes the node import's CSV lines (`engine::fleet::NodeLine::parse`) on arbitrary text
//! (invalid UTF-8 replaced lossily), both whole and line by line as the import reads it.
//!
//! Besides "nothing panics", it checks:
//! - blank lines and `#` comments, and only they, yield `Ok(None)`;
//! - an accepted node has a non-zero port, and its address is the line's first field;
//! - `ip,port` formatted back parses to the same address and port, enabled; `ip,port,false` to
//!   the same node disabled; `ip,port,<enabled>` to the same node.

use std::net::IpAddr;

use engine::fleet::NodeLine;

/// Checks the properties above on one input (what libFuzzer calls with each generated input).
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_line(&text);
    for line in text.lines() {
        check_line(line);
    }
}

fn check_line(line: &str) {
    let trimmed = line.trim();
    let skipped = trimmed.is_empty() || trimmed.starts_with('#');
    match NodeLine::parse(line) {
        Ok(None) => assert!(skipped, "{line:?} skipped"),
        Err(error) => {
            assert!(!skipped, "blank or comment {line:?} refused: {error}");
            assert!(!error.is_empty(), "{line:?} refused without a reason");
        }
        Ok(Some(node)) => {
            assert!(!skipped, "blank or comment {line:?} accepted");
            assert_ne!(node.port, 0, "{line:?} accepted with port 0");
            let first = trimmed.split(',').next().unwrap_or_default().trim();
            assert_eq!(first.parse::<IpAddr>(), Ok(node.ip), "address of {line:?}");

            let plain = format!("{},{}", node.ip, node.port);
            let enabled = NodeLine {
                enabled: true,
                ..node.clone()
            };
            assert_eq!(
                NodeLine::parse(&plain),
                Ok(Some(enabled)),
                "{plain:?} from {line:?}"
            );
            let disabled = format!("{plain},false");
            let expected = NodeLine {
                enabled: false,
                ..node.clone()
            };
            assert_eq!(
                NodeLine::parse(&disabled),
                Ok(Some(expected)),
                "{disabled:?}"
            );
            let full = format!("{plain},{}", node.enabled);
            assert_eq!(
                NodeLine::parse(&full),
                Ok(Some(node.clone())),
                "{full:?} from {line:?}"
            );
        }
    }
}
