//! `/api/v1/admin/…`: users, keys, quotas, domains, edge groups and nodes, audit log.
//! Admin users' keys only; every change is audited by the engine.

pub mod audit;
pub mod domains;
pub mod fleet;
pub mod keys;
pub mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Adds the admin routes (and their documentation) to `router`.
pub fn routes(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    router
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::update_user))
        .routes(routes!(users::set_quota))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(domains::list_domains, domains::add_domain))
        .routes(routes!(fleet::list_groups))
        .routes(routes!(fleet::upsert_group))
        .routes(routes!(fleet::import_nodes))
        .routes(routes!(fleet::update_node))
        .routes(routes!(audit::audit))
}
