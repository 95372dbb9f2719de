//! API keys: creation, import, revocation, and authentication on the three APIs.

use super::*;

/// Why an API key was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No such key, or revoked.
    #[error("unknown or revoked API key")]
    UnknownKey,
    /// The key's user is disabled.
    #[error("user disabled")]
    UserDisabled,
    /// Seed 004: unknown or disabled user name.
    #[error("username is invalid")]
    UnknownUser,
    /// Seed 004: no key of the user produces this signature.
    #[error("signature invalid")]
    BadSignature,
}

impl Engine {
    /// Creates a key for `user` that may do everything the user may; the secret is returned
    /// once and never stored in clear.
    pub async fn create_key(
        &self,
        actor: &Actor,
        user: UserId,
        label: &str,
    ) -> Result<(ApiKeyInfo, ApiKeySecret), EngineError> {
        self.create_scoped_key(actor, user, label, KeyScope::default())
            .await
    }

    /// Creates a key for `user` limited by `scope` (checked against the user's domains).
    pub async fn create_scoped_key(
        &self,
        actor: &Actor,
        user: UserId,
        label: &str,
        scope: KeyScope,
    ) -> Result<(ApiKeyInfo, ApiKeySecret), EngineError> {
        let secret = ApiKeySecret::generate();
        let info = self
            .store_key(actor, user, label, &secret, scope, "key.create")
            .await?;
        Ok((info, secret))
    }

    /// Carries an existing key of the old systems over as is.
    pub async fn import_key(
        &self,
        actor: &Actor,
        user: UserId,
        key: &str,
        label: &str,
    ) -> Result<ApiKeyInfo, EngineError> {
        let secret = ApiKeySecret::import(key)?;
        self.store_key(
            actor,
            user,
            label,
            &secret,
            KeyScope::default(),
            "key.import",
        )
        .await
    }

    pub(super) async fn store_key(
        &self,
        actor: &Actor,
        user: UserId,
        label: &str,
        secret: &ApiKeySecret,
        scope: KeyScope,
        action: &str,
    ) -> Result<ApiKeyInfo, EngineError> {
        if label.chars().count() > 100 {
            return Err(EngineError::Invalid(
                "a key label is at most 100 characters".into(),
            ));
        }
        let owner = self
            .user_by_id(user)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {}", user.0)))?;
        let user_domains: Vec<DomainName> = self
            .user_domains(user)
            .await?
            .iter()
            .map(|(_, name)| name.clone())
            .collect();
        let scope = scope.checked(&user_domains).map_err(|error| match error {
            KeyScopeError::NotTheUsersDomain(host) => {
                EngineError::NotFound(format!("domain {host} of {}", owner.username))
            }
            error => EngineError::Invalid(error.to_string()),
        })?;
        let cap = self.inner.config.max_keys_per_user;
        let new_key = NewApiKey {
            user_id: user,
            public_id: generate_public_id(),
            label: label.into(),
            key_hash: secret.lookup_hash(),
            key_sealed: self.inner.master_key.seal(secret),
            created_at: Utc::now(),
            scope,
        };
        let Some(info) = self.inner.store.insert_api_key(&new_key, cap).await? else {
            return Err(EngineError::LimitReached(format!(
                "{} already holds {cap} live API keys (the most is {cap}); revoke one first",
                owner.username
            )));
        };
        self.audit(
            actor,
            action,
            &info.public_id,
            serde_json::json!({ "user": owner.username, "label": label, "scope": info.scope }),
        )
        .await?;
        Ok(info)
    }

    /// A user's keys.
    pub async fn list_keys(&self, user: UserId) -> Result<Vec<ApiKeyInfo>, EngineError> {
        Ok(self.inner.store.list_api_keys(user).await?)
    }

    /// Revokes a key of `user`.
    pub async fn revoke_key(
        &self,
        actor: &Actor,
        user: UserId,
        public_id: &str,
    ) -> Result<(), EngineError> {
        if actor.id == Some(user) && actor.key.as_deref() == Some(public_id) {
            return Err(EngineError::SelfLockout(
                "the key this request is made with cannot revoke itself",
            ));
        }
        if !self
            .inner
            .store
            .revoke_api_key(user, public_id, Utc::now())
            .await?
        {
            return Err(EngineError::NotFound(format!("API key {public_id}")));
        }
        self.account_changed(user).await?;
        self.audit(actor, "key.revoke", public_id, serde_json::json!({}))
            .await
    }

    /// After a change to `user`'s account or keys: forgets what is cached of them here and on
    /// every other instance, and tells this instance's open event streams to re-check.
    pub(super) async fn account_changed(&self, user: UserId) -> Result<(), EngineError> {
        self.inner.accounts.forget_user(user);
        let _ = self.inner.account_changes.send(user);
        Ok(self.inner.store.announce_account_change(user).await?)
    }

    /// The key and its enabled user for a key string (seed 000's `api_key`, v1 bearer tokens).
    pub async fn authenticate_key(
        &self,
        key: &str,
    ) -> Result<Result<(ApiKeyInfo, User), AuthFailure>, EngineError> {
        let hash = lookup_hash(key);
        let cached = self.inner.accounts.get(&hash);
        let found = match cached {
            Some(entry) => Some(entry),
            None => {
                let generation = self.inner.accounts.generation();
                let found = self.inner.store.api_key_by_hash(&hash).await?;
                if let Some(entry) = found.as_ref().filter(|(info, _)| info.revoked_at.is_none()) {
                    self.inner.accounts.insert(&hash, entry.clone(), generation);
                }
                found
            }
        };
        let Some((info, user)) = found else {
            return Ok(Err(AuthFailure::UnknownKey));
        };
        if info.revoked_at.is_some() {
            return Ok(Err(AuthFailure::UnknownKey));
        }
        if !user.enabled {
            return Ok(Err(AuthFailure::UserDisabled));
        }
        self.touch_key(info.id);
        Ok(Ok((info, user)))
    }

    /// Seed 004: the user and the key whose `base64(HMAC-SHA1(key, date))` is `password`.
    pub async fn authenticate_seed004(
        &self,
        username: &str,
        date: &str,
        password: &str,
    ) -> Result<Result<(ApiKeyInfo, User), AuthFailure>, EngineError> {
        let Some(user) = self.inner.store.user_by_name(username).await? else {
            return Ok(Err(AuthFailure::UnknownUser));
        };
        if !user.enabled {
            return Ok(Err(AuthFailure::UnknownUser));
        }
        for (info, sealed) in self.inner.store.sealed_keys_of_user(user.id).await? {
            let secret = self.inner.master_key.open(&sealed)?;
            if secret.verifies_seed004(date, password) {
                self.touch_key(info.id);
                return Ok(Ok((info, user)));
            }
        }
        Ok(Err(AuthFailure::BadSignature))
    }

    pub(super) fn touch_key(&self, key_id: i64) {
        self.inner.key_uses.record(key_id, &self.inner.store);
    }
}
