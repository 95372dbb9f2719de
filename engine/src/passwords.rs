//! Dashboard passwords, hashed with argon2id.
//!
//! Verification reuses its working memory (19 MiB per check with the default parameters) from a
//! small pool instead of allocating it each time: the allocator would keep such blocks per
//! thread, and a flood of sign-ins would leave the process tens of MiB larger.

use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password (argon2id, random salt, PHC string).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Whether `password` matches the stored PHC hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_password_with(password, hash, &mut Vec::new())
}

/// Whether `password` matches the stored PHC hash, computed in `memory` (grown as needed).
pub fn verify_password_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .is_err()
    {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Working memory for verifications, kept between them: at most as many buffers as checks ever
/// ran at once (the CPU pool bounds that by the number of cores).
#[derive(Debug, Default)]
pub struct VerifierMemory {
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl VerifierMemory {
    /// [`verify_password`] in a buffer of the pool.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        let mut buffer = self
            .buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        let matches = verify_password_with(password, hash, &mut buffer);
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(buffer);
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert_ne!(hash, hash_password("correct horse"));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn pooled_verification_agrees_with_argon2_and_reuses_its_buffer() {
        use argon2::PasswordVerifier;
        let hash = hash_password("correct horse");
        let parsed = PasswordHash::new(&hash).unwrap();
        let memory = VerifierMemory::default();
        for password in ["correct horse", "wrong horse", ""] {
            assert_eq!(
                memory.verify(password, &hash),
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                "{password:?}"
            );
        }
        assert_eq!(memory.buffers.lock().unwrap().len(), 1);
        // Hashes with other parameters (argon2i, fewer blocks) verify as well.
        let params = Params::new(1024, 1, 1, None).unwrap();
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"pw-other", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(memory.verify("pw-other", &other));
        assert!(!memory.verify("pw-else", &other));
    }
}
