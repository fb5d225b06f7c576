//! The AwsAccount controller: validates the spec and reports whether its credentials work.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::Api;
use kube::runtime::controller::Action;

use super::context::{Context, ControllerError, Refusal, object_name};
use crate::api::Reason;
use crate::api::validate::validate_account;
use crate::api::{AwsAccount, Kind};
use crate::aws::AccountConfig;
use crate::engine::Mode;
use kube::ResourceExt;

/// Boxed with an explicit `Send`: kube-runtime spawns reconciles onto the runtime.
pub fn reconcile(account: Arc<AwsAccount>, ctx: Arc<Context>) -> BoxFuture<'static, Result<Action, ControllerError>> {
    async move { check(&account, &ctx).await }.boxed()
}

async fn check(account: &Arc<AwsAccount>, ctx: &Context) -> Result<Action, ControllerError> {
    let started = Instant::now();
    let api: Api<AwsAccount> = Api::all(ctx.client.clone());
    let name = object_name(Kind::AwsAccount, account.as_ref());
    let previous = account.status.as_ref();
    let issues = validate_account(account);
    if !issues.is_empty() {
        let message = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return ctx
            .refuse(&api, account.as_ref(), &name, previous, Refusal::new(Reason::InvalidSpec, message, false), started)
            .await;
    }
    let config = AccountConfig::from_spec(&account.name_any(), &account.spec);
    let report = ctx.engine.check_account(&config, account.spec.monitoring.as_ref(), Some(Mode::Apply)).await;
    ctx.finish(&api, account.as_ref(), &name, previous, report, None, started).await
}
