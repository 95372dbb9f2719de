//! Dashboard sign-in, sessions and passwords.

use super::*;

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignInFailure {
    /// Longer than any user name can be: refused before anything is looked up or counted.
    #[error("user name too long")]
    NameTooLong,
    /// Unknown user, wrong password, or disabled user (not told apart).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failures from this address for this user name recently.
    #[error("too many failed sign-ins; try again in 15 minutes")]
    Throttled,
    /// Too many failures from this address recently, whatever the names.
    #[error("too many failed sign-ins from your address; try again later")]
    AddressThrottled,
    /// Every password check slot is taken: try again in a moment.
    #[error("the server is busy; try again in a moment")]
    Busy,
}

impl Engine {
    /// The user, if `password` is theirs and they are enabled.
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, EngineError> {
        Ok(self
            .verify_password_of(username, password)
            .await?
            .map(|(user, _)| user))
    }

    /// The enabled user and their password hash, if `password` is theirs. The argon2 check runs
    /// on the CPU pool, never on an async worker.
    pub(super) async fn verify_password_of(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<(User, String)>, EngineError> {
        let found = self.inner.store.user_with_password(username).await?;
        let password = password.to_owned();
        let memory = Arc::clone(&self.inner.password_memory);
        let Some((user, Some(hash))) = found else {
            // Spend the same time as a real check, so that timing does not reveal user names.
            self.inner
                .cpu
                .run(move || memory.verify(&password, dummy_hash()))
                .await?;
            return Ok(None);
        };
        let checked = hash.clone();
        let matches = self
            .inner
            .cpu
            .run(move || memory.verify(&password, &checked))
            .await?;
        Ok((matches && user.enabled).then_some((user, hash)))
    }

    /// Hashes a new password on the CPU pool, after checking its length.
    pub(super) async fn checked_password_hash(
        &self,
        password: &str,
    ) -> Result<String, EngineError> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(EngineError::Invalid(format!(
                "a password has at least {MIN_PASSWORD_LEN} characters"
            )));
        }
        let password = password.to_owned();
        Ok(self.inner.cpu.run(move || hash_password(&password)).await?)
    }

    /// Signs a user in from `client`: a session token for the cookie, or why not.
    ///
    /// Guesses are counted per (client, name) and per client before the password is checked,
    /// so that concurrent guesses cannot pass the limit together (see [`crate::sessions`]).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: std::net::IpAddr,
    ) -> Result<Result<(User, String), SignInFailure>, EngineError> {
        if username.len() > MAX_USERNAME_LEN {
            return Ok(Err(SignInFailure::NameTooLong));
        }
        let attempt = match self.inner.login_throttle.begin(client, username) {
            Ok(attempt) => attempt,
            Err(crate::sessions::Throttled::Pair) => return Ok(Err(SignInFailure::Throttled)),
            Err(crate::sessions::Throttled::Address) => {
                return Ok(Err(SignInFailure::AddressThrottled))
            }
        };
        let (user, hash) = match self.verify_password_of(username, password).await {
            Ok(Some(found)) => found,
            Ok(None) => {
                attempt.failed();
                return Ok(Err(SignInFailure::BadCredentials));
            }
            Err(EngineError::Busy(_)) => return Ok(Err(SignInFailure::Busy)),
            Err(error) => return Err(error),
        };
        attempt.succeeded();
        let token = self.open_session(user.id, &hash).await?;
        Ok(Ok((user, token)))
    }

    pub(super) async fn open_session(
        &self,
        user: UserId,
        password_hash: &str,
    ) -> Result<String, EngineError> {
        let token = crate::sessions::new_token(&crate::sessions::password_stamp(password_hash));
        let now = Utc::now();
        let expires =
            now + chrono::Duration::hours(i64::from(self.inner.config.session_hours.max(1)));
        self.inner
            .store
            .create_session(&lookup_hash(&token), user, now, expires)
            .await?;
        Ok(token)
    }

    /// The enabled user of a session token, while their password is the one it was opened with.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, EngineError> {
        let Some(stamp) = crate::sessions::token_stamp(token) else {
            return Ok(None);
        };
        let Some(user) = self
            .inner
            .store
            .session_user(&lookup_hash(token), Utc::now())
            .await?
        else {
            return Ok(None);
        };
        let current = self.inner.store.user_with_password(&user.username).await?;
        let Some((user, Some(hash))) = current else {
            return Ok(None);
        };
        if crate::sessions::password_stamp(&hash) != stamp {
            self.inner.store.delete_session(&lookup_hash(token)).await?;
            return Ok(None);
        }
        Ok(user.enabled.then_some(user))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        let hash = lookup_hash(token);
        let user = self.inner.store.session_user(&hash, Utc::now()).await?;
        self.inner.store.delete_session(&hash).await?;
        if let Some(user) = user {
            let _ = self.inner.account_changes.send(user.id);
        }
        Ok(())
    }

    /// Changes the password of the session's user: every other session of theirs ends, and this
    /// one goes on under the new token returned (`None` when `current` is wrong). Wrong current
    /// passwords count against `client` as failed sign-ins do.
    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new_password: &str,
        client: std::net::IpAddr,
    ) -> Result<Option<String>, EngineError> {
        let Some(user) = self.session_user(token).await? else {
            return Ok(None);
        };
        let Ok(attempt) = self.inner.login_throttle.begin(client, &user.username) else {
            return Err(EngineError::Invalid(SignInFailure::Throttled.to_string()));
        };
        if self
            .verify_password_of(&user.username, current)
            .await?
            .is_none()
        {
            attempt.failed();
            return Ok(None);
        }
        attempt.succeeded();
        self.update_user(
            &Actor::user(&user),
            user.id,
            UserUpdate::default(),
            Some(new_password),
        )
        .await?;
        self.inner.store.delete_session(&lookup_hash(token)).await?;
        let Some((_, Some(hash))) = self.inner.store.user_with_password(&user.username).await?
        else {
            return Err(EngineError::NotFound(format!("user {}", user.username)));
        };
        Ok(Some(self.open_session(user.id, &hash).await?))
    }

    /// Users whose sessions, role or enabled flag changed on this instance, as they change.
    pub fn account_changes(&self) -> broadcast::Receiver<UserId> {
        self.inner.account_changes.subscribe()
    }
}

/// A hash of a random password: verifying against it costs what a real check costs.
pub(super) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&format!("{:x}", rand::random::<u128>())))
}
