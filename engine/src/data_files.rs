//! The SQLite database file is created readable by its owner only: it holds sealed API keys,
//! password hashes and session hashes. SQLite gives its `-wal` and `-shm` files the database
//! file's permissions, so creating the database file first is enough.

use std::path::Path;

use crate::error::EngineError;

/// Creates the file of a `sqlite://` URL with mode 0600 (and its folder with 0700) when it does
/// not exist yet; an existing file is left as its operator set it. Other URLs: nothing to do.
pub(crate) fn create_private_sqlite_file(database_url: &str) -> Result<(), EngineError> {
    let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = Path::new(path.split('?').next().unwrap_or(path));
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" || path.exists() {
        return Ok(());
    }
    let failed = |error: std::io::Error| {
        EngineError::Config(format!("cannot create {}: {error}", path.display()))
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_folder(folder).map_err(failed)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another process (an instance starting at the same time) created it first.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(failed(error)),
    }
}

fn create_folder(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_new_database_file_is_private_and_an_existing_one_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/purger.db");
        create_private_sqlite_file(&format!("sqlite://{}", path.display())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        create_private_sqlite_file(&format!("sqlite:{}?mode=rwc", path.display())).unwrap();
        assert_eq!(mode(&path), 0o640);
        create_private_sqlite_file("postgres://localhost/x").unwrap();
    }
}
