//! API keys: generation, lookup hashes, encryption at rest and the seed-004 HMAC signature.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// Errors of key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key file or setting is unusable.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A stored key could not be decrypted (wrong master key, or a damaged row).
    #[error("a stored API key cannot be decrypted with this master key")]
    Unseal,
    /// An imported key is not acceptable.
    #[error("an API key must be 8 to 256 printable ASCII characters without spaces")]
    InvalidKey,
}

/// An API key's secret string: what a client sends. Never printed by `Debug`.
#[derive(Clone)]
pub struct ApiKeySecret(SecretString);

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret([redacted])")
    }
}

impl ApiKeySecret {
    /// A new random key: 32 random bytes, base64url without padding (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Takes an existing key of the old systems as is.
    pub fn import(text: &str) -> Result<Self, KeyError> {
        let valid = (8..=256).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(KeyError::InvalidKey);
        }
        Ok(Self(SecretString::from(text.to_owned())))
    }

    /// The key string, for showing once or signing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The lookup hash stored in the database.
    pub fn lookup_hash(&self) -> Vec<u8> {
        lookup_hash(self.expose())
    }

    /// Whether `password` is `base64(HMAC-SHA1(key, date))`, compared in constant time.
    pub fn verifies_seed004(&self, date: &str, password: &str) -> bool {
        let Ok(signature) = STANDARD.decode(password.trim()) else {
            return false;
        };
        let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(self.expose().as_bytes())
        else {
            return false;
        };
        mac.update(date.as_bytes());
        mac.verify_slice(&signature).is_ok()
    }

    /// `sha256=<hex HMAC-SHA256(key, body)>`, the callback signature header value.
    pub fn sign_callback(&self, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// The lookup hash of a key string as a client sent it.
pub fn lookup_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A short public id for lists and logs, such as `key_3f9a0c12d4`.
pub fn generate_public_id() -> String {
    let mut bytes = [0u8; 5];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("key_{}", hex::encode(bytes))
}

/// The server's master key: encrypts API keys at rest (ChaCha20-Poly1305).
pub struct MasterKey(SecretBox<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Decodes a base64 master key of 32 bytes (from config or the environment).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::MasterKey("not valid base64".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::MasterKey("must be 32 bytes".into()))?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a new random key.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text)
                .map_err(|e| KeyError::MasterKey(format!("{}: {e}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                write_private_file(path, STANDARD.encode(bytes).as_bytes())
                    .map_err(|e| KeyError::MasterKey(format!("{}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "generated a new master key");
                Ok(Self(SecretBox::new(Box::new(bytes))))
            }
            Err(error) => Err(KeyError::MasterKey(format!("{}: {error}", path.display()))),
        }
    }

    /// A public fingerprint of the key (HMAC of a fixed text), to tell two keys apart without
    /// revealing either.
    pub fn fingerprint(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes keys of any length");
        mac.update(b"purger master key fingerprint");
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Encrypts a key: a random 12-byte nonce followed by the ciphertext.
    pub fn seal(&self, key: &ApiKeySecret) -> Vec<u8> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.0.expose_secret()));
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), key.expose().as_bytes())
            .expect("encryption of a short message cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`MasterKey::seal`] produced.
    pub fn open(&self, sealed: &[u8]) -> Result<ApiKeySecret, KeyError> {
        if sealed.len() < 12 {
            return Err(KeyError::Unseal);
        }
        let cipher = ChaCha20Poly1305::new(Key::from_slice(self.0.expose_secret()));
        let (nonce, ciphertext) = sealed.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| KeyError::Unseal)?;
        let text = String::from_utf8(plain).map_err(|_| KeyError::Unseal)?;
        Ok(ApiKeySecret(SecretString::from(text)))
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_look_like_the_seed_key() {
        let key = ApiKeySecret::generate();
        assert_eq!(
            key.expose().len(),
            "BsZzuSHlwCl8jCupocGDHOpg8kXFGk73NR1GLU9OnKw".len()
        );
        assert_ne!(key.expose(), ApiKeySecret::generate().expose());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKeySecret::import("BsZzuSHlwCl8jCupocGDHOpg8kXFGk73NR1GLU9OnKw").unwrap();
        assert!(!format!("{key:?}").contains("BsZz"));
    }

    #[test]
    fn import_refuses_unusable_strings() {
        assert!(ApiKeySecret::import("short").is_err());
        assert!(ApiKeySecret::import(&"k".repeat(257)).is_err());
        assert!(ApiKeySecret::import("has a space in the middle of it").is_err());
        assert!(ApiKeySecret::import("apiKey_exmaple_long_enough").is_ok());
    }

    #[test]
    fn seal_and_open_round_trip_and_detect_tampering() {
        let master = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let key = ApiKeySecret::generate();
        let mut sealed = master.seal(&key);
        assert!(!sealed
            .windows(8)
            .any(|w| key.expose().as_bytes().windows(8).any(|k| k == w)));
        assert_eq!(master.open(&sealed).unwrap().expose(), key.expose());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(master.open(&sealed).is_err());
        let other = MasterKey::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&master.seal(&key)).is_err());
    }

    #[test]
    fn the_seed004_signature_matches_openssl() {
        // echo -en "Thu, 17 Oct 2018 01:02:03 GMT" | openssl dgst -sha1 -hmac apiKey_exmaple -binary | openssl enc -base64
        let key = ApiKeySecret::import("apiKey_exmaple").unwrap();
        let date = "Thu, 17 Oct 2018 01:02:03 GMT";
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(b"apiKey_exmaple").unwrap();
        mac.update(date.as_bytes());
        let password = STANDARD.encode(mac.finalize().into_bytes());
        assert!(key.verifies_seed004(date, &password));
        assert!(!key.verifies_seed004("Thu, 17 Oct 2018 01:02:04 GMT", &password));
        assert!(!key.verifies_seed004(date, "not base64!"));
    }

    #[test]
    fn the_master_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let key = ApiKeySecret::generate();
        let sealed = first.seal(&key);
        let second = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(second.open(&sealed).unwrap().expose(), key.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
