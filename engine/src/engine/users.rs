//! Users: creation, changes, quotas.

use super::*;

impl Engine {
    /// Creates a user, with a dashboard password if given.
    pub async fn create_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<User, EngineError> {
        if !valid_username(username) {
            return Err(EngineError::Invalid(format!(
                "a user name is 1 to {MAX_USERNAME_LEN} letters, digits, '.', '_', '-' or '@'"
            )));
        }
        let password_hash = match password {
            Some(password) => Some(self.checked_password_hash(password).await?),
            None => None,
        };
        let user = self
            .inner
            .store
            .create_user(
                &NewUser {
                    username: username.into(),
                    role,
                    password_hash,
                },
                Utc::now(),
            )
            .await?;
        self.audit(
            actor,
            "user.create",
            username,
            serde_json::json!({ "role": role.as_str() }),
        )
        .await?;
        Ok(user)
    }

    /// A user by name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, EngineError> {
        Ok(self.inner.store.user_by_name(username).await?)
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>, EngineError> {
        Ok(self.inner.store.user_by_id(id).await?)
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>, EngineError> {
        Ok(self.inner.store.list_users().await?)
    }

    /// Changes a user (role, enabled, may purge, time zone, quota); a new password is hashed here.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        mut update: UserUpdate,
        password: Option<&str>,
    ) -> Result<User, EngineError> {
        if let Some(zone) = &update.time_zone {
            Zone::parse(zone).map_err(|e| EngineError::Invalid(e.to_string()))?;
        }
        if actor.id == Some(id) {
            if update.enabled == Some(false) {
                return Err(EngineError::SelfLockout("an admin cannot disable themself"));
            }
            if update.role == Some(Role::Developer) {
                return Err(EngineError::SelfLockout("an admin cannot demote themself"));
            }
        }
        if let Some(password) = password {
            update.password_hash = Some(self.checked_password_hash(password).await?);
        }
        let user = self
            .inner
            .store
            .update_user(id, &update)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {}", id.0)))?;
        let detail = serde_json::json!({
            "role": update.role.map(Role::as_str),
            "enabled": update.enabled,
            "can_purge": update.can_purge,
            "password_changed": password.is_some(),
            "time_zone": update.time_zone,
            "quota": update.quota,
        });
        self.audit(actor, "user.update", &user.username, detail)
            .await?;
        // Cached keys of the user are forgotten everywhere, and open event streams of the user
        // re-check their session (a new password ends the sessions opened with the old one, see
        // `session_user`).
        self.account_changed(user.id).await?;
        Ok(user)
    }

    /// Saves the dashboard language a user chose for themself (`zh-CN`, `en`: a BCP 47 tag the
    /// dashboard knows). A preference of their own, so not audited.
    pub async fn set_locale(&self, id: UserId, locale: &str) -> Result<User, EngineError> {
        let tag_like = !locale.is_empty()
            && locale.len() <= 35
            && locale
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !tag_like {
            return Err(EngineError::Invalid(format!(
                "not a language tag: {locale:?}"
            )));
        }
        let update = UserUpdate {
            locale: Some(locale.to_owned()),
            ..Default::default()
        };
        let user = self
            .inner
            .store
            .update_user(id, &update)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {}", id.0)))?;
        // Cached session users carry the old language.
        self.account_changed(user.id).await?;
        Ok(user)
    }

    /// Sets a user's quota overrides.
    pub async fn set_quota(
        &self,
        actor: &Actor,
        id: UserId,
        quota: QuotaOverrides,
    ) -> Result<User, EngineError> {
        self.update_user(
            actor,
            id,
            UserUpdate {
                quota: Some(quota),
                ..Default::default()
            },
            None,
        )
        .await
    }
}
