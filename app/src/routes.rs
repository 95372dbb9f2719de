//! The router's pages as lazy routes: each page's code is split out of the main WASM module
//! (`scripts/build.sh` runs `purger-wasm-split`, `tools/wasm-split/`) and fetched when a page first needs it, so the browser
//! downloads the shell and the page it opens, not the whole dashboard.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages::admin::{
    audit::AuditPage, domains::DomainsPage, edges::EdgesPage, users::UsersPage,
};
use crate::pages::{
    batch::BatchPage, keys::KeysPage, login::LoginPage, overview::OverviewPage, purge::PurgePage,
    task::TaskPage, tasks::TasksPage,
};

/// Declares `$route`, the lazy route of the page component `$page`. The pages load their own
/// data, so a route's `data` half is empty and only its view is split out.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                crate::shell::mark_hydrated();
                view! { <$page/> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// `/`: the overview.
    OverviewRoute => OverviewPage
);
lazy_page!(
    /// `/login`: signing in.
    LoginRoute => LoginPage
);
lazy_page!(
    /// `/purge`: a new purge.
    PurgeRoute => PurgePage
);
lazy_page!(
    /// `/tasks`: the task history.
    TasksRoute => TasksPage
);
lazy_page!(
    /// `/tasks/:id`: one task.
    TaskRoute => TaskPage
);
lazy_page!(
    /// `/batches/:id`: one batch.
    BatchRoute => BatchPage
);
lazy_page!(
    /// `/keys`: API keys.
    KeysRoute => KeysPage
);
lazy_page!(
    /// `/admin/users`: users.
    UsersRoute => UsersPage
);
lazy_page!(
    /// `/admin/domains`: domains.
    DomainsRoute => DomainsPage
);
lazy_page!(
    /// `/admin/edges`: the fleet.
    EdgesRoute => EdgesPage
);
lazy_page!(
    /// `/admin/audit`: the audit log.
    AuditRoute => AuditPage
);
