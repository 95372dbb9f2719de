//! Domains and who may purge them.

use super::*;

impl Engine {
    /// Creates a domain (or extends it) with users who may purge it and groups that serve it.
    pub async fn add_domain(
        &self,
        actor: &Actor,
        host: &str,
        users: &[String],
        groups: &[String],
    ) -> Result<DomainInfo, EngineError> {
        let host = DomainName::parse(host).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut user_ids = Vec::new();
        for name in users {
            let user = self
                .user_by_name(name)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("user {name}")))?;
            user_ids.push(user.id);
        }
        let mut group_ids = Vec::new();
        for name in groups {
            let group = self
                .inner
                .store
                .group_by_name(name)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("edge group {name}")))?;
            group_ids.push(group.id);
        }
        let id = self.inner.store.upsert_domain(&host, Utc::now()).await?;
        for user in user_ids {
            self.inner.store.assign_domain_user(id, user).await?;
            self.account_changed(user).await?;
        }
        for group in group_ids {
            self.inner.store.assign_domain_group(id, group).await?;
        }
        self.audit(
            actor,
            "domain.update",
            host.as_str(),
            serde_json::json!({ "users": users, "groups": groups }),
        )
        .await?;
        self.inner
            .store
            .domain_by_host(host.as_str())
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("domain {host}")))
    }

    /// Takes users or groups off a domain.
    pub async fn remove_from_domain(
        &self,
        actor: &Actor,
        host: &str,
        users: &[String],
        groups: &[String],
    ) -> Result<(), EngineError> {
        let domain = self
            .inner
            .store
            .domain_by_host(&host.trim().to_ascii_lowercase())
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("domain {host}")))?;
        for name in users {
            if let Some(user) = self.user_by_name(name).await? {
                self.inner
                    .store
                    .unassign_domain_user(domain.id, user.id)
                    .await?;
                self.account_changed(user.id).await?;
            }
        }
        for name in groups {
            if let Some(group) = self.inner.store.group_by_name(name).await? {
                self.inner
                    .store
                    .unassign_domain_group(domain.id, group.id)
                    .await?;
            }
        }
        self.audit(
            actor,
            "domain.unassign",
            host,
            serde_json::json!({ "users": users, "groups": groups }),
        )
        .await
    }

    /// Every domain with its assignments.
    pub async fn list_domains(&self) -> Result<Vec<DomainInfo>, EngineError> {
        Ok(self.inner.store.list_domains().await?)
    }

    /// The `domain_id` of a task filter on the domain `host` (trimmed, any case): `None`
    /// without a host; an unknown host gets an id no domain has, so that it matches nothing
    /// rather than everything.
    pub async fn domain_filter(&self, host: Option<&str>) -> Result<Option<i64>, EngineError> {
        let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(None);
        };
        let host = host.to_ascii_lowercase();
        let found = self.inner.store.domain_by_host(&host).await?;
        Ok(Some(found.map(|domain| domain.id).unwrap_or(-1)))
    }

    /// The domains a user may purge.
    pub async fn domains_of_user(&self, user: UserId) -> Result<Vec<DomainName>, EngineError> {
        Ok(self
            .user_domains(user)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    /// The domains of `user` with their ids, from the account cache when it has them.
    pub(super) async fn user_domains(
        &self,
        user: UserId,
    ) -> Result<crate::account_cache::UserDomains, crate::store::StoreError> {
        if let Some(domains) = self.inner.accounts.domains(user) {
            return Ok(domains);
        }
        let generation = self.inner.accounts.generation();
        let domains = self.inner.store.domains_of_user(user).await?;
        self.inner
            .accounts
            .insert_domains(user, domains.clone(), generation);
        Ok(domains)
    }
}
